"""What the event spool costs: in-process search + logging latency on the starter docs, per durability.

    python tests/bench/durability.py [--queries 1000] [--rounds 5]

Modes, measured in alternating rounds so that the shared machine's noise hits each alike:
  before   the event log of git revision --before (default main): events only queued in memory
           (a kill -9 lost up to 0.25 s of them)
  process  the default: each event written to the spool with os.write before the call returns
  power    KB_EVENT_DURABILITY=power: the spool is also fdatasync'ed (one fsync serves concurrent requests)
Also measures 4 threads logging votes as fast as they can (events/s), which is where fsync shows.
Prints the figures and writes them to tests/bench/results/durability.txt. Starter docs only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from analytics.events import EventLog, new_query_id  # noqa: E402
from benchmark import percentile, query_streams  # noqa: E402
from indexer.build import build_full  # noqa: E402
from indexer.query import open_index  # noqa: E402
from kbserver.db import open_db  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "durability.txt"
MODES = ("before", "process", "power")


def load_before(revision: str, work: Path):
    """analytics/events.py as it was at revision, loaded as a module of the analytics package."""
    source = subprocess.run(["git", "show", f"{revision}:analytics/events.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = work / "events_before.py"
    path.write_text(source, encoding="utf-8")
    # That revision opened the database through analytics/store.py, which has since moved to indexer/.
    old_store = types.ModuleType("analytics.store")
    old_store.open_db = open_db
    sys.modules.setdefault("analytics.store", old_store)
    spec = importlib.util.spec_from_file_location("analytics._events_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event_log(mode: str, work: Path, before) -> EventLog:
    stamp = time.perf_counter_ns()
    url = f"sqlite:///{work}/events-{mode}-{stamp}.db"
    open_db(url).conn.close()
    if mode == "before":
        return before.EventLog(url)
    return EventLog(url, spool_dir=work / f"spool-{mode}-{stamp}", durability=mode)


def search_latencies(ix, queries: list[str], events: EventLog) -> list[float]:
    """Milliseconds per search plus logging it, as /api/search does before it answers."""
    times = []
    for q in queries:
        t = time.perf_counter()
        result = ix.search(q, limit=10)
        events.log_search(query_id=new_query_id(), query=q, normalized=result["normalized"], results=result["total"],
                          top_slugs=[r["slug"] for r in result["results"]], took_ms=result["took_ms"])
        times.append((time.perf_counter() - t) * 1000)
    return times


def votes_per_second(events: EventLog, seconds: float = 1.0, threads: int = 4) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(k):
        while time.monotonic() < stop:
            events.log_vote(slug="a", helpful=True, comment="bench")
            done[k] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default="main", help="git revision whose event log is the baseline")
    args = parser.parse_args(argv)
    distinct, zipf = query_streams(args.queries)
    samples = {(mode, stream): [] for mode in MODES for stream in ("distinct", "zipf")}
    rates = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before = load_before(args.before, work)
        build_full(ROOT / "docs", work / "data")
        uncached = open_index(work / "data", cache_size=0)  # "distinct": every search computed
        cached = open_index(work / "data")  # "zipf": popular queries answered from the cache, as in production
        uncached.search("预热")
        search_latencies(cached, zipf, event_log("before", work, before))
        for _ in range(args.rounds):
            for mode in MODES:
                events = event_log(mode, work, before)
                samples[(mode, "distinct")] += search_latencies(uncached, distinct, events)
                samples[(mode, "zipf")] += search_latencies(cached, zipf, events)
                rates[mode].append(votes_per_second(events))
                events.close()
    lines = [f"kb durability benchmark  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  "
             f"python={sys.version.split()[0]}  baseline {args.before}  starter docs, "
             f"{args.queries} queries x {args.rounds} rounds per mode",
             "in-process search + logging (ms): 'distinct' without the result cache (every search computed), "
             "'zipf' with a warm cache (mostly hits)"]
    base = {stream: statistics.fmean(samples[("before", stream)]) for stream in ("distinct", "zipf")}
    for mode in MODES:
        for stream in ("distinct", "zipf"):
            t = samples[(mode, stream)]
            mean = statistics.fmean(t)
            lines.append(f"{mode:<8} {stream:<8} p50 {percentile(t, 50):6.3f}  p99 {percentile(t, 99):6.3f}  "
                         f"mean {mean:6.3f}  ({(mean / base[stream] - 1) * 100:+5.1f}% vs before)")
        lines.append(f"{mode:<8} 4 threads logging votes: {statistics.median(rates[mode]):8.0f} events/s (median)")
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
