"""The event log: every search, click and vote. Sole owner of the searches, clicks and votes tables.

Requests never wait for the database: ``EventLog.log_*`` appends the event to the spool
(``analytics/spool.py``: a record copied into a shared mapping of a file, plus a shared ``fdatasync``
when durability is ``power``) and puts it on a queue; one writer thread stores queued events in batches (one
transaction each) and records in the same transaction how far into the spool it has stored. An
acknowledged event is therefore in the spool or in the database at every moment: after a kill -9
the next ``EventLog`` on the same spool folder stores what the dead process had not (exactly once),
before the server accepts requests. ``flush()`` waits until all events queued before the call are
in the database; ``close()`` flushes, deletes the spool and stops the writer (SIGTERM, normal exit).
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
from pathlib import Path

from indexer.clock import iso
from indexer.i18n import N_
from indexer.postgres import describe
from indexer.store import DatabaseError, DatabaseUnavailable, open_db

from . import spool as spool_files

log = logging.getLogger(__name__)


# -- schema (named migrations, applied by indexer.store) ------------------------------------
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


def create_event_spool_table(db) -> None:
    # How far into each spool segment the events are stored, written with them (see analytics/spool.py).
    db["event_spool"].create({"segment": str, "stored": int}, pk="segment")


def add_search_matched_column(db) -> None:
    # Which stage found each top result ("keyword", "meaning", "keyword+meaning"), parallel to top_slugs:
    # an article found only by meaning is one whose words are not the customers' (a vocabulary gap).
    db["searches"].add_column("top_matched", str)


def add_click_client_column(db) -> None:
    # Who clicked, as a keyed client address (links.visitor_key): click re-ranking counts each client
    # once, and a visitor can drop a session cookie but not their address.
    db["clicks"].add_column("client", str)


def add_vote_source_column(db) -> None:
    # Where a vote was cast, as searches.source says where a search was typed ("site", "widget", "api"):
    # a vote carries no query_id that would tell. Votes from before are NULL (unknown).
    db.execute("ALTER TABLE votes ADD COLUMN source TEXT")


def add_search_answer_column(db) -> None:
    # The answer a search showed, {"slug", "anchor", "heading", "score"} as JSON; "" or NULL when none.
    # Databases built before this table's SQL moved here ran it as "answers:add_search_answer_column".
    if "answer" not in db["searches"].columns_dict:
        db["searches"].add_column("answer", str)


MIGRATIONS = [create_event_tables, add_session_indexes, create_event_spool_table, add_search_matched_column,
              add_click_client_column, add_vote_source_column, add_search_answer_column]

DURABILITY = ("process", "power")
UNAVAILABLE_AT_CLOSE = 20  # seconds close() waits for an unreachable database before leaving events to the spool


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
                 "tag", "page", "source", "top_matched", "answer"),
    "clicks": ("ts", "query_id", "slug", "position", "session", "client"),
    "votes": ("ts", "slug", "helpful", "comment", "session", "source"),
}


class _Flush:
    """A marker on the queue: set once every event queued before it is stored."""

    def __init__(self):
        self.done = threading.Event()


class EventLog:
    """Spooled, batched writer of events into the database at database_url.

    With spool_dir, every log_* call returns only once the event would survive a kill -9
    (durability "process") or a power loss ("power"); without it, events wait in memory until the
    next batch (kb's own tools that write through close() only).
    """

    def __init__(self, database_url: str, batch_size: int = 500, interval: float = 0.25,
                 spool_dir: Path | None = None, durability: str = "process", spool_segment_bytes: int = 4 << 20):
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {', '.join(DURABILITY)}, got {durability!r}")
        self.database_url = database_url
        self.batch_size = batch_size
        self.interval = interval
        self.durability = durability
        self.dead_letters = 0  # events that could not be stored even one by one (logged)
        self.spool_failures = 0  # events acknowledged without a spool record (the spool's disk failed; logged)
        db = open_db(database_url)  # open the file now, so errors show at start
        try:
            if "event_spool" not in db.table_names():
                raise DatabaseError(N_("%(url)s 里没有事件表：请先应用数据库迁移（kbserver.db.open_db）"),
                                    url=describe(database_url))
            self.replayed = replay_spool(db, spool_dir) if spool_dir else 0
        finally:
            db.conn.close()
        if self.replayed:
            log.warning("stored %d acknowledged event(s) left in the spool by a process that stopped abruptly",
                        self.replayed)
        self._spool = None
        if spool_dir:
            self._spool = spool_files.Spool(spool_dir, fsync=durability == "power", segment_bytes=spool_segment_bytes)
        self._stored: dict[str, int] = {}  # segment -> offset stored in the database (writer thread only)
        self._queue: queue.Queue = queue.Queue()
        self._put_lock = self._spool.lock if self._spool else threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kb-event-writer", daemon=True)
        self._thread.start()

    def log_search(self, *, query_id: str, query: str, normalized: str, results: int, top_slugs: list[str],
                   took_ms: float, session: str = "", module: str = "", tag: str = "", page: int = 1,
                   source: str = "api", top_matched: list[str] | None = None, answer: str = "") -> None:
        """Record one search (durable when it returns; stored in the database by the writer thread).

        top_matched says, for each of top_slugs, which search stage found it ("keyword", "meaning",
        "keyword+meaning"); answer is the answer it showed (``analytics.answers.logged_answer``)."""
        self._put("searches", {
            "query_id": query_id, "ts": time.time(), "session": session, "query": query, "normalized": normalized,
            "results": results, "top_slugs": list(top_slugs), "took_ms": took_ms,
            "module": module or "", "tag": tag or "", "page": page, "source": source,
            "top_matched": list(top_matched or []), "answer": answer or "",
        })

    def log_click(self, *, query_id: str, slug: str, position: int, session: str = "", client: str = "") -> None:
        """Record a click on a search result (client: the keyed address, see links.visitor_key)."""
        self._put("clicks", {"ts": time.time(), "query_id": query_id, "slug": slug, "position": position,
                             "session": session, "client": client})

    def log_vote(self, *, slug: str, helpful: bool, comment: str = "", session: str = "", source: str = "api") -> None:
        """Record a "was this page helpful?" vote (source: where it was cast, like a search's)."""
        self._put("votes", {"ts": time.time(), "slug": slug, "helpful": int(bool(helpful)), "comment": comment or "",
                            "session": session, "source": source})

    def _put(self, table: str, row: dict) -> None:
        if self._spool is None:
            if self._closed:
                raise RuntimeError("event log is closed")
            self._queue.put((table, row, None, 0))
            return
        # Requests pay only for the spool record; the timestamp's text form and the slugs' JSON are
        # made by the writer thread (_column_values).
        record = spool_files.encode((table, row))
        with self._put_lock:  # spool order is queue order, so "stored up to offset" is exact
            if self._closed:
                raise RuntimeError("event log is closed")
            try:
                segment, end = self._spool.append(record)
            except OSError as exc:  # e.g. a full disk when a new segment is needed: keep answering searches
                segment, end = None, 0
                if not self.spool_failures:
                    log.error("event spool %s unusable (%s): events wait in memory until it works again",
                              self._spool.folder, exc)
                self.spool_failures += 1
            self._queue.put((table, row, segment, end))
        if segment is not None:
            self._spool.sync(segment, end)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every event queued before this call is stored; False on timeout."""
        marker = _Flush()
        self._queue.put((marker, None, None, 0))
        return marker.done.wait(timeout)

    def close(self) -> None:
        """Store everything still queued, delete this process's spool and stop the writer."""
        with self._put_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put((_STOP, None, None, 0))
        self._thread.join(timeout=60)

    # The writer thread: wait for a first event, gather more for up to `interval`, store them in one
    # transaction. A flush marker or the stop marker ends the gathering at once.
    def _run(self) -> None:
        db = open_db(self.database_url)
        if self.durability == "power":
            # The spool segment is deleted once its events are committed: the commit must be on disk too.
            db.conn.execute("PRAGMA synchronous=FULL")
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.interval
            while len(batch) < self.batch_size and isinstance(batch[-1][0], str):
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._store(db, [item for item in batch if isinstance(item[0], str)])
            stopping = any(item[0] is _STOP for item in batch)
            if self._spool:
                self._release(db, final=stopping)
            for item in batch:
                if isinstance(item[0], _Flush):
                    item[0].done.set()
        db.conn.close()

    def _release(self, db, final: bool) -> None:
        for name in self._spool.release(self._stored, final=final):
            self._stored.pop(name, None)
            try:
                with db.conn:
                    db.conn.execute("DELETE FROM event_spool WHERE segment = ?", [name])
            except sqlite3.Error as exc:  # only bookkeeping: a later start removes the row
                log.warning("spool segment %s: %s", name, exc)

    def _store(self, db, items) -> None:
        if not items:
            return
        waits, attempt = 0, 0
        while attempt < 20:
            try:
                _insert(db.conn, items)
                break
            except DatabaseUnavailable as exc:  # PostgreSQL down or restarting: an outage is waited out, however
                # long (the events are safe in the spool), not treated as bad rows
                if self._closed and waits >= UNAVAILABLE_AT_CLOSE:
                    log.error("database unavailable at shutdown (%s): %d event(s) stay in the spool for the next "
                              "start", exc, len(items))
                    return  # not marked stored: their spool segments stay and are replayed
                if waits % 30 == 0:
                    log.warning("database unavailable (%s): %d event(s) wait in the spool", exc, len(items))
                waits += 1
                time.sleep(1.0)
            except sqlite3.OperationalError:  # locked or busy: wait and retry the whole batch
                log.warning("event batch of %d not stored yet (attempt %d), retrying", len(items), attempt + 1)
                time.sleep(min(2.0, 0.05 * 2**attempt))
                attempt += 1
            except (sqlite3.Error, ValueError):  # e.g. a string SQLite cannot encode
                self._store_one_by_one(db, items)
                break
        else:
            self._store_one_by_one(db, items)
        for _, _, segment, end in items:
            if segment is not None:
                self._stored[segment] = max(end, self._stored.get(segment, 0))

    def _store_one_by_one(self, db, items) -> None:
        # A row the database refuses: store the others one by one; each one's spool offset goes with it.
        for item in items:
            try:
                _insert(db.conn, [item])
            except (sqlite3.Error, ValueError) as exc:
                self.dead_letters += 1
                log.error("event not stored (%s): %r", exc, item[1])
                if item[2] is not None:
                    _mark_stored(db.conn, [item])


def _marks(items) -> dict[str, int]:
    marks: dict[str, int] = {}
    for _, _, segment, end in items:
        if segment is not None:
            marks[segment] = max(end, marks.get(segment, 0))
    return marks


def _mark_stored(conn, items) -> None:
    with conn:
        _write_marks(conn, _marks(items))


def _write_marks(conn, marks: dict[str, int]) -> None:
    for segment, end in marks.items():
        conn.execute("INSERT INTO event_spool (segment, stored) VALUES (?, ?) "
                     "ON CONFLICT (segment) DO UPDATE SET stored = excluded.stored", [segment, end])


def _insert(conn, items) -> None:
    """Insert (table, row, segment, end) items and their spool offsets in one transaction: all or none."""
    by_table: dict[str, list] = {}
    for table, row, _, _ in items:
        by_table.setdefault(table, []).append(_column_values(row, _COLUMNS[table]))
    with conn:  # BEGIN ... COMMIT, or ROLLBACK on error
        for table, rows in by_table.items():  # one executemany per table: one round trip per batch on PostgreSQL
            cols = _COLUMNS[table]
            # A search replayed from the spool after it was stored is the same search: keep the first.
            conflict = " ON CONFLICT (query_id) DO NOTHING" if table == "searches" else ""
            conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}){conflict}",
                             rows)
        _write_marks(conn, _marks(items))


def _column_values(row: dict, cols) -> list:
    values = [row.get(c) for c in cols]
    ts = row.get("ts")
    if isinstance(ts, float):  # log_* record the moment as a number: formatting it is the writer's job
        values[cols.index("ts")] = iso(dt.datetime.fromtimestamp(ts, dt.timezone.utc))
    for key in ("top_slugs", "top_matched"):
        if key in cols and isinstance(row.get(key), list):
            values[cols.index(key)] = json.dumps(row[key], ensure_ascii=False)
    return values


def spool_folder(data: Path) -> Path:
    """Where a data folder's event spool lives: on the local disk with the index, whatever the database is."""
    return Path(data) / "event-spool"


def replay_spool(db, spool_dir: Path) -> int:
    """Store the events that stopped processes spooled but did not store; returns how many."""
    replayed = 0
    for name, content in spool_files.orphans(spool_dir):
        row = db.execute("SELECT stored FROM event_spool WHERE segment = ?", [name]).fetchone()
        offset = row[0] if row else 0
        items = []
        try:
            for record, end in spool_files.decode(content, offset):
                table, event = record
                if table in _COLUMNS and isinstance(event, dict):
                    items.append((table, event, name, end))
        except Exception as exc:  # unpickling can fail many ways: an unreadable record ends the segment
            log.error("spool %s: unreadable record after %d events: %s", name, len(items), exc)
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            try:
                _insert(db.conn, chunk)
            except (sqlite3.Error, ValueError):
                for item in chunk:
                    try:
                        _insert(db.conn, [item])
                    except (sqlite3.Error, ValueError) as exc:
                        log.error("spooled event not stored (%s): %r", exc, item[1])
                        _mark_stored(db.conn, [item])
            replayed += len(chunk)
    # Rows of this folder's segments that are gone (replayed above, or stored and deleted by their process);
    # other nodes sharing the database keep theirs.
    present = spool_files.segment_names(spool_dir)
    with db.conn:
        for (name,) in db.execute("SELECT segment FROM event_spool").fetchall():
            if name not in present and spool_files.is_own(name, spool_dir):
                db.conn.execute("DELETE FROM event_spool WHERE segment = ?", [name])
    return replayed


def insert_events(db, table: str, rows: list[dict]) -> None:
    """Store already-formed events in bulk (kb simulate, imports); same columns as the log_* calls."""
    if table not in _COLUMNS:
        raise ValueError(f"unknown event table {table!r}")
    for start in range(0, len(rows), 1000):
        _insert(db.conn, [(table, row, None, 0) for row in rows[start : start + 1000]])


# -- reading ------------------------------------------------------------------------------
def counts(db) -> dict:
    """How many searches, clicks and votes are stored."""
    return {table: db[table].count for table in ("searches", "clicks", "votes")}


def daily_health(db, start: str, end: str) -> list[dict]:
    """Per day: searches, zero-result rate, click-through rate (searches with a click) and helpful rate."""
    days: dict[str, dict] = {}
    for day, n, zero in db.execute(
            "SELECT substr(ts, 1, 10), COUNT(*), SUM(CASE WHEN results = 0 THEN 1 ELSE 0 END) FROM searches "
            "WHERE ts >= ? AND ts < ? GROUP BY 1", [start, end]):
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


def click_counts(db, slugs: list[str], days: int, now: dt.datetime | None = None) -> dict[str, int]:
    """{slug: clicks on it in search results over the last `days` days}, for the given slugs (0s left out)."""
    if not slugs:
        return {}
    since = iso((now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=days))
    marks = ", ".join("?" for _ in slugs)
    return dict(db.execute(f"SELECT slug, COUNT(*) FROM clicks WHERE ts >= ? AND slug IN ({marks}) GROUP BY slug",
                           [since, *slugs]).fetchall())


def events_between(db, start: str, end: str, after: str) -> dict:
    """Searches with start <= ts < end, and the clicks and votes of their sessions up to `after` (for reports).

    Returns {"searches": [...], "clicks": [...], "votes": [...]} as dicts, each list in time order."""
    out = {}
    out["searches"] = [dict(zip(("query_id", "ts", "session", "query", "normalized", "results", "module", "top_slugs",
                                 "answer", "source"), row, strict=True)) for row in db.execute(
        "SELECT query_id, ts, session, query, normalized, results, module, top_slugs, answer, source FROM searches "
        "WHERE ts >= ? AND ts < ? ORDER BY ts", [start, end])]
    out["clicks"] = [dict(zip(("ts", "query_id", "slug", "session"), row, strict=True)) for row in db.execute(
        "SELECT c.ts, c.query_id, c.slug, c.session FROM clicks c JOIN searches s ON s.query_id = c.query_id "
        "WHERE s.ts >= ? AND s.ts < ? AND c.ts < ? ORDER BY c.ts", [start, end, after])]
    out["votes"] = [dict(zip(("ts", "slug", "helpful", "session", "source"), row, strict=True)) for row in db.execute(
        "SELECT ts, slug, helpful, session, source FROM votes WHERE ts >= ? AND ts < ? ORDER BY ts", [start, after])]
    return out


# -- reading for the analyses (failing searches, click re-ranking, learned synonyms, answers) --------
_SEARCHES_WITH_NEXT = """
WITH ordered AS (
  SELECT s.query_id, s.ts, s.session, s.query, s.normalized, s.results, s.top_slugs,
         LEAD(s.ts) OVER (PARTITION BY s.session ORDER BY s.ts) AS next_ts
  FROM searches s
  WHERE s.ts >= :start AND s.ts < :end
)
SELECT o.query_id, o.ts, o.session, o.query, o.normalized, o.results, o.top_slugs, o.next_ts,
       (SELECT c.ts FROM clicks c WHERE c.query_id = o.query_id ORDER BY c.ts LIMIT 1) AS click_ts,
       (SELECT c.slug FROM clicks c WHERE c.query_id = o.query_id ORDER BY c.ts LIMIT 1) AS click_slug
FROM ordered o
"""


def searches_with_next(db, start: str, end: str):
    """Stream each search with start <= ts < end as (query_id, ts, session, query, normalized, results,
    top_slugs, next_ts: the session's next search, click_ts and click_slug: its first click)."""
    return db.execute(_SEARCHES_WITH_NEXT, {"start": start, "end": end})


def has_down_vote(db, session: str, slug: str, start: str, end: str) -> bool:
    """True when session voted slug "not helpful" with start <= ts <= end."""
    return db.execute("SELECT 1 FROM votes WHERE session = ? AND slug = ? AND helpful = 0 AND ts >= ? AND ts <= ? "
                      "LIMIT 1", [session, slug, start, end]).fetchone() is not None


def clicks_with_next_search(db, start: str, end: str):
    """(slug, ts, ts of the session's next search or None) of every click with a session in the period."""
    return db.execute("""
      SELECT c.slug, c.ts,
             (SELECT MIN(s.ts) FROM searches s WHERE s.session = c.session AND s.ts > c.ts) AS next_search
      FROM clicks c WHERE c.ts >= ? AND c.ts < ? AND c.session != ''
    """, [start, end])


def last_votes_by_article(db, start: str, end: str) -> dict[str, tuple[int, int]]:
    """Per article: (helpful votes, all votes) in the period, counting each session's last vote on it
    (votes without a session each count)."""
    sql = ("SELECT slug, SUM(helpful), COUNT(*) FROM votes v WHERE ts >= ? AND ts < ? AND (session = '' OR "
           "id = (SELECT MAX(id) FROM votes w WHERE w.session = v.session AND w.slug = v.slug "
           "AND w.ts >= ? AND w.ts < ?)) GROUP BY slug")
    return {slug: (int(h or 0), int(n)) for slug, h, n in db.execute(sql, [start, end, start, end])}


def search_counts_by_query(db, start: str, end: str):
    """(query, searches) for every query typed in the period."""
    return db.execute("SELECT query, COUNT(*) FROM searches WHERE ts >= ? AND ts < ? GROUP BY query", [start, end])


def search_counts_by_top_slug(db, start: str, end: str) -> dict[str, int]:
    """Searches in the period that found something, per article put first (JSON parsed here, not in SQL)."""
    out: dict[str, int] = {}
    for top_slugs, n in db.execute("SELECT top_slugs, COUNT(*) FROM searches WHERE ts >= ? AND ts < ? "
                                   "AND results > 0 GROUP BY top_slugs", [start, end]):
        try:
            slugs = json.loads(top_slugs or "[]")
        except ValueError:
            continue
        if isinstance(slugs, list) and slugs and isinstance(slugs[0], str) and slugs[0]:
            out[slugs[0]] = out.get(slugs[0], 0) + int(n)
    return out


def kept_click_candidates(db, since: str):
    """(normalized query, slug, ts, client, next search ts, first later 👎 ts) of clicks since `since`
    that have a session: the raw material of click re-ranking."""
    return db.execute("""
      SELECT s.normalized, c.slug, c.ts, CASE WHEN COALESCE(c.client, '') != '' THEN c.client ELSE c.session END,
             (SELECT MIN(s2.ts) FROM searches s2 WHERE s2.session = c.session AND s2.ts > c.ts),
             (SELECT MIN(v.ts) FROM votes v WHERE v.session = c.session AND v.slug = c.slug AND v.helpful = 0
                AND v.ts >= c.ts)
      FROM clicks c JOIN searches s ON s.query_id = c.query_id
      WHERE c.ts >= ? AND c.session != ''
    """, [since])


def clicks_in(db, start: str, end: str):
    """(query_id, slug, ts) of every click in the period."""
    return db.execute("SELECT query_id, slug, ts FROM clicks WHERE ts >= ? AND ts < ?", [start, end])


def down_votes_in(db, start: str, end: str):
    """(session, slug, ts) of every "not helpful" vote with a session in the period."""
    return db.execute("SELECT session, slug, ts FROM votes WHERE helpful = 0 AND ts >= ? AND ts < ? "
                      "AND session != ''", [start, end])


def session_searches_in(db, start: str, end: str) -> list[tuple]:
    """(query_id, session, ts, normalized) of every search with a session in the period, by session then time."""
    return db.execute("SELECT query_id, session, ts, normalized FROM searches WHERE ts >= ? AND ts < ? "
                      "AND session != '' ORDER BY session, ts", [start, end]).fetchall()


def shown_answer(db, query_id: str) -> tuple | None:
    """(answer JSON or "") the search query_id showed, None when there is no such search."""
    return db.execute("SELECT answer FROM searches WHERE query_id = ?", [query_id]).fetchone()
