"""The knowledge manager's dashboard (server-rendered) and the queue's JSON API."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from analytics import flags as queue
from analytics.events import daily_health
from analytics.health import article_health, health_by_slug
from analytics.links import article_stats
from indexer.errors import Conflict, InvalidInput

from .auth import require_role
from .charts import line_chart
from .db import get_db
from .inputs import is_whole_number

bp = Blueprint("dashboard", __name__)
ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "reopen": "open"}
HEALTH_DAYS = 30


def _charts(db) -> list[str]:
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    start = end - dt.timedelta(days=HEALTH_DAYS + 1)
    days = daily_health(db, start.date().isoformat(), end.date().isoformat())
    return [
        line_chart([(d["day"], d["searches"]) for d in days], "每日搜索量"),
        line_chart([(d["day"], d["zero_result_rate"]) for d in days], "零结果率", percent=True),
        line_chart([(d["day"], d["click_through_rate"]) for d in days], "点击率", percent=True),
        line_chart([(d["day"], d["helpful_rate"]) for d in days], "有帮助比例", percent=True),
    ]


@bp.get("/dashboard")
@require_role("manager")
def index():
    """Search health, content gaps and the stale/unhelpful list, most urgent first."""
    db = get_db()
    show = request.args.get("show", "active")
    states = ("open", "acknowledged") if show == "active" else queue.STATES
    flags = queue.list_flags(db, states=states)
    scores = health_by_slug(db)
    # Least healthy article first (one score per article, from every signal), then the flag's own urgency.
    articles = sorted((f for f in flags if f["kind"] == "article"),
                      key=lambda f: (scores.get(f["slug"], 100.0), -f["score"]))
    return render_template("dashboard.html", charts=_charts(db), show=show, link_stats=article_stats(db),
                           gaps=[f for f in flags if f["kind"] == "gap"], articles=articles, health=scores,
                           least_healthy=article_health(db, limit=10))


@bp.get("/dashboard/flags/<int:flag_id>")
@require_role("manager")
def flag_detail(flag_id: int):
    """One flag: its evidence and who did what when."""
    return render_template("flag.html", flag=queue.get_flag(get_db(), flag_id))


@bp.post("/dashboard/flags/<int:flag_id>")
@require_role("manager")
def flag_action(flag_id: int):
    """Acknowledge, resolve, dismiss or reopen, as of the version the manager saw."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        raise InvalidInput("the form lacks the flag's version; reload the page") from None
    try:
        queue.transition(get_db(), flag_id, ACTIONS[action], g.user["name"], version, request.form.get("note", ""))
        flash(f"已{_verb(action)}：#{flag_id}")
    except (Conflict, InvalidInput) as exc:  # a stale page or an unusable note: say so, change nothing
        flash(f"没有保存：{exc.message}", "error")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith("/dashboard")
                    else url_for("dashboard.index"))


@bp.post("/dashboard/analyze")
@require_role("manager")
def run_analysis():
    """Run the analysis now instead of waiting for the schedule."""
    from .jobs import analyze_now

    report = analyze_now(current_app)
    flash(f"分析完成：{len(report.gaps)} 个内容缺口，{len(report.article_flags)} 个文章问题。")
    return redirect(url_for("dashboard.index"))


def _verb(action: str) -> str:
    return {"acknowledge": "确认", "resolve": "解决", "dismiss": "忽略", "reopen": "重新打开"}[action]


# -- JSON API (Authorization: Bearer <manager token>) ---------------------------------------
@bp.get("/api/flags")
@require_role("manager")
def api_flags():
    """GET /api/flags?state=open&kind=gap → the queue, most urgent first."""
    state = request.args.get("state")
    if state and state not in queue.STATES:
        raise InvalidInput(f"state must be one of {', '.join(queue.STATES)}")
    kind = request.args.get("kind")
    if kind and kind not in ("gap", "article"):
        raise InvalidInput("kind must be gap or article")
    return jsonify({"flags": queue.list_flags(get_db(), states=(state,) if state else queue.STATES, kind=kind)})


@bp.get("/api/flags/<int:flag_id>")
@require_role("manager")
def api_flag(flag_id: int):
    """GET /api/flags/<id> → one flag with its history."""
    return jsonify(queue.get_flag(get_db(), flag_id))


@bp.post("/api/flags/<int:flag_id>")
@require_role("manager")
def api_flag_transition(flag_id: int):
    """POST /api/flags/<id> {state, version, note?} → the flag after the change, or 409."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    version = body.get("version")
    if not is_whole_number(version):
        raise InvalidInput("version must be the flag's current version (a whole number), so no update is lost")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise InvalidInput("note must be a string of at most 2000 characters")
    return jsonify(queue.transition(get_db(), flag_id, body.get("state"), g.user["name"], version, note))
