"""The knowledge manager's dashboard (server-rendered) and the queue's JSON API."""

from __future__ import annotations

import datetime as dt
from functools import cache

from flask import Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from analytics import closure as fixes
from analytics import flags as queue
from analytics import report as reports
from analytics.health import article_health, health_by_slug
from analytics.links import article_stats
from indexer.errors import Conflict, InvalidInput, NotFound
from indexer.i18n import N_

from .auth import require_role
from .charts import line_chart
from .db import get_db
from .i18n import said_to_people
from .inputs import is_whole_number
from .settings import failing_rules
from .timefmt import time_zone

bp = Blueprint("dashboard", __name__)
ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "reopen": "open"}
# Each chart: (column of the daily table, title, percent?)
CHARTS = (("searches", N_("每日搜索量"), False), ("self_service_rate", N_("自助解决率"), True),
          ("zero_result_rate", N_("零结果率"), True), ("click_through_rate", N_("点击率"), True),
          ("helpful_rate", N_("有帮助比例"), True))


def _report(args=None) -> dict:
    """The report for the range the request asks for (?days=7|30|90 or ?from=&to=); InvalidInput if unusable."""
    settings = current_app.config["KB"]
    zone = time_zone(settings["time_zone"])
    args = request.args if args is None else args
    rng = reports.resolve_range(zone, args.get("from"), args.get("to"), args.get("days"))
    index = current_app.extensions.get("kb_index")

    @cache
    def module_of(slug: str) -> str:
        try:
            return (index.article(slug).get("module") or "") if index else ""
        except NotFound:
            return ""

    db = get_db()
    data = reports.report(db, rng, failing_rules(settings), settings["escalation_window"], module_of)
    data["today"] = reports.today(db, zone, failing_rules(settings), settings["escalation_window"])
    return data


def _charts(db, data: dict) -> list[str]:
    after = (dt.date.fromisoformat(data["to"]) + dt.timedelta(days=1)).isoformat()
    return [line_chart([(d["day"], d[key]) for d in data["daily"]], gettext(title), percent=percent)
            for key, title, percent in CHARTS] + [_closure_chart(db, data["from"], after)]


def _closure_chart(db, start: str, end: str) -> str:
    """Verified closures so far, day by day: the number a head of support reports upward."""
    total, points = 0, []
    for day, n in fixes.verified_by_day(db, start, end):
        total += n
        points.append((day, total))
    return line_chart(points, gettext("已验证关闭的缺口（累计）"))


@bp.get("/dashboard")
@require_role("manager")
def index():
    """Search health for a date range, content gaps and the stale/unhelpful list, most urgent first."""
    db = get_db()
    show = request.args.get("show", "active")
    states = ("open", "acknowledged") if show == "active" else queue.STATES
    flags = queue.list_flags(db, states=states)
    try:
        data, range_error = _report(), None
    except InvalidInput as exc:  # a hand-edited URL: say what is wrong and show the default range
        data, range_error = _report({}), exc.text
    scores = health_by_slug(db)
    # Least healthy article first (one score per article, from every signal), then the flag's own urgency.
    articles = sorted((f for f in flags if f["kind"] == "article"),
                      key=lambda f: (scores.get(f["slug"], 100.0), -f["score"]))
    return render_template("dashboard.html", r=data, charts=_charts(db, data), show=show, link_stats=article_stats(db),
                           range_error=range_error, presets=reports.PRESETS, query=_range_query(data),
                           fixes=fixes.list_fixes(db, limit=20),
                           gaps=[f for f in flags if f["kind"] == "gap"], articles=articles, health=scores,
                           least_healthy=article_health(db, limit=10))


def _range_query(data: dict) -> str:
    return f"from={data['from']}&to={data['to']}"


@bp.get("/dashboard/export/<name>.csv")
@require_role("manager")
def export(name: str):
    """One table of the dashboard (same range parameters) as CSV, with the numbers the page shows."""
    if name not in reports.TABLES:
        raise NotFound(N_("没有名为 %(name)r 的表格；可以导出的表格：%(tables)s"), name=name, tables=", ".join(reports.TABLES))
    data = _report()
    text = "\ufeff" + reports.to_csv(reports.table(data, name))  # Excel reads UTF-8 Chinese only with a BOM
    filename = f"kb-{name}-{data['from']}-{data['to']}.csv"
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- read-only analytics API (Authorization: Bearer <manager token>) --------------------------
@bp.get("/api/analytics/summary")
@require_role("manager")
def api_analytics_summary():
    """GET /api/analytics/summary?from=&to= (or ?days=) → headline figures, trend and today so far."""
    data = _report()
    return jsonify({k: data[k] for k in ("from", "to", "days", "time_zone", "summary", "previous", "trend", "today")})


@bp.get("/api/analytics/<any(daily, 'top-searches', 'failing-searches', 'top-articles', modules, sources):name>")
@require_role("manager")
def api_analytics_table(name: str):
    """GET /api/analytics/<table>?from=&to= → that table's rows (the dashboard's and the CSV's numbers)."""
    data = _report()
    return jsonify({"from": data["from"], "to": data["to"], "table": name, "rows": reports.table(data, name)})


@bp.get("/dashboard/flags/<int:flag_id>")
@require_role("manager")
def flag_detail(flag_id: int):
    """One flag: its evidence and who did what when."""
    db = get_db()
    return render_template("flag.html", flag=queue.get_flag(db, flag_id), fixes=fixes.fixes_for_flag(db, flag_id))


def _link_fix(flag_id: int, slug) -> dict:
    """Link an article as the fix of a flag, for the page and the API alike."""
    from .settings import failing_rules

    if not isinstance(slug, str) or not slug.strip().strip("/"):
        raise InvalidInput(N_("slug 必须是修复这个问题的文章（例如 accounts/reset-password）"))
    slug = slug.strip().strip("/")
    if len(slug) > 300 or not current_app.extensions["kb_index"].has_article(slug):
        raise NotFound(N_("没有 slug 为 %(slug)r 的文章，请关联一篇已发布的文章"), slug=slug[:300])
    return fixes.link_fix(get_db(), flag_id, slug, g.user["name"], rules=failing_rules(current_app.config["KB"]))


@bp.post("/dashboard/flags/<int:flag_id>/fix")
@require_role("manager")
def flag_fix(flag_id: int):
    """Say which article fixes this flag: kb measures its searches before and after, and verifies the fix."""
    try:
        fix = _link_fix(flag_id, request.form.get("slug", ""))
        flash(gettext("已关联修复：%(slug)s。", slug=fix["slug"]) + fix["status"])
    except (Conflict, InvalidInput) as exc:
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    except NotFound as exc:
        queue.get_flag(get_db(), flag_id)  # an unknown flag is the page's 404
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    return redirect(url_for("dashboard.flag_detail", flag_id=flag_id))


@bp.post("/dashboard/flags/<int:flag_id>")
@require_role("manager")
def flag_action(flag_id: int):
    """Acknowledge, resolve, dismiss or reopen, as of the version the manager saw."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidInput(N_("未知的操作 %(action)r"), action=action)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        raise InvalidInput(N_("表单里缺少这个问题的版本号，请刷新页面")) from None
    try:
        queue.transition(get_db(), flag_id, ACTIONS[action], g.user["name"], version, request.form.get("note", ""))
        flash(_done(action) % {"n": flag_id})
    except (Conflict, InvalidInput) as exc:  # a stale page or an unusable note: say so, change nothing
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith("/dashboard")
                    else url_for("dashboard.index"))


@bp.post("/dashboard/analyze")
@require_role("manager")
def run_analysis():
    """Run the analysis now instead of waiting for the schedule."""
    from .jobs import analyze_now

    report = analyze_now(current_app)
    flash(gettext("分析完成：%(gaps)s 个内容缺口，%(articles)s 个文章问题。", gaps=len(report.gaps),
                  articles=len(report.article_flags)))
    return redirect(url_for("dashboard.index"))


def _done(action: str) -> str:
    return {"acknowledge": gettext("已确认：#%(n)s"), "resolve": gettext("已解决：#%(n)s"), "dismiss": gettext("已忽略：#%(n)s"),
            "reopen": gettext("已重新打开：#%(n)s")}[action]


# -- JSON API (Authorization: Bearer <manager token>) ---------------------------------------
@bp.get("/api/flags")
@require_role("manager")
def api_flags():
    """GET /api/flags?state=open&kind=gap → the queue, most urgent first."""
    state = request.args.get("state")
    if state and state not in queue.STATES:
        raise InvalidInput(N_("状态必须是 %(choices)s 之一"), choices=", ".join(queue.STATES))
    kind = request.args.get("kind")
    if kind and kind not in ("gap", "article"):
        raise InvalidInput(N_("kind 必须是 gap 或 article"))
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
        raise InvalidInput(N_("请求体必须是 JSON 对象"))
    version = body.get("version")
    if not is_whole_number(version):
        raise InvalidInput(N_("version 必须是这个问题当前的版本号（整数），这样不会覆盖别人的修改"))
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise InvalidInput(N_("备注必须是字符串，最多 2000 个字符"))
    return jsonify(queue.transition(get_db(), flag_id, body.get("state"), g.user["name"], version, note))


@bp.post("/api/flags/<int:flag_id>/fix")
@require_role("manager")
def api_flag_fix(flag_id: int):
    """POST /api/flags/<id>/fix {slug} → 201 the fix (failure rate before it); the flag is resolved."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(N_("请求体必须是 JSON 对象"))
    queue.get_flag(get_db(), flag_id)  # 404 for an unknown flag before looking at the slug
    return jsonify(_link_fix(flag_id, body.get("slug"))), 201


@bp.get("/api/flags/<int:flag_id>/fixes")
@require_role("manager")
def api_flag_fixes(flag_id: int):
    """GET /api/flags/<id>/fixes → the fixes linked to a flag and how their verification stands."""
    queue.get_flag(get_db(), flag_id)
    return jsonify({"fixes": fixes.fixes_for_flag(get_db(), flag_id)})
