"""What kb learns from its logs, for managers: learned synonyms (/synonyms) and article health."""

from __future__ import annotations

import threading
import time

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from analytics import health
from analytics import synonyms as learned
from indexer.errors import Conflict, InvalidInput
from indexer.i18n import N_

from .auth import require_role
from .db import get_db
from .i18n import said_to_people
from .inputs import is_whole_number, json_object

bp = Blueprint("learning", __name__)
CHECK_SECONDS = 2.0  # how often a search looks for pairs approved by another process (kb synonyms approve)


class LearnedSynonyms:
    """Keeps the index's learned synonym pairs in step with the approved ones in the database."""

    def __init__(self, index, check_seconds: float = CHECK_SECONDS):
        self.index, self.check_seconds = index, check_seconds
        self._lock = threading.Lock()
        self._stamp = None
        self._checked = float("-inf")

    def sync(self, open_db, force: bool = False) -> None:
        """Reload the approved pairs if they changed (looked at every check_seconds, or now with force)."""
        if not force and time.monotonic() - self._checked < self.check_seconds:
            return
        with self._lock:
            db = open_db()
            stamp = learned.approved_stamp(db)
            self._checked = time.monotonic()
            if force or stamp != self._stamp:
                self.index.set_learned_synonyms(learned.approved_pairs(db))
                self._stamp = stamp


def _decide(synonym_id: int, decision: str, version, note: str) -> dict:
    row = learned.decide(get_db(), synonym_id, decision, g.user["name"], version, note,
                         origin=current_app.extensions["kb_node"])
    current_app.extensions["kb_learned"].sync(get_db, force=True)  # effective for the very next search
    return row


@bp.get("/synonyms")
@require_role("manager")
def page():
    """Proposed, approved and rejected word pairs, with evidence and buttons."""
    state = request.args.get("state") or None
    if state not in (None, *learned.STATES):
        state = None
    return render_template("synonyms.html", pairs=learned.list_synonyms(get_db(), state), state=state)


@bp.post("/synonyms/<int:synonym_id>")
@require_role("manager")
def page_decide(synonym_id: int):
    """Approve or reject from the page, as of the version the manager saw."""
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        raise InvalidInput(N_("表单里缺少这对词的版本号，请刷新页面")) from None
    decision = request.form.get("decision", "")
    try:
        row = _decide(synonym_id, decision, version, request.form.get("note", ""))
        flash((gettext("已采纳：%(pair)s") if row["state"] == "approved" else gettext("已拒绝：%(pair)s"))
              % {"pair": f"{row['customer']} → {row['article']}"})
    except (Conflict, InvalidInput) as exc:
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    return redirect(url_for("learning.page"))


@bp.get("/api/synonyms")
@require_role("manager")
def api_list():
    """GET /api/synonyms?state= → learned word pairs with counts and examples."""
    state = request.args.get("state") or None
    return jsonify({"synonyms": learned.list_synonyms(get_db(), state)})


@bp.get("/api/synonyms/<int:synonym_id>")
@require_role("manager")
def api_get(synonym_id: int):
    """GET /api/synonyms/<id> → one pair with its audit history."""
    return jsonify(learned.get_synonym(get_db(), synonym_id))


@bp.post("/api/synonyms/<int:synonym_id>")
@require_role("manager")
def api_decide(synonym_id: int):
    """POST /api/synonyms/<id> {decision: approve|reject, version?, note?} → the pair after the decision."""
    body = json_object()
    version = body.get("version")
    if version is not None and not is_whole_number(version):
        raise InvalidInput(N_("version 必须是这对词的版本号（整数），也可以不填"))
    note = body.get("note", "")
    if note is None:
        note = ""
    if not isinstance(body.get("decision"), str):
        raise InvalidInput(N_("决定必须是 %(choices)s 之一"), choices=", ".join(learned.DECISIONS))
    return jsonify(_decide(synonym_id, body["decision"], version, note))


@bp.get("/api/article-health")
@require_role("manager")
def api_health():
    """GET /api/article-health?slug=&limit= → articles' 0-100 health scores, least healthy first."""
    limit = request.args.get("limit", "100")
    try:
        limit = int(limit)
    except ValueError:
        raise InvalidInput(N_("limit 必须是整数")) from None
    if not 1 <= limit <= 10000:
        raise InvalidInput(N_("limit 必须在 1 到 10000 之间"))
    slug = request.args.get("slug") or None
    return jsonify({"articles": health.article_health(get_db(), limit=limit, slug=slug)})
