"""Search latency while clients flood /login with wrong passwords (issue 9, defect 5).

    python tests/bench/login_flood.py [--rounds 3] [--refusal-delay 1 [--refusal-delay 0]] [--clients 16] [--seconds 10]

Starts the real `kb serve` (waitress) on the starter docs with the production password hash cost
(64 MiB Argon2id), then measures one customer's search latency (sequential requests, starter
queries, each warmed once) in four phases: with no flood; while --clients clients post wrong
passwords from one address (127.0.0.1: the per-address and per-account limits answer 429 after
their budget); while they post to many account names from --clients different addresses
(127.0.0.2, 127.0.0.3, …: each address has its own budget, so the cap on concurrent password checks
is what protects search); and, for comparison, while they flood GET /api/health (a cheap request kb
never refuses) from one address. Each round runs the four phases on a fresh server (a copy of one
built data folder, so no lockout carries over) once it has embedded every passage (that background
job's CPU is not the flood's); with several --refusal-delay values the variants alternate round by
round, so a busy minute on a shared machine hits each alike. Reports per variant and phase the
median over rounds of search p50 and p99, the flood's status codes and the server's peak memory,
and writes them to tests/bench/results/login_flood.txt (--output). Bounded: every request goes to
127.0.0.1.
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


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a process in MiB (VmHWM from /proc)."""
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


def wait_for_vectors(url: str, timeout: float = 300) -> None:
    """Wait until kb serve's background job has embedded every article: its CPU is not the flood's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(url + "/api/health", timeout=60).json()["semantic"].get("complete"):
            return
        time.sleep(1)
    raise RuntimeError("the passage vectors were not filled in time")


def percentile_99(latencies: list[float]) -> float:
    latencies = sorted(latencies)
    return latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]


def run_phases(server: LiveServer, data: Path, queries: list[str], args) -> list[dict]:
    """One round: the four phases against one fresh server; per phase its search p50/p99 and flood answers."""
    import multiprocessing

    db = open_db(f"sqlite:///{data}/kb.db")
    accounts.create_user(db, "wang", "manager", hash_cost=HASH_COST)
    wait_for_vectors(server.url)
    for query in queries:  # warm every query once: its first search embeds its answer blocks (~30 ms)
        requests.get(server.url + "/api/search", params={"q": query}, timeout=60)
    measured = []
    for label, kind in PHASES:
        results = multiprocessing.Queue()
        flood = None
        if kind:
            flood = multiprocessing.Process(target=flood_process, args=(
                server.port, kind, args.clients, args.seconds + 1.0, args.attacker_nice, results))
            flood.start()
            time.sleep(0.5)
        latencies = measure_search(server.url, queries, args.seconds)
        statuses = {}
        if flood is not None:
            statuses = results.get(timeout=180)
            flood.join(timeout=60)
        measured.append({"label": label.format(clients=args.clients), "p50": statistics.median(latencies),
                         "p99": percentile_99(latencies), "searches": len(latencies), "statuses": Counter(statuses),
                         "peak": peak_rss_mib(server.proc.pid)})
        print(f"  {measured[-1]['label']}: p50 {measured[-1]['p50']:.1f} ms, p99 {measured[-1]['p99']:.1f} ms, "
              f"{dict(statuses)}", flush=True)
    return measured


PHASES = [("no flood", None), ("flood from one address (127.0.0.1)", "one"),
          ("flood from {clients} addresses, many account names", "many"),
          ("for comparison, GET /api/health flood from one address", "health")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attacker-nice", type=int, default=19,
                        help="niceness of the attackers' process (0: they compete for the cores as equals)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of all phases, each on a fresh server; the figures are the medians over rounds")
    parser.add_argument("--refusal-delay", type=int, action="append",
                        help="KB_REFUSAL_DELAY of the server (repeat to compare, interleaved round by round; default 1)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    delays = args.refusal_delay or [1]
    queries = [q["query"] for q in yaml.safe_load((ROOT / "tests" / "data" / "relevance.yml").read_text(encoding="utf-8"))]
    lines = [f"login flood benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores "
             f"(load average {os.getloadavg()[0]:.1f} at start), {args.clients} flooding clients in their own process "
             f"at nice {args.attacker_nice}, {args.seconds:.0f} s per phase, password hash {HASH_COST} MiB, "
             f"{args.rounds} rounds per variant (medians over rounds; each round's p50 in brackets)"]
    rounds: dict[int, list[list[dict]]] = {d: [] for d in delays}
    with tempfile.TemporaryDirectory() as tmp:
        docs, base = Path(tmp) / "docs", Path(tmp) / "base"
        shutil.copytree(REAL_DOCS, docs)
        first = LiveServer(docs, base)  # builds the index, the site and the passage vectors once
        try:
            wait_for_vectors(first.url)
        finally:
            first.stop()
        for n in range(args.rounds):
            for delay in delays:  # interleaved, so a busier minute of the machine hits every variant alike
                data = Path(tmp) / f"round-{n}-{delay}"
                shutil.copytree(base, data)  # fresh lockouts and counters, same index
                print(f"round {n + 1}, refusal delay {delay} s", flush=True)
                server = LiveServer(docs, data, extra_env={"KB_PASSWORD_HASH_COST": str(HASH_COST),
                                                           "KB_REFUSAL_DELAY": str(delay)})
                try:
                    rounds[delay].append(run_phases(server, data, queries, args))
                finally:
                    server.stop()
                    shutil.rmtree(data, ignore_errors=True)
    for delay in delays:
        lines.append(f"refusal delay {delay} s (KB_REFUSAL_DELAY={delay}):")
        for i in range(len(PHASES)):
            per_round = [r[i] for r in rounds[delay]]
            statuses = sum((r["statuses"] for r in per_round), Counter())
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)) or "-"
            each = ", ".join(f"{r['p50']:.1f}" for r in per_round)
            lines.append(f"  {per_round[0]['label']}: search p50 {statistics.median(r['p50'] for r in per_round):.1f} ms "
                         f"[{each}], "
                         f"p99 {statistics.median(r['p99'] for r in per_round):.1f} ms "
                         f"({sum(r['searches'] for r in per_round)} searches); login answers over all rounds {answers}; "
                         f"server peak RSS {max(r['peak'] for r in per_round):.0f} MiB")
    print("\n".join(lines))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
