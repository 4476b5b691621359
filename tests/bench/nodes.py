"""Search throughput with one node and with two nodes on this machine (one shared SQLite event database).

    python tests/bench/nodes.py [--seconds 10] [--clients 8] [--articles 0]

Each node is the production server (waitress, 8 threads, event logging on) over its own data folder (a copy
of one built index with its vectors); the clients spread their searches round-robin over the nodes, as a
reverse proxy would. Two query streams: distinct queries (every one a cache miss) and a Zipf stream over a
few hundred popular queries. Prints req/s, p50 and p99 and writes tests/bench/results/nodes.txt;
tests/bench/benchmark.py calls measure_nodes() too.

On one machine the nodes share its cores (and the clients run on them too): a second node helps only when
one node leaves cores idle (waiting on I/O or the GIL). The figure that scales is nodes on separate machines.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
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

from benchmark import generate_corpus, percentile, query_streams  # noqa: E402

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


def measure_nodes(docs: Path, work: Path, seconds: float = 10.0, clients: int = 8, queries: int = 1000) -> list[str]:
    """Lines of req/s, p50, p99 for 1 and 2 nodes, distinct and Zipf streams."""
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
    distinct, zipf = query_streams(queries)
    lines = []
    for count in (1, 2):
        database_url = f"sqlite:///{work}/nodes-{count}.db"
        started = [_start(docs, work / f"node-data-{i}", database_url) for i in range(1, count + 1)]
        try:
            for name, stream in (("Zipf", zipf), ("distinct", distinct)):
                h = _load([url for _, url in started], stream, seconds, clients)
                lines.append(f"{count} node{'s' if count > 1 else ' '}  {name:<8} ({clients} clients, logging on)  "
                             f"{h['rps']:6.0f} searches/s  p50 {h['p50']:7.2f} ms  p99 {h['p99']:7.2f} ms  "
                             f"errors {h['errors']}")
                print(lines[-1], flush=True)
        finally:
            for proc, _ in started:
                proc.terminate()
                proc.wait(timeout=30)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--articles", type=int, default=0, help="a generated corpus of this size (0: the starter docs)")
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
        lines = [head, f"corpus: {corpus}"] + measure_nodes(docs, work, args.seconds, args.clients)
    lines.append(f"load average after {os.getloadavg()[0]:.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
