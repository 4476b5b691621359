"""The event log: every search, click and vote. Sole owner of the searches, clicks and votes tables.

Requests never wait for the disk: ``EventLog.log_*`` puts the event on a queue and returns; one
writer thread stores queued events in batches (one transaction each). ``flush()`` waits until all
events queued before the call are on disk, and ``close()`` flushes and stops the writer, which is
what the server does on SIGTERM so that no acknowledged event is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import secrets
import sqlite3
import threading
import time

log = logging.getLogger(__name__)


# -- schema (numbered migrations, applied by analytics.store) -------------------------------
def create_event_tables(db) -> None:
    db["searches"].create(
        {"query_id": str, "ts": str, "session": str, "query": str, "normalized": str, "results": int,
         "top_slugs": str, "took_ms": float, "module": str, "tag": str, "page": int, "source": str},
        pk="query_id",
    )
    db["clicks"].create(
        {"id": int, "ts": str, "query_id": str, "slug": str, "position": int, "session": str}, pk="id"
    )
    db["votes"].create(
        {"id": int, "ts": str, "slug": str, "helpful": int, "comment": str, "session": str}, pk="id"
    )
    db["searches"].create_index(["ts"])
    db["searches"].create_index(["session", "ts"])
    db["clicks"].create_index(["query_id"])
    db["clicks"].create_index(["slug"])
    db["votes"].create_index(["slug"])


def add_session_indexes(db) -> None:
    # The failing-search analysis joins votes and clicks to a session's searches.
    db["votes"].create_index(["session", "slug"])
    db["clicks"].create_index(["session", "ts"])


MIGRATIONS = [create_event_tables, add_session_indexes]


def iso(when: dt.datetime) -> str:
    """A moment in the format of every ts column: UTC, milliseconds, "Z" (so text order is time order)."""
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """Now, as iso() writes it."""
    return iso(dt.datetime.now(dt.timezone.utc))


def new_query_id() -> str:
    """An unguessable id that joins a click to the search it came from."""
    return secrets.token_hex(8)


def is_query_id(value) -> bool:
    """True when value has the shape of a query id."""
    return isinstance(value, str) and len(value) == 16 and all(c in "0123456789abcdef" for c in value)


# -- writing ------------------------------------------------------------------------------
_STOP = object()
_COLUMNS = {
    "searches": ("query_id", "ts", "session", "query", "normalized", "results", "top_slugs", "took_ms", "module",
                 "tag", "page", "source"),
    "clicks": ("ts", "query_id", "slug", "position", "session"),
    "votes": ("ts", "slug", "helpful", "comment", "session"),
}


class _Flush:
    """A marker on the queue: set once every event queued before it is stored."""

    def __init__(self):
        self.done = threading.Event()


class EventLog:
    """Buffered, batched writer of events into the database at database_url."""

    def __init__(self, database_url: str, batch_size: int = 500, interval: float = 0.25):
        from .store import open_db

        self.database_url = database_url
        open_db(database_url).conn.close()  # create the file and tables now, so errors show at start
        self.batch_size = batch_size
        self.interval = interval
        self.dead_letters = 0  # events that could not be stored even one by one (logged)
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kb-event-writer", daemon=True)
        self._thread.start()

    def log_search(self, *, query_id: str, query: str, normalized: str, results: int, top_slugs: list[str],
                   took_ms: float, session: str = "", module: str = "", tag: str = "", page: int = 1,
                   source: str = "api") -> None:
        """Record one search (returns at once; stored by the writer thread)."""
        self._put("searches", {
            "query_id": query_id, "ts": now_iso(), "session": session, "query": query, "normalized": normalized,
            "results": results, "top_slugs": json.dumps(top_slugs, ensure_ascii=False), "took_ms": took_ms,
            "module": module or "", "tag": tag or "", "page": page, "source": source,
        })

    def log_click(self, *, query_id: str, slug: str, position: int, session: str = "") -> None:
        """Record a click on a search result."""
        self._put("clicks", {"ts": now_iso(), "query_id": query_id, "slug": slug, "position": position,
                             "session": session})

    def log_vote(self, *, slug: str, helpful: bool, comment: str = "", session: str = "") -> None:
        """Record a "was this page helpful?" vote."""
        self._put("votes", {"ts": now_iso(), "slug": slug, "helpful": int(bool(helpful)), "comment": comment or "",
                            "session": session})

    def _put(self, table: str, row: dict) -> None:
        if self._closed:
            raise RuntimeError("event log is closed")
        self._queue.put((table, row))

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every event queued before this call is stored; False on timeout."""
        marker = _Flush()
        self._queue.put((marker, None))
        return marker.done.wait(timeout)

    def close(self) -> None:
        """Store everything still queued and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put((_STOP, None))
        self._thread.join(timeout=60)

    # The writer thread: wait for a first event, gather more for up to `interval`, store them in one
    # transaction. A flush marker or the stop marker ends the gathering at once.
    def _run(self) -> None:
        from .store import open_db

        db = open_db(self.database_url)
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.interval
            while len(batch) < self.batch_size and isinstance(batch[-1][0], str):
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._store(db, [(t, r) for t, r in batch if isinstance(t, str)])
            for table, _ in batch:
                if isinstance(table, _Flush):
                    table.done.set()
                stopping = stopping or table is _STOP
        db.conn.close()

    def _store(self, db, rows) -> None:
        if not rows:
            return
        for attempt in range(20):
            try:
                _insert(db.conn, rows)
                return
            except sqlite3.OperationalError:  # locked or busy: wait and retry the whole batch
                log.warning("event batch of %d not stored yet (attempt %d), retrying", len(rows), attempt + 1)
                time.sleep(min(2.0, 0.05 * 2**attempt))
            except (sqlite3.Error, ValueError):  # e.g. a string SQLite cannot encode
                break  # a row the database refuses: store the others one by one below
        for row in rows:
            try:
                _insert(db.conn, [row])
            except (sqlite3.Error, ValueError) as exc:
                self.dead_letters += 1
                log.error("event not stored (%s): %r", exc, row)


def _insert(conn, rows) -> None:
    """Insert (table, row) pairs in one transaction: all of them or none."""
    with conn:  # BEGIN ... COMMIT, or ROLLBACK on error
        for table, row in rows:
            cols = _COLUMNS[table]
            verb = "INSERT OR IGNORE" if table == "searches" else "INSERT"
            conn.execute(f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                         [row.get(c) for c in cols])


def insert_events(db, table: str, rows: list[dict]) -> None:
    """Store already-formed events in bulk (kb simulate, imports); same columns as the log_* calls."""
    if table not in _COLUMNS:
        raise ValueError(f"unknown event table {table!r}")
    for start in range(0, len(rows), 1000):
        _insert(db.conn, [(table, row) for row in rows[start : start + 1000]])


# -- reading ------------------------------------------------------------------------------
def counts(db) -> dict:
    """How many searches, clicks and votes are stored."""
    return {table: db[table].count for table in ("searches", "clicks", "votes")}


def daily_health(db, start: str, end: str) -> list[dict]:
    """Per day: searches, zero-result rate, click-through rate (searches with a click) and helpful rate."""
    days: dict[str, dict] = {}
    for day, n, zero in db.execute(
            "SELECT substr(ts, 1, 10), COUNT(*), SUM(results = 0) FROM searches WHERE ts >= ? AND ts < ? "
            "GROUP BY 1", [start, end]):
        days[day] = {"day": day, "searches": n, "zero": zero or 0, "clicked": 0, "votes": 0, "helpful": 0}
    for day, clicked in db.execute(
            "SELECT substr(s.ts, 1, 10), COUNT(DISTINCT c.query_id) FROM clicks c JOIN searches s "
            "ON s.query_id = c.query_id WHERE s.ts >= ? AND s.ts < ? GROUP BY 1", [start, end]):
        if day in days:
            days[day]["clicked"] = clicked
    for day, votes, helpful in db.execute(
            "SELECT substr(ts, 1, 10), COUNT(*), SUM(helpful) FROM votes WHERE ts >= ? AND ts < ? GROUP BY 1",
            [start, end]):
        days.setdefault(day, {"day": day, "searches": 0, "zero": 0, "clicked": 0, "votes": 0, "helpful": 0})
        days[day].update(votes=votes, helpful=helpful or 0)
    out = []
    for day in sorted(days):
        d = days[day]
        out.append({"day": day, "searches": d["searches"],
                    "zero_result_rate": d["zero"] / d["searches"] if d["searches"] else None,
                    "click_through_rate": d["clicked"] / d["searches"] if d["searches"] else None,
                    "helpful_rate": d["helpful"] / d["votes"] if d["votes"] else None})
    return out
