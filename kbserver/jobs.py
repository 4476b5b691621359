"""Running the analysis from the service: on demand (dashboard button) and on a schedule."""

from __future__ import annotations

import logging
import threading

from analytics.analyze import analyze
from analytics.store import open_db
from indexer.articles import load_articles

log = logging.getLogger(__name__)
_running = threading.Lock()  # one analysis at a time, whoever asked


def analyze_now(app):
    """Run `kb analyze` for this app's docs and database; returns the AnalysisReport."""
    settings = app.config["KB"]
    with _running:
        articles = [a.to_dict() | {"body": a.body} for a in load_articles(settings["docs"])]
        db = open_db(settings["database_url"])
        try:
            from .settings import closure_rules, failing_rules

            return analyze(db, articles, period_days=settings["period"], rules=failing_rules(settings),
                           closure=closure_rules(settings), index=app.extensions.get("kb_index"))
        finally:
            db.conn.close()


def start_schedule(app, minutes: int) -> threading.Thread | None:
    """Analyze every `minutes` in a background thread (none when minutes is 0)."""
    if not minutes:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(minutes * 60):
            try:
                from analytics.store import open_db as _open

                db = _open(app.config["KB"]["database_url"])
                try:
                    app.extensions["kb_publisher"].recover(db)  # retry publications that failed
                finally:
                    db.conn.close()
                report = analyze_now(app)
                log.info("scheduled analysis: %d gaps, %d article flags", len(report.gaps), len(report.article_flags))
            except Exception:  # a failed run must not stop the next one
                log.exception("scheduled analysis failed")

    thread = threading.Thread(target=loop, name="kb-analyze-schedule", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
