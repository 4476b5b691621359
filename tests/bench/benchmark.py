"""Speed of indexing and search, for the starter docs and a generated corpus of 10,000 articles.

    python tests/bench/benchmark.py [--articles 10000] [--queries 1000] [--http-seconds 10] [--nodes-seconds 10]

Reports full index build time, incremental reindex of one changed article, and search latency
p50/p99 in-process for two query streams (distinct queries, every one a cache miss; and a
realistic help-center stream where a few hundred popular queries make up most of the traffic, Zipf),
plus searches/s through HTTP on the production server (`kb serve`, waitress) with event logging on,
and the same with one node vs two nodes on this machine (tests/bench/nodes.py).
Prints the figures and writes them to tests/bench/results/benchmark.txt.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from indexer.articles import load_articles  # noqa: E402
from indexer.build import build_full, current_index_dir, update_incremental  # noqa: E402
from indexer.dense import fill_vectors  # noqa: E402
from indexer.query import open_index  # noqa: E402
from indexer.semantic import model_state  # noqa: E402
from indexer.vectors import VectorStore  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "benchmark.txt"
SEED = 20261122


def generate_corpus(target: Path, n: int, seed: int = SEED) -> None:
    """n plausible articles made by recombining the starter docs' sentences under new titles."""
    rng = random.Random(seed)
    articles = load_articles(ROOT / "docs")
    sentences = [s for a in articles for s in re.split(r"(?<=[。！？.!?])\s*|\n", a.body) if len(s) > 8]
    titles = [a.title for a in articles]
    modules = sorted({a.module for a in articles})
    tags = sorted({t for a in articles for t in a.tags})
    for i in range(n):
        module = rng.choice(modules)
        folder = target / module / f"g{i // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        title = f"{rng.choice(titles)}（{rng.choice(['案例', '进阶', '说明', 'FAQ', '排查'])} {i}）"
        body = []
        for h in ("适用场景", "操作步骤", "常见误区", "示例"):
            body.append(f"## {h}\n\n" + "".join(rng.sample(sentences, 4)))
        meta = {"title": title, "summary": rng.choice(sentences)[:60], "tags": rng.sample(tags, 3),
                "module": module, "owner": "基准", "reviewed": "2026-10-01", "review_every": 180}
        text = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n\n# " + title + "\n\n" + "\n\n".join(body)
        (folder / f"article-{i}.md").write_text(text, encoding="utf-8")


def query_streams(n: int, seed: int = SEED) -> tuple[list[str], list[str]]:
    """(distinct queries, Zipf stream over ~300 popular queries), both mixed Chinese/English."""
    rng = random.Random(seed)
    base = []
    for name in ("relevance.yml", "relevance_holdout.yml"):
        base += [c["query"] for c in yaml.safe_load((ROOT / "tests" / "data" / name).read_text(encoding="utf-8"))]
    words = sorted({w for q in base for w in re.findall(r"[A-Za-z]+|[\u4e00-\u9fff]{2,4}", q)})
    distinct, seen = [], set()
    while len(distinct) < n:
        q = rng.choice(base) if len(distinct) < len(base) and rng.random() < 0.5 else \
            " ".join(rng.sample(words, rng.choice([1, 2, 2, 3])))
        if q not in seen:
            seen.add(q)
            distinct.append(q)
    popular = distinct[:300]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(popular))]
    zipf = rng.choices(popular, weights=weights, k=n)
    return distinct, zipf


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure_search(data: Path, queries: list[str], work: Path) -> dict:
    """In-process latency of search plus logging it, as the API does (logging is queued, not awaited)."""
    from analytics.events import EventLog, new_query_id

    ix = open_index(data)
    from kbserver.db import open_db

    url = f"sqlite:///{work}/bench-events-{time.perf_counter_ns()}.db"
    open_db(url).conn.close()
    events = EventLog(url)
    ix.warm()  # open the searcher and load the vectors once, as a running server has
    times = []
    for q in queries:
        t = time.perf_counter()
        result = ix.search(q, limit=10)
        events.log_search(query_id=new_query_id(), query=q, normalized=result["normalized"], results=result["total"],
                          top_slugs=[r["slug"] for r in result["results"]], took_ms=result["took_ms"])
        times.append((time.perf_counter() - t) * 1000)
    events.close()
    dense = ix.snapshots.current().dense
    memory = 0
    if dense is not None:
        state = dense._state
        memory = state.passages.nbytes + state.articles.nbytes + state.titles.nbytes
    return {"p50": percentile(times, 50), "p99": percentile(times, 99), "mean": statistics.fmean(times),
            "vector_mb": memory / 2**20, "semantic": ix.semantic_status()}


def measure_embedding(data: Path) -> dict:
    """Embedding every passage from scratch: total seconds, and seconds until the first 1,000 articles had vectors."""
    encoder = model_state("use").get()
    started = time.perf_counter()
    first_thousand = []

    def progress(done, total):
        if done >= 1000 and not first_thousand:
            first_thousand.append(time.perf_counter() - started)

    report = fill_vectors(current_index_dir(data), VectorStore(data), encoder, progress=progress)
    return {"seconds": report.seconds, "articles": report.articles, "passages": report.passages,
            "first_1000": first_thousand[0] if first_thousand else None}


def measure_reuse(docs: Path, data: Path) -> float:
    """A full rebuild of unchanged docs, vectors included (all reused)."""
    t = time.perf_counter()
    build_full(docs, data)
    report = fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    assert report.articles == 0, report.summary()
    return time.perf_counter() - t


def measure_incremental(docs: Path, data: Path) -> float:
    victim = sorted(docs.rglob("*.md"))[len(list(docs.rglob("*.md"))) // 2]
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\n补充说明：基准测试修改。\n", encoding="utf-8")
    t = time.perf_counter()
    report = update_incremental(docs, data)
    assert len(report.changed) == 1, report.summary()
    filled = fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    assert filled.articles == 1, filled.summary()
    return time.perf_counter() - t


SERVER = """
import sys
from kbserver import create_app
from kbserver.server import serve
serve(create_app({"docs": sys.argv[1], "data": sys.argv[2]}), "127.0.0.1", int(sys.argv[3]), threads=8)
"""


def measure_http(docs: Path, data: Path, queries: list[str], seconds: float, clients: int = 8) -> dict:
    """Searches/s through the production server (waitress) with event logging on; no site build needed."""
    import requests

    from conftest import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(docs), str(data), str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(url + "/api/search", params={"q": "预热"}, timeout=30)
            break
        except requests.RequestException:
            time.sleep(0.1)
    done, errors, latencies = [], [], []
    stop = time.monotonic() + seconds

    def client(k):
        rng = random.Random(k)
        with requests.Session() as http:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = http.get(url + "/api/search", params={"q": rng.choice(queries)})
                latencies.append((time.perf_counter() - t) * 1000)
                (done if r.ok else errors).append(1)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    server.terminate()
    server.wait(timeout=30)
    return {"rps": len(done) / elapsed, "errors": len(errors), "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99)}


def run_corpus(label: str, docs: Path, work: Path, args, lines: list[str]) -> None:
    data = work / f"data-{label}"
    t = time.perf_counter()
    report = build_full(docs, data)
    build_s = time.perf_counter() - t
    lines.append(f"[{label}] articles {len(report.added)}")
    lines.append(f"[{label}] full index build        {build_s:8.2f} s")
    e = measure_embedding(data)
    lines.append(f"[{label}] embed from scratch      {e['seconds']:8.1f} s  ({e['articles']} articles, {e['passages']} passages"
                 + (f"; first 1,000 articles {e['first_1000']:.1f} s" if e["first_1000"] else "") + ")")
    lines.append(f"[{label}] rebuild, unchanged docs, vectors reused {measure_reuse(docs, data):8.2f} s")
    lines.append(f"[{label}] incremental, 1 article, with its vectors  {measure_incremental(docs, data):8.2f} s")
    distinct, zipf = query_streams(args.queries)
    d = measure_search(data, distinct, work)
    z = measure_search(data, zipf, work)
    lines.append(f"[{label}] in-process distinct, logging on     p50 {d['p50']:6.2f} ms  p99 {d['p99']:6.2f} ms")
    lines.append(f"[{label}] in-process Zipf stream, logging on  p50 {z['p50']:6.2f} ms  p99 {z['p99']:6.2f} ms")
    lines.append(f"[{label}] vectors in memory {d['vector_mb']:.1f} MB; semantic {d['semantic']}")
    if args.http_seconds:
        for name, stream in (("Zipf", zipf), ("distinct", distinct)):
            h = measure_http(docs, data, stream, args.http_seconds)
            lines.append(f"[{label}] HTTP {name:<8} (waitress, logging on, 8 clients) {h['rps']:6.0f} searches/s  "
                         f"p50 {h['p50']:6.2f} ms  p99 {h['p99']:6.2f} ms  errors {h['errors']}")
    print("\n".join(lines[-11:]), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--nodes-seconds", type=float, default=10.0,
                        help="search throughput with one node vs two nodes on this machine (tests/bench/nodes.py); 0: skip")
    args = parser.parse_args(argv)
    lines = [f"kb benchmark  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  python={sys.version.split()[0]}"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        starter = work / "starter-docs"
        subprocess.run(["cp", "-r", str(ROOT / "docs"), str(starter)], check=True)
        run_corpus("starter", starter, work, args, lines)
        if args.articles:
            generated = work / "generated-docs"
            t = time.perf_counter()
            generate_corpus(generated, args.articles)
            print(f"generated {args.articles} articles in {time.perf_counter() - t:.1f}s", flush=True)
            run_corpus(f"{args.articles}", generated, work, args, lines)
        if args.nodes_seconds:
            from nodes import measure_nodes

            lines += [f"[nodes] {line}" for line in measure_nodes(starter, work, args.nodes_seconds)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
