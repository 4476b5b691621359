"""Several `kb serve` nodes on one database: follow the change feed (indexer/changes.py) into this node's
own index, site and learned synonyms.

Polling, not LISTEN/NOTIFY: one indexed ``SELECT max(version)`` a second costs nothing measurable, works the
same on SQLite (several processes on one machine) and PostgreSQL, needs no connection held open per node,
and a node that missed a notification (restarted, network blip) catches up by the same query anyway.
"""

from __future__ import annotations

import logging
import threading
import time

from indexer import changes

log = logging.getLogger(__name__)
PAGE_KINDS = ("publish", "unpublish", "save", "new", "restore", "reviewed", "recover")
SYNONYM_KINDS = ("synonyms",)


class ChangeFollower:
    """Applies the changes other nodes made, in a background thread polling every ``poll_seconds``.

    ``apply(rows)`` is given the rows this node did not make, oldest first. Versions can commit out of order
    on PostgreSQL (a sequence value is taken before the commit), so the follower remembers which versions
    it has seen above the highest contiguous one, and waits ``gap_seconds`` for a missing version before
    deciding it was rolled back."""

    def __init__(self, open_db, node: str, apply, poll_seconds: float = 1.0, gap_seconds: float = 30.0):
        self.open_db, self.node, self.apply = open_db, node, apply
        self.poll_seconds, self.gap_seconds = poll_seconds, gap_seconds
        self.floor = 0  # every version up to here is handled
        self._seen: set[int] = set()  # handled versions above the floor
        self._gaps: dict[int, float] = {}  # missing version → when first missed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db = None  # one connection kept for the polls (a PostgreSQL connection is not free to open)
        self.errors = 0

    @property
    def applied(self) -> int:
        """The highest version this node has handled."""
        return max(self._seen, default=self.floor)

    def start(self, since: int) -> None:
        """Follow from version `since` (what this node's start-up already caught up to) in a daemon thread."""
        self.floor = since
        if not self.poll_seconds:
            return
        self._thread = threading.Thread(target=self._run, name="kb-change-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the polling thread (after the poll in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._db is not None:
            try:
                self._db.conn.close()
            except Exception:  # noqa: BLE001 - a broken connection is being thrown away anyway
                pass
            self._db = None

    def poll(self) -> list[dict]:
        """Look once, apply what is new; returns the rows applied (other nodes' only)."""
        with self._lock:
            try:
                if self._db is None:
                    self._db = self.open_db()
                newest = changes.latest(self._db)
                if newest <= self.applied and not self._gaps:
                    return []
                rows = [r for r in changes.since(self._db, self.floor) if r["version"] not in self._seen]
            except Exception:
                self._close()  # reconnect at the next poll (the server restarted, the network blipped)
                raise
            theirs = [r for r in rows if r["origin"] != self.node]
            if theirs:
                self.apply(theirs)  # raises: nothing is marked seen, the next poll tries again
            self._seen.update(r["version"] for r in rows)
            for r in rows:
                self._gaps.pop(r["version"], None)
            self._advance()
            return theirs

    def _advance(self) -> None:
        now = time.monotonic()
        for version in range(self.floor + 1, self.applied):
            if version not in self._seen:
                self._gaps.setdefault(version, now)
        while True:
            nxt = self.floor + 1
            if nxt in self._seen:
                self._seen.discard(nxt)
            elif nxt in self._gaps and now - self._gaps[nxt] >= self.gap_seconds:
                self._gaps.pop(nxt)  # rolled back (or committed so late it is lost to us: logged)
                log.warning("change %d never appeared; skipped", nxt)
            else:
                break
            self.floor = nxt

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a database blip must not end following; the next poll retries
                self.errors += 1
                log.exception("applying the change feed failed; will retry")


def apply_to_app(app, rows: list[dict]) -> None:
    """Bring this node's index, pages and learned synonyms up to date with other nodes' changes."""
    from contrib.editing import reindex

    from .db import open_db

    settings = app.config["KB"]
    paths = sorted({r["path"] for r in rows if r["kind"] in PAGE_KINDS and r["path"]})
    if paths:
        reindex(settings["docs"], settings["data"])  # the shared docs folder holds the changed files
        app.extensions["kb_refresh_site"](paths)
    if any(r["kind"] in SYNONYM_KINDS for r in rows):
        db = open_db(settings["database_url"], migrate=False)
        try:
            app.extensions["kb_learned"].sync(lambda: db, force=True)
        finally:
            db.conn.close()
    log.info("applied changes %s from other nodes", ", ".join(str(r["version"]) for r in rows))


def make_follower(app) -> ChangeFollower:
    """The app's follower (not started: `kb serve` starts it from the version its start-up caught up to)."""
    from .db import open_db

    settings = app.config["KB"]
    return ChangeFollower(lambda: open_db(settings["database_url"], migrate=False),
                          changes.node_id(settings["data"]), lambda rows: apply_to_app(app, rows),
                          poll_seconds=settings["change_poll"])
