"""Running the analysis from the service: on demand (dashboard button) and on a schedule."""

from __future__ import annotations

import logging
import os
import threading
import time

from analytics.analyze import analyze
from indexer import changes
from indexer.articles import load_articles
from indexer.i18n import using
from indexer.store import transaction

from .db import open_db

log = logging.getLogger(__name__)
_running = threading.Lock()  # one analysis at a time, whoever asked


def analyze_now(app):
    """Run `kb analyze` for this app's docs and database; returns the AnalysisReport."""
    settings = app.config["KB"]
    with _running, using(settings["language"]):  # suggestions are written in the company's language
        articles = [a.to_dict() | {"body": a.body} for a in load_articles(settings["docs"])]
        db = open_db(settings["database_url"])
        try:
            from .settings import closure_rules, failing_rules

            return analyze(db, articles, period_days=settings["period"], rules=failing_rules(settings),
                           closure=closure_rules(settings), index=app.extensions.get("kb_index"))
        finally:
            db.conn.close()


ANALYSIS_LEASE = "analyze"


def run_scheduled(app, period: int, lease_seconds: float):
    """The scheduled run of `period` (recovery of interrupted publications, then the analysis), on one node
    only: the node that takes the period's lease runs it; returns its report, or None when another node
    has the lease or already ran this period. A failed run gives the lease up for another node to retry."""
    settings = app.config["KB"]
    holder = f"{app.extensions['kb_node']}:{os.getpid()}"
    db = open_db(settings["database_url"])
    try:
        with transaction(db):
            if not changes.take_lease(db, ANALYSIS_LEASE, period, holder, lease_seconds):
                return None
        try:
            app.extensions["kb_publisher"].recover(db)  # retry publications that failed
            report = analyze_now(app)
        except BaseException:
            with transaction(db):
                changes.finish_lease(db, ANALYSIS_LEASE, period, holder, done=False)
            raise
        with transaction(db):
            changes.finish_lease(db, ANALYSIS_LEASE, period, holder)
        return report
    finally:
        db.conn.close()


def start_schedule(app, minutes: int) -> threading.Thread | None:
    """Analyze every `minutes` in a background thread (none when minutes is 0); with several nodes on one
    database, each period's run happens on one of them (the first to wake takes the period's lease)."""
    if not minutes:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(minutes * 60):
            try:
                report = run_scheduled(app, int(time.time() // (minutes * 60)), minutes * 60)
                if report is not None:
                    log.info("scheduled analysis: %d gaps, %d article flags", len(report.gaps),
                             len(report.article_flags))
            except Exception:  # a failed run must not stop the next one
                log.exception("scheduled analysis failed")

    thread = threading.Thread(target=loop, name="kb-analyze-schedule", daemon=True)
    thread.stop = stop
    thread.start()
    return thread


class SiteUpdater:
    """Site updates off the request path: `refresh(changed_paths)` queues them and returns a ticket at once;
    one background thread renders what the queued changes touch (several queued changes in one update).

    A ticket is queued, then building, then live (its pages are being served) or failed (the previous
    pages keep serving; the error says why)."""

    KEEP = 1000  # tickets remembered for status questions

    def __init__(self, update):
        self.update = update  # callable(changed_paths); raises on failure
        self._cond = threading.Condition()
        self._pending: list[tuple[str, list[str]]] = []
        self._tickets: dict[str, dict] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    def refresh(self, changed_paths) -> str:
        """Queue an update of the site for these docs paths; returns the ticket to ask about."""
        import secrets

        ticket = secrets.token_hex(8)
        with self._cond:
            self._tickets[ticket] = {"ticket": ticket, "state": "queued", "paths": list(changed_paths)}
            while len(self._tickets) > self.KEEP:
                self._tickets.pop(next(iter(self._tickets)))
            self._pending.append((ticket, list(changed_paths)))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kb-site-updater", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return ticket

    def status(self, ticket: str) -> dict | None:
        """{ticket, state, paths, error?} or None for a ticket this process never gave out."""
        with self._cond:
            found = self._tickets.get(ticket)
            return dict(found) if found else None

    def wait(self, ticket: str, timeout: float | None = None) -> dict | None:
        """Block until the ticket is live or failed (or the timeout passes); returns its status."""
        with self._cond:
            self._cond.wait_for(lambda: self._tickets.get(ticket, {}).get("state") in (None, "live", "failed"),
                                timeout)
        return self.status(ticket)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued update is live or failed; False if the timeout passed first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: all(t["state"] in ("live", "failed") for t in self._tickets.values()), timeout)

    def stop(self) -> None:
        """Finish the update in progress and the queued ones, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                for ticket, _ in batch:
                    if ticket in self._tickets:
                        self._tickets[ticket]["state"] = "building"
            paths = sorted({p for _, ps in batch for p in ps})
            started = time.monotonic()
            try:
                self.update(paths)
                outcome = {"state": "live", "seconds": round(time.monotonic() - started, 2)}
            except Exception as exc:  # noqa: BLE001 - reported on the ticket; the previous site keeps serving
                log.exception("site update for %s failed", ", ".join(paths))
                outcome = {"state": "failed", "error": str(getattr(exc, "message", exc))}
            with self._cond:
                for ticket, _ in batch:
                    if ticket in self._tickets:
                        self._tickets[ticket].update(outcome)
                self._cond.notify_all()
