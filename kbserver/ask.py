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
import time

from flask import Blueprint, current_app, jsonify, render_template, request

from analytics import questions

from .api import request_source, session_id
from .auth import require_role
from .db import get_db, open_db
from .delivery import BackgroundWorker, post
from .inputs import json_object

log = logging.getLogger(__name__)
bp = Blueprint("ask", __name__)
WEBHOOK_TIMEOUT = 10  # seconds per delivery attempt


@bp.post("/api/questions")
def ask():
    """POST /api/questions {question, email?, query?} → 201 with the stored question's id."""
    return jsonify(ask_question(json_object(), session=session_id(), source=request_source())), 201


def ask_question(body: dict, *, session: str, source: str) -> dict:
    """Store a customer's question (validated, rate-limited per address), wake its deliveries; the API's answer."""
    forward = bool(current_app.config["KB"]["ask_webhook_url"])
    stored = questions.add_question(get_db(), body.get("question"), body.get("email"), body.get("query"),
                                    session=session, address=request.remote_addr or "-", forward=forward,
                                    source=source)
    if forward:
        current_app.extensions["kb_forwarder"].notify()
    current_app.extensions["kb_notifier"].notify()
    return {"ok": True, "id": stored["id"], "forwarded": forward}


@bp.get("/questions")
@require_role("manager")
def questions_page():
    """Customers' questions, newest first (plain text, escaped by the template)."""
    db = get_db()
    return render_template("questions.html", questions=questions.list_questions(db),
                           total=questions.count_questions(db),
                           webhook=bool(current_app.config["KB"]["ask_webhook_url"]))


class QuestionForwarder(BackgroundWorker):
    """Delivers pending questions to the helpdesk webhook in one background thread, with retries.

    Started by `kb serve` (so questions left pending by a previous run are resent) or by the first
    question asked; ``deliver_due()`` runs one pass and can be called directly."""

    name = "kb-ask-forwarder"

    def __init__(self, database_url: str, url: str, timeout: float = WEBHOOK_TIMEOUT):
        super().__init__()
        self.database_url, self.url, self.timeout = database_url, url, timeout

    def enabled(self) -> bool:
        """Nothing happens without a webhook URL."""
        return bool(self.url)

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
                   "query": item["query"], "source": "kb", "channel": item["source"] or "api"}
        return post(self.url, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                    {"Content-Type": "application/json; charset=utf-8", "User-Agent": "kb-ask-forwarder"},
                    self.timeout)[1]
