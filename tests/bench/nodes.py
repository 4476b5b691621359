"""Search throughput with one node and with two nodes on this machine (one shared SQLite event database).

    python tests/bench/nodes.py [--seconds 10] [--rounds 3] [--clients 8] [--articles 0] [--edits 5]

Each node is the production server (waitress, 8 threads, event logging on) over its own data folder (a copy
of one built index with its vectors); the clients spread their searches round-robin over the nodes, as a
reverse proxy would. One node and two alternate for a few rounds (both stay up) and the medians are
reported, so a change in the machine's load shifts both figures alike. Two query streams: distinct
queries (every one a cache miss) and a Zipf stream over a few hundred popular queries. Then: how long an
edit saved on node 1 takes to be found by search on node 2 and shown on node 2's site (the change feed,
polled every second). Writes tests/bench/results/nodes.txt; tests/bench/benchmark.py calls
measure_nodes() too.

On one machine the nodes share its cores (and the clients run on them too): a second node helps only when
one node leaves cores idle (waiting on I/O or the GIL). The figure that scales is nodes on separate machines.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from benchmark import SEED, generate_corpus, percentile, query_streams  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "nodes.txt"

SERVER = """
import sys
from kbserver import create_app
from kbserver.server import serve
app = create_app({"docs": sys.argv[1], "data": sys.argv[2], "database_url": sys.argv[4]})
app.extensions["kb_follower"].start(0)
serve(app, "127.0.0.1", int(sys.argv[3]), threads=8)
"""


def _start(docs: Path, data: Path, database_url: str) -> tuple[subprocess.Popen, str]:
    import requests

    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(docs), str(data), str(port), database_url], cwd=ROOT,
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(url + "/api/search", params={"q": "预热"}, timeout=30)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("node did not start")


def _load(urls: list[str], queries: list[str], seconds: float, clients: int) -> dict:
    import requests

    done, errors, latencies = [], [], []
    stop = time.monotonic() + seconds

    def client(k):
        rng = random.Random(k)
        sessions = [requests.Session() for _ in urls]
        n = k
        while time.monotonic() < stop:
            n += 1
            i = n % len(urls)  # round-robin, as an upstream block does
            t = time.perf_counter()
            r = sessions[i].get(urls[i] + "/api/search", params={"q": rng.choice(queries)})
            latencies.append((time.perf_counter() - t) * 1000)
            (done if r.ok else errors).append(1)
        for s in sessions:
            s.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"rps": len(done) / elapsed, "errors": len(errors), "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99)}


def measure_propagation(docs: Path, work: Path, edits: int = 5) -> list[str]:
    """Seconds from an edit's answer on node 1 until node 2's search finds it, and until node 2's page shows it."""
    import requests

    from analytics import accounts
    from indexer.site import build_site
    from kbserver.db import open_db

    database_url = f"sqlite:///{work}/nodes-propagation.db"
    db = open_db(database_url)
    _, _, token = accounts.create_user(db, "bench", "manager")
    db.conn.close()
    auth = {"Authorization": f"Bearer {token}"}
    for i in (1, 2):
        build_site(docs, work / f"node-data-{i}", None, on_problem=None, workers=1)
    started = [_start(docs, work / f"node-data-{i}", database_url) for i in (1, 2)]
    (_, one), (_, two) = started
    slug = sorted(p.relative_to(docs).with_suffix("").as_posix() for p in docs.rglob("*.md")
                  if p.name not in ("index.md", "README.md"))[0]
    to_search, to_page = [], []
    try:
        for n in range(edits):
            word = f"nodebench{n}x{int(time.time())}"
            article = requests.get(one + "/api/edit/article", params={"slug": slug}, headers=auth, timeout=30).json()
            r = requests.post(one + "/api/edit/save", headers=auth, timeout=60, json={
                "slug": slug, "fields": article["fields"], "base_hash": article["hash"],
                "body": article["body"] + f"\n\n{word}\n"})
            r.raise_for_status()
            saved = time.perf_counter()
            found = shown = None
            while time.perf_counter() - saved < 60 and shown is None:
                if found is None:
                    hits = requests.get(two + "/api/search", params={"q": word}, timeout=30).json()["results"]
                    if any(h["slug"] == slug for h in hits):
                        found = time.perf_counter() - saved
                if found is not None and word in requests.get(f"{two}/{slug}/", timeout=30).text:
                    shown = time.perf_counter() - saved
                time.sleep(0.02)
            to_search.append(found if found is not None else float("inf"))
            to_page.append(shown if shown is not None else float("inf"))
    finally:
        for proc, _ in started:
            proc.terminate()
            proc.wait(timeout=30)
    return [f"edit on node 1 → found by search on node 2: median {statistics.median(to_search):.2f} s, "
            f"max {max(to_search):.2f} s ({edits} edits, --change-poll 1)",
            f"edit on node 1 → page live on node 2:       median {statistics.median(to_page):.2f} s, "
            f"max {max(to_page):.2f} s"]


def measure_nodes(docs: Path, work: Path, seconds: float = 10.0, clients: int = 8, queries: int = 1000,
                  rounds: int = 3) -> list[str]:
    """Lines of req/s, p50, p99 for 1 and 2 nodes, distinct and Zipf streams: the median of `rounds` rounds,
    alternating one node and two (both nodes stay up: the load drifts less between the two figures)."""
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    base = work / "node-data-1"
    build_full(docs, base)
    encoder = model_state("use").get()
    if encoder is not None:
        fill_vectors(current_index_dir(base), VectorStore(base), encoder)
    shutil.copytree(base, work / "node-data-2")
    database_url = f"sqlite:///{work}/nodes-throughput.db"
    started = [_start(docs, work / f"node-data-{i}", database_url) for i in (1, 2)]
    urls = [url for _, url in started]
    runs: dict[tuple[int, str], list[dict]] = {}
    try:
        for n in range(rounds):
            for count in (1, 2):
                # new queries for every measurement: "distinct" stays all cache misses after the first round
                distinct, zipf = query_streams(queries, seed=SEED + 10 * n + count)
                for name, stream in (("Zipf", zipf), ("distinct", distinct)):
                    runs.setdefault((count, name), []).append(_load(urls[:count], stream, seconds, clients))
    finally:
        for proc, _ in started:
            proc.terminate()
            proc.wait(timeout=30)
    lines = []
    for (count, name), results in runs.items():
        mid = {k: statistics.median(r[k] for r in results) for k in ("rps", "p50", "p99")}
        lines.append(f"{count} node{'s' if count > 1 else ' '}  {name:<8} ({clients} clients, logging on)  "
                     f"{mid['rps']:6.0f} searches/s  p50 {mid['p50']:7.2f} ms  p99 {mid['p99']:7.2f} ms  "
                     f"errors {sum(r['errors'] for r in results)}  (median of {rounds}; req/s per round: "
                     + ", ".join(f"{r['rps']:.0f}" for r in results) + ")")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds alternating one node and two; medians reported")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--articles", type=int, default=0, help="a generated corpus of this size (0: the starter docs)")
    parser.add_argument("--edits", type=int, default=5, help="edits whose way to the other node is timed (0: none)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    head = (f"kb nodes benchmark  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  "
            f"load average before {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        docs = work / "docs"
        if args.articles:
            generate_corpus(docs, args.articles)
        else:
            shutil.copytree(ROOT / "docs", docs)
        corpus = f"{args.articles} generated articles" if args.articles else "starter docs (44 articles)"
        lines = [head, f"corpus: {corpus}"] + measure_nodes(docs, work, args.seconds, args.clients, rounds=args.rounds)
        if args.edits:
            lines += measure_propagation(docs, work, args.edits)
            print("\n".join(lines[-2:]), flush=True)
    lines.append(f"load average after {os.getloadavg()[0]:.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
