"""提交问题 / Ask the support team: customers' questions stored, shown to managers, forwarded to a helpdesk.

POST /api/questions is public (the search page's form posts it), so it is limited per client
address (analytics/questions.py counts stored rows) and validated like every other input. When
``--ask-webhook-url`` is set, each question is POSTed as JSON to that URL by a background thread,
off the request path: the customer's answer never waits for the helpdesk. Delivery state lives in
the questions table, so a question the helpdesk did not take (error, timeout, non-2xx) is retried
with backoff and resent after a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request

from flask import Blueprint, current_app, jsonify, render_template, request

from analytics import questions
from analytics.store import open_db

from .api import session_id
from .auth import require_role
from .db import get_db
from .inputs import json_object

log = logging.getLogger(__name__)
bp = Blueprint("ask", __name__)
WEBHOOK_TIMEOUT = 10  # seconds per delivery attempt


@bp.post("/api/questions")
def ask():
    """POST /api/questions {question, email?, query?} → 201 with the stored question's id."""
    body = json_object()
    settings = current_app.config["KB"]
    forward = bool(settings["ask_webhook_url"])
    stored = questions.add_question(get_db(), body.get("question"), body.get("email"), body.get("query"),
                                    session=session_id(), address=request.remote_addr or "-", forward=forward)
    if forward:
        current_app.extensions["kb_forwarder"].notify()
    return jsonify({"ok": True, "id": stored["id"], "forwarded": forward}), 201


@bp.get("/questions")
@require_role("manager")
def questions_page():
    """Customers' questions, newest first (plain text, escaped by the template)."""
    db = get_db()
    return render_template("questions.html", questions=questions.list_questions(db),
                           total=questions.count_questions(db),
                           webhook=bool(current_app.config["KB"]["ask_webhook_url"]))


class QuestionForwarder:
    """Delivers pending questions to the helpdesk webhook in one background thread, with retries.

    Started by `kb serve` (so questions left pending by a previous run are resent) or by the first
    question asked; ``deliver_due()`` runs one pass and can be called directly."""

    def __init__(self, database_url: str, url: str, timeout: float = WEBHOOK_TIMEOUT):
        self.database_url, self.url, self.timeout = database_url, url, timeout
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the delivery thread (once); nothing happens without a webhook URL."""
        if not self.url:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="kb-ask-forwarder", daemon=True)
                self._thread.start()

    def notify(self) -> None:
        """A question is waiting: deliver it now."""
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """Stop the thread (pending questions stay pending, for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 60.0
            try:
                wait = self.deliver_due()
            except Exception:  # a broken database must not end the thread: try again later
                log.exception("delivering questions to the helpdesk failed")
            self._wake.wait(max(0.05, wait))
            self._wake.clear()

    def deliver_due(self) -> float:
        """Send every question whose attempt is due; returns seconds until the next is due (60 if none)."""
        db = open_db(self.database_url, migrate=False)
        try:
            for item in questions.due_deliveries(db):
                if self._stop.is_set():
                    break
                error = self._post(item)
                if error is None:
                    questions.mark_delivered(db, item["id"])
                else:
                    delay = questions.mark_failed(db, item["id"], error)
                    log.warning("question %s not delivered to the helpdesk (%s); retrying in %ss", item["id"], error, delay)
            due = questions.next_due(db)
        finally:
            db.conn.close()
        return 60.0 if due is None else min(60.0, max(0.0, due - time.time()))

    def _post(self, item: dict) -> str | None:
        payload = {"id": item["id"], "asked_at": item["ts"], "question": item["question"], "email": item["email"],
                   "query": item["query"], "source": "kb"}
        req = urllib.request.Request(self.url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                     method="POST", headers={"Content-Type": "application/json; charset=utf-8",
                                                             "User-Agent": "kb-ask-forwarder"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return str(getattr(exc, "reason", exc))[:200]
