"""The change feed and leases that let several `kb serve` nodes share one database and one docs folder.

Each node keeps its own search index and site (in its own data folder). Every change that alters what
search or the site shows (publish, unpublish, an edit, a restored revision, a learned synonym decided)
appends a row to ``changes`` in the same transaction as the change itself, so a change is in the feed
exactly when it happened. Nodes poll ``SELECT max(version)`` (one indexed lookup) and apply the rows they
have not seen: re-index from the shared docs folder, re-render the pages named, reload synonyms.

A node is its data folder: ``<data>/node.id`` holds a random id made on first use (and made anew when the
folder was copied to another host or path). Rows carry the id of
the node that made them (``origin``), and that node skips them: it updated its own index and site when
it made the change. A `kb contrib approve` run on the same data folder as a `kb serve` is the same node.

``leases`` lets one node, not every node, run a scheduled job for a period: a row per job name taken by
compare-and-set (a new period, or the same period whose holder's lease expired unfinished).

SQL here is backend-neutral (times computed in Python, ``ON CONFLICT``), for SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
from pathlib import Path

from .clock import iso, now_iso

NODE_FILE = "node.id"


def create_change_tables(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS changes (version INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
               "slug TEXT, path TEXT, origin TEXT NOT NULL DEFAULT '', ts TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, period INTEGER NOT NULL, "
               "holder TEXT NOT NULL, expires_at TEXT NOT NULL, done_at TEXT)")


MIGRATIONS = [create_change_tables]


def node_id(data_dir: Path) -> str:
    """This data folder's node id: made once and kept in <data>/node.id with the host and folder it was made
    for, so that a data folder copied to another machine or path (a new node made from an old one's copy)
    gets its own id instead of ignoring the original's changes as if they were its own."""
    data = Path(data_dir).resolve()
    where = f"{socket.gethostname()}:{data}"
    path = data / NODE_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("where") == where and saved.get("id"):
            return saved["id"]
    except (OSError, ValueError, AttributeError):
        pass
    data.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{NODE_FILE}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps({"id": secrets.token_hex(8), "where": where}), encoding="utf-8")
    os.replace(tmp, path)
    return json.loads(path.read_text(encoding="utf-8"))["id"]  # two processes starting at once agree on one


# -- the feed ----------------------------------------------------------------------------------------------
def record(db, kind: str, slug: str | None = None, path: str | None = None, origin: str = "") -> int:
    """Append a change (call inside the transaction that makes it); returns its version."""
    return db.execute("INSERT INTO changes (kind, slug, path, origin, ts) VALUES (?, ?, ?, ?, ?) RETURNING version",
                      [kind, slug, path, origin, now_iso()]).fetchone()[0]


def latest(db) -> int:
    """The newest change's version (0 for none): what a node compares with what it applied."""
    row = db.execute("SELECT max(version) FROM changes").fetchone()
    return int(row[0] or 0)


def since(db, version: int, limit: int = 1000) -> list[dict]:
    """Changes after version, oldest first."""
    cursor = db.execute("SELECT version, kind, slug, path, origin, ts FROM changes WHERE version > ? "
                        "ORDER BY version LIMIT ?", [version, limit])
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- leases ------------------------------------------------------------------------------------------------
def take_lease(db, name: str, period: int, holder: str, seconds: float, now: dt.datetime | None = None) -> bool:
    """Take the lease on job `name` for `period` (call inside a transaction); False if another holder has it,
    or the period's job already ran. An unfinished lease whose time ran out can be taken over."""
    now = now or dt.datetime.now(dt.timezone.utc)
    expires = iso(now + dt.timedelta(seconds=seconds))
    cursor = db.execute("INSERT INTO leases (name, period, holder, expires_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (name) DO NOTHING", [name, period, holder, expires])
    if cursor.rowcount == 1:
        return True
    cursor = db.execute("UPDATE leases SET period = ?, holder = ?, expires_at = ?, done_at = NULL "
                        "WHERE name = ? AND (period < ? OR (period = ? AND done_at IS NULL AND expires_at < ?))",
                        [period, holder, expires, name, period, period, iso(now)])
    return cursor.rowcount == 1


def finish_lease(db, name: str, period: int, holder: str, done: bool = True) -> None:
    """Mark the period's job done (or, with done=False, give the lease up so another node may run it)."""
    if done:
        db.execute("UPDATE leases SET done_at = ? WHERE name = ? AND period = ? AND holder = ?",
                   [now_iso(), name, period, holder])
    else:
        db.execute("UPDATE leases SET expires_at = ? WHERE name = ? AND period = ? AND holder = ?",
                   [iso(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)), name, period, holder])


def lease(db, name: str) -> dict | None:
    """The lease row of job `name`, or None."""
    cursor = db.execute("SELECT name, period, holder, expires_at, done_at FROM leases WHERE name = ?", [name])
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None
