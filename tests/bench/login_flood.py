"""Search latency while clients flood /login with wrong passwords (issue 9, defect 5).

    python tests/bench/login_flood.py [--clients 16] [--seconds 10]

Starts the real `kb serve` (waitress) on the starter docs with the production password hash cost
(64 MiB Argon2id), then measures one customer's search latency (sequential requests, starter
queries) three times: with no flood; while --clients clients post wrong passwords from one address
(127.0.0.1: the per-address and per-account limits answer 429 after their budget); and while they
post to many account names from --clients different addresses (127.0.0.2, 127.0.0.3, …: each
address has its own budget, so the cap on concurrent password checks is what protects search).
For comparison, a last phase floods GET /api/health (the cheapest request kb has) from the same
number of clients: what any flood of fast answers costs search on this machine (waitress, the GIL and
the flooding clients themselves share its cores). Reports search p50/p99, the flood's status codes
and the server's resident memory, and writes them to tests/bench/results/login_flood.txt. Bounded:
every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from analytics import accounts  # noqa: E402
from conftest import REAL_DOCS, LiveServer  # noqa: E402
from kbserver.db import open_db  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "login_flood.txt"
HASH_COST = 64  # production default: the figures are about the real cost of a password check


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Attacker(threading.Thread):
    """Posts wrong passwords (with a valid CSRF token, as a real browser would) until stopped."""

    def __init__(self, port: int, source: str, names: list[str], stop: threading.Event, statuses: Counter,
                 lock: threading.Lock, health_only: bool = False):
        super().__init__(daemon=True)
        self.port, self.source, self.names, self.stop, self.statuses, self.lock = port, source, names, stop, statuses, lock
        self.health_only = health_only

    def _connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(self.source, 0))

    def run(self):
        conn = self._connection()
        conn.request("GET", "/login")
        r = conn.getresponse()
        body = r.read().decode()
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
        i = 0
        while not self.stop.is_set():
            form = urlencode({"name": self.names[i % len(self.names)], "password": f"guess-{i}", "csrf_token": token})
            i += 1
            try:
                if self.health_only:
                    conn.request("GET", "/api/health")
                else:
                    conn.request("POST", "/login", body=form, headers={
                        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn, status = self._connection(), "error"
            with self.lock:
                self.statuses[status] += 1


def flood_process(port: int, kind: str, clients: int, seconds: float, nice: int, results) -> None:
    """A separate process of attackers (its own GIL, so the measuring customer does not queue behind
    them inside one interpreter), at the given niceness: attackers run on their own machines, not on
    kb's cores, and a nice process gets only the CPU the server and the customer leave."""
    os.nice(nice)
    stop, statuses, lock = threading.Event(), Counter(), threading.Lock()
    attackers = []
    for i in range(clients):
        source = "127.0.0.1" if kind in ("one", "health") else f"127.0.0.{i + 2}"
        names = ["wang"] if kind in ("one", "health") else [f"user{i}-{n}" for n in range(1000)]
        attackers.append(Attacker(port, source, names, stop, statuses, lock, kind == "health"))
    for a in attackers:
        a.start()
    time.sleep(seconds)
    stop.set()
    for a in attackers:
        a.join(timeout=120)
    results.put(dict(statuses))


def measure_search(url: str, queries: list[str], seconds: float) -> list[float]:
    """Latencies (ms) of sequential searches over seconds."""
    s = requests.Session()
    latencies, i, deadline = [], 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        r = s.get(url + "/api/search", params={"q": queries[i % len(queries)]}, timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"search answered {r.status_code}")
        i += 1
    return latencies


def summary(latencies: list[float]) -> str:
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return f"search p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms ({len(latencies)} searches)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attacker-nice", type=int, default=19,
                        help="niceness of the attackers' process (0: they compete for the cores as equals)")
    args = parser.parse_args()
    queries = [q["query"] for q in yaml.safe_load((ROOT / "tests" / "data" / "relevance.yml").read_text(encoding="utf-8"))]
    lines = [f"login flood benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
             f"{args.clients} flooding clients in their own process at nice {args.attacker_nice}, "
             f"{args.seconds:.0f} s per phase, password hash {HASH_COST} MiB"]
    with tempfile.TemporaryDirectory() as tmp:
        docs, data = Path(tmp) / "docs", Path(tmp) / "data"
        shutil.copytree(REAL_DOCS, docs)
        server = LiveServer(docs, data, extra_env={"KB_PASSWORD_HASH_COST": str(HASH_COST)})
        try:
            db = open_db(f"sqlite:///{data}/kb.db")
            accounts.create_user(db, "wang", "manager", hash_cost=HASH_COST)
            measure_search(server.url, queries, 2)  # warm the cache and the index
            phases = [("no flood", None), ("flood from one address (127.0.0.1)", "one"),
                      (f"flood from {args.clients} addresses, many account names", "many"),
                      ("for comparison, GET /api/health flood from one address", "health")]
            import multiprocessing

            for label, kind in phases:
                results = multiprocessing.Queue()
                flood = None
                if kind:
                    flood = multiprocessing.Process(target=flood_process, args=(
                        server.port, kind, args.clients, args.seconds + 1.0, args.attacker_nice, results))
                    flood.start()
                    time.sleep(0.5)
                before = rss_mib(server.proc.pid)
                latencies = measure_search(server.url, queries, args.seconds)
                after = rss_mib(server.proc.pid)
                statuses = {}
                if flood is not None:
                    statuses = results.get(timeout=180)
                    flood.join(timeout=60)
                answers = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)) or "-"
                line = (f"{label}: {summary(latencies)}; login answers {answers}; "
                        f"server RSS {before:.0f} → {after:.0f} MiB, peak {peak_rss_mib(server.proc.pid):.0f} MiB")
                print(line, flush=True)
                lines.append(line)
        finally:
            server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
