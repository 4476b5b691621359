"""SQLite and PostgreSQL side by side: what the store costs on each backend.

    python3 tests/bench/postgres.py [--rounds 3]

Starts a throwaway PostgreSQL (as the tests do: tests/conftest.py PostgresServer, fsync on here so commits
cost what they cost in production) and measures, on both backends, in one process:
- opening the database as a request does (kbserver.db.get_db: no migrations; PostgreSQL from the pool);
- the event writer: 20,000 votes logged through EventLog (spool on), until all are stored;
- the review workflow: flag transitions, each one transaction() with a compare-and-set write.
Prints the figures and writes them to tests/bench/results/postgres.txt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from analytics import flags  # noqa: E402
from analytics.events import EventLog  # noqa: E402
from conftest import PostgresServer, postgres_bindir  # noqa: E402
from kbserver.db import open_db  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "postgres.txt"


def opening(url: str, n: int = 300) -> float:
    open_db(url).conn.close()
    start = time.perf_counter()
    for _ in range(n):
        open_db(url, migrate=False).conn.close()
    return (time.perf_counter() - start) / n * 1000


def event_writer(url: str, spool: Path, n: int = 20_000) -> float:
    log = EventLog(url, spool_dir=spool)
    start = time.perf_counter()
    for i in range(n):
        log.log_vote(slug="a", helpful=i % 2 == 0, comment=str(i), session="s")
    assert log.flush(timeout=300)
    took = time.perf_counter() - start
    log.close()
    return n / took


def transitions(url: str, n: int = 300) -> float:
    db = open_db(url)
    candidate = {"key": "article:a:low_helpfulness", "kind": "article", "slug": "a", "reason": "low_helpfulness",
                 "title": "A", "path": "a.md", "score": 0.5, "evidence": {"votes": 10}, "suggestion": "fix it"}
    flags.sync(db, [candidate])
    flag = flags.list_flags(db)[0]
    start = time.perf_counter()
    for i in range(n):
        flag = flags.transition(db, flag["id"], "acknowledged" if i % 2 == 0 else "open", "wang", flag["version"])
    took = time.perf_counter() - start
    db.conn.close()
    return n / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bindir = postgres_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql-15")
    server = PostgresServer(bindir)
    server._options = server._options.replace("-c fsync=off -c synchronous_commit=off -c full_page_writes=off ", "")
    server.pause()
    server.resume()  # restarted with production durability
    figures: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                for backend in ("sqlite", "postgresql"):
                    url = f"sqlite:///{tmp}/kb-{r}.db" if backend == "sqlite" else server.create_database("bench")
                    f = figures[backend]
                    f.setdefault("open (ms)", []).append(opening(url))
                    f.setdefault("events stored (per s)", []).append(event_writer(url, Path(tmp) / f"spool-{backend}-{r}"))
                    f.setdefault("flag transitions (per s)", []).append(transitions(url))
    finally:
        server.stop()
    lines = [f"store on both backends, median of {args.rounds} rounds (python3 tests/bench/postgres.py)",
             f"{'':28}{'sqlite':>12}{'postgresql':>12}"]
    for name in figures["sqlite"]:
        lines.append(f"{name:28}{statistics.median(figures['sqlite'][name]):12.2f}"
                     f"{statistics.median(figures['postgresql'][name]):12.2f}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
