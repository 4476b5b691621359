"""`kb analyze` on a large event log: time and peak memory.

    python tests/bench/analyze_scale.py [--sessions-per-day 14000] [--days 30]

Simulates traffic for the starter docs (the defaults give about a million events: searches, clicks
and votes), then runs the analysis and prints the event count, analysis time and the process's peak
resident memory before and during the analysis; writes tests/bench/results/analyze_scale.txt.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analytics.analyze import analyze  # noqa: E402
from analytics.events import counts  # noqa: E402
from analytics.simulate import simulate  # noqa: E402
from indexer.articles import load_articles  # noqa: E402
from indexer.build import build_full  # noqa: E402
from indexer.query import open_index  # noqa: E402
from kbserver.db import open_db  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "analyze_scale.txt"


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def analyze_only(data: Path) -> int:
    db = open_db(f"sqlite:///{data}/kb.db")
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(ROOT / "docs")]
    before = peak_mb()
    t = time.perf_counter()
    report = analyze(db, articles)
    print(f"kb analyze {time.perf_counter() - t:.1f}s, {report.failed:,} failing searches"
          f"{' (sampled)' if report.sampled else ''}, {len(report.gaps)} gaps, {len(report.article_flags)} article "
          f"flags; analysis process peak RSS {peak_mb():.0f} MB ({before:.0f} MB before analyzing)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions-per-day", type=int, default=14000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--analyze-only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.analyze_only:
        return analyze_only(Path(args.analyze_only))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        build_full(ROOT / "docs", data)
        db = open_db(f"sqlite:///{data}/kb.db")
        articles = [a.to_dict() | {"body": a.body} for a in load_articles(ROOT / "docs")]
        t = time.perf_counter()
        simulate(db, open_index(data), articles, days=args.days, sessions_per_day=args.sessions_per_day)
        simulated = time.perf_counter() - t
        events = counts(db)
        db.conn.close()
        # The analysis runs in a fresh process, so its peak memory is its own, not the simulator's.
        out = subprocess.run([sys.executable, __file__, "--analyze-only", str(data)], capture_output=True, text=True,
                             check=True).stdout.strip()
        line = f"{sum(events.values()):,} events ({events['searches']:,} searches) simulated in {simulated:.0f}s; {out}"
    print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
