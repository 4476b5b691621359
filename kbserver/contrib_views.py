"""VIP best practices on the web and in the API: submit, revise, review, publish."""

from __future__ import annotations

import difflib

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from contrib import queue
from contrib.render import render_markdown
from contrib.review import REVIEW_ACTIONS, apply_review_action
from contrib.similar import similar
from contrib.validate import clean_submission
from indexer.errors import InvalidInput, KBError
from indexer.i18n import N_

from . import policy
from .auth import require_role
from .db import get_db
from .i18n import said_to_people
from .inputs import is_whole_number, json_object

bp = Blueprint("contrib", __name__)


def _publisher():
    return current_app.extensions["kb_publisher"]


def _index():
    return current_app.extensions["kb_index"]


def _form_fields() -> dict:
    f = request.form
    return {"title": f.get("title", ""), "summary": f.get("summary", ""), "body": f.get("body", ""),
            "tags": f.get("tags", ""), "module": f.get("module", ""), "organisation": f.get("organisation", ""),
            "consent": f.get("consent") == "on"}


def _version() -> int | None:
    raw = request.form.get("version") if request.form else None
    if raw is None and request.is_json:
        raw = (request.get_json(silent=True) or {}).get("version")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(N_("version 必须是整数")) from None


def _checked(db, sid: int, action: str) -> dict:
    """Submission sid if the signed-in user may do action on it (kbserver/policy.py), else NotFound/Forbidden."""
    return policy.require_submission(g.user, queue.get(db, sid), action)


def _review(db, sid: int, action: str, version: int | None, note: str, assignee: str | None = None) -> dict:
    _checked(db, sid, action)
    return apply_review_action(db, _publisher(), sid, action, g.user, version, note, assignee)


# -- VIP pages --------------------------------------------------------------------------------
@bp.get("/contrib")
@require_role("vip")
def mine():
    """The customer's submissions with their status and reviewers' comments."""
    return render_template("contrib_list.html", submissions=queue.list_submissions(
        get_db(), author_id=policy.submissions_author(g.user)))


@bp.route("/contrib/new", methods=["GET", "POST"])
@require_role("vip")
def new():
    """The submission form: save a draft or submit for review."""
    if request.method == "POST":
        fields = _form_fields()
        try:
            policy.require_vip(g.user)
            sub, _ = queue.create(get_db(), g.user, fields, submit=request.form.get("action") == "submit")
        except KBError as exc:
            flash(said_to_people(exc), "error")
            return render_template("contrib_form.html", sub=None, fields=fields), exc.status
        flash(gettext("已提交审核。") if sub["state"] == "submitted" else gettext("草稿已保存。"))
        return redirect(url_for("contrib.detail", sid=sub["id"]))
    return render_template("contrib_form.html", sub=None, fields={})


@bp.route("/contrib/<int:sid>", methods=["GET", "POST"])
@require_role("vip")
def detail(sid: int):
    """A submission: status, preview, comments; editable while a draft or when changes were requested."""
    db = get_db()
    if request.method == "POST":
        fields = _form_fields()
        try:
            _checked(db, sid, "update")
            queue.update(db, sid, g.user, fields, _version())
            if request.form.get("action") == "submit":
                queue.transition(db, sid, "submit", g.user)
                flash(gettext("已提交审核。"))
            else:
                flash(gettext("草稿已保存。"))
        except KBError as exc:
            flash(said_to_people(exc), "error")
        return redirect(url_for("contrib.detail", sid=sid))
    sub = _checked(db, sid, "view")
    return render_template("contrib_detail.html", sub=sub, html=render_markdown(sub["body"]), fields=sub)


@bp.post("/contrib/<int:sid>/comment")
@require_role("vip", "manager")
def add_comment(sid: int):
    """Reply in a submission's thread."""
    parent = request.form.get("parent_id") or None
    try:
        if parent is not None and not parent.isdigit():
            raise InvalidInput(N_("parent_id 必须是一条评论的编号"))
        _checked(get_db(), sid, "comment")
        queue.comment(get_db(), sid, g.user, request.form.get("body", ""), int(parent) if parent else None)
    except KBError as exc:
        flash(said_to_people(exc), "error")
    target = "contrib.review_detail" if policy.is_reviewer(g.user) else "contrib.detail"
    return redirect(url_for(target, sid=sid) + "#comments")


# -- review queue (managers) ------------------------------------------------------------------
@bp.get("/review")
@require_role("manager")
def review_queue():
    """Submissions waiting for a reviewer first."""
    show = request.args.get("state", "pending")
    states = ("submitted", "in_review", "changes_requested", "approved") if show == "pending" else None
    return render_template("review_list.html", submissions=queue.list_submissions(
        get_db(), states, author_id=policy.submissions_author(g.user)), show=show)


@bp.get("/review/<int:sid>")
@require_role("manager")
def review_detail(sid: int):
    """One submission for review: fields, sanitized preview, similar articles, diff, thread, history."""
    db = get_db()
    sub = _checked(db, sid, "view")
    revisions = sub["revisions"]
    diff = None
    if len(revisions) >= 2:
        a = _pick(revisions, request.args.get("from"), -2)
        b = _pick(revisions, request.args.get("to"), -1)
        diff = difflib.HtmlDiff(wrapcolumn=60).make_table(
            _as_lines(a), _as_lines(b), gettext("第 %(n)s 版", n=a["revision"]),
            gettext("第 %(n)s 版", n=b["revision"]), context=True)
    from analytics.accounts import list_users

    managers = [u["name"] for u in list_users(db) if u["role"] == "manager"]
    ticket = request.args.get("site", "")
    site = current_app.extensions["kb_site_updater"].status(ticket) if 0 < len(ticket) <= 64 else None
    return render_template("review_detail.html", sub=sub, html=render_markdown(sub["body"]), diff=diff,
                           similar=similar(_index(), db, sub, exclude_id=sid), managers=managers, site=site)


def _pick(revisions, wanted, default_index):
    for r in revisions:
        if str(r["revision"]) == str(wanted):
            return r
    return revisions[default_index]


def _as_lines(rev: dict) -> list[str]:
    head = [gettext("标题：%(text)s", text=rev["title"]), gettext("摘要：%(text)s", text=rev["summary"]),
            gettext("标签：%(text)s", text=", ".join(rev["tags"])), gettext("模块：%(text)s", text=rev["module"]),
            gettext("组织：%(text)s", text=rev["organisation"]), ""]
    return head + rev["body"].splitlines()


@bp.post("/review/<int:sid>/edit")
@require_role("manager")
def review_edit(sid: int):
    """The reviewer corrects the title, summary or body before approving (a new revision)."""
    f = request.form
    try:
        _checked(get_db(), sid, "edit")
        sub = queue.edit_as_reviewer(get_db(), sid, g.user, {k: f.get(k, "") for k in queue.REVIEWER_EDITS},
                                     _version())
        flash(gettext("已保存为第 %(n)s 版。", n=sub["revision"]))
    except KBError as exc:
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    return redirect(url_for("contrib.review_detail", sid=sid))


@bp.post("/review/<int:sid>/<action>")
@require_role("manager")
def review_action(sid: int, action: str):
    """Start review, request changes, approve (publishes), reject or unpublish, as of the version seen."""
    if action not in REVIEW_ACTIONS:
        raise InvalidInput(N_("没有 %(action)r 这个操作"), action=action)
    try:
        sub = _review(get_db(), sid, action, _version(), request.form.get("note", ""),
                      request.form.get("assignee") or None)
        if sub.get("publish_error"):
            flash(gettext("已通过，但发布失败（%(error)s）。kb 会自动重试，也可以点「重新发布」。",
                          error=sub.get("publish_failure") or sub["publish_error"]), "error")
        else:
            done = {"start_review": gettext("已开始审核。"), "request_changes": gettext("已请作者修改。"),
                    "approve": gettext("已通过。"), "publish": gettext("已发布。"), "reject": gettext("已拒绝。"),
                    "unpublish": gettext("已下线。")}[action]
            if action in ("approve", "publish"):
                done += " " + gettext("文章地址：%(url)s", url="/practices/" + sub["slug"] + "/")
            flash(done)
    except KBError as exc:
        flash(gettext("没有执行：%(error)s", error=said_to_people(exc)), "error")
        sub = {}
    # The site's pages are updated in the background: the page follows the update by its ticket.
    return redirect(url_for("contrib.review_detail", sid=sid, site=sub.get("site_ticket")))


# -- JSON API -----------------------------------------------------------------------------------
@bp.post("/api/contrib/submissions")
@require_role("vip")
def api_create():
    """POST {title, summary, body, tags, module, organisation, consent, submit?} → 201 (200 if a repeat)."""
    body = json_object()
    submit = bool(body.pop("submit", False))
    policy.require_vip(g.user)
    sub, created = queue.create(get_db(), g.user, body, submit=submit)
    return jsonify(sub), 201 if created else 200


@bp.get("/api/contrib/submissions")
@require_role("vip", "manager")
def api_list():
    """GET ?state= → the caller's submissions (managers: all)."""
    state = request.args.get("state")
    if state and state not in queue.STATES:
        raise InvalidInput(N_("state 必须是 %(states)s 之一"), states=", ".join(queue.STATES))
    return jsonify({"submissions": queue.list_submissions(get_db(), (state,) if state else None,
                                                          author_id=policy.submissions_author(g.user))})


@bp.get("/api/contrib/submissions/<int:sid>")
@require_role("vip", "manager")
def api_get(sid: int):
    """One submission with revisions, comments and history."""
    return jsonify(_checked(get_db(), sid, "view"))


@bp.patch("/api/contrib/submissions/<int:sid>")
@require_role("vip", "manager")
def api_update(sid: int):
    """PATCH {fields..., version} → the edited draft (or submission with changes requested); a manager
    corrects title, summary or body of a submission under review (a new revision)."""
    body = json_object()
    version = body.pop("version", None)
    if version is not None and not is_whole_number(version):
        raise InvalidInput(N_("version 必须是整数"))
    if policy.is_reviewer(g.user):
        _checked(get_db(), sid, "edit")
        return jsonify(queue.edit_as_reviewer(get_db(), sid, g.user, body, version))
    _checked(get_db(), sid, "update")
    return jsonify(queue.update(get_db(), sid, g.user, body, version))


@bp.post("/api/contrib/submissions/<int:sid>/<action>")
@require_role("vip", "manager")
def api_action(sid: int, action: str):
    """POST submit (author) or start_review|request_changes|approve|reject|unpublish (manager) {version?, note?}."""
    if action in REVIEW_ACTIONS:  # the role first: a customer learns nothing more
        policy.require_reviewer(g.user)
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise InvalidInput(N_("请求内容必须是一个 JSON 对象"))
    note = body.get("note", "")
    if not isinstance(note, str):
        raise InvalidInput(N_("备注必须是文本"))
    version = body.get("version")
    if version is not None and not is_whole_number(version):
        raise InvalidInput(N_("version 必须是整数"))
    if action == "submit":
        _checked(get_db(), sid, "submit")
        return jsonify(queue.transition(get_db(), sid, "submit", g.user, version))
    if action == "comments":
        parent = body.get("parent_id")
        if parent is not None and not is_whole_number(parent):
            raise InvalidInput(N_("parent_id 必须是一条评论的编号"))
        _checked(get_db(), sid, "comment")
        return jsonify(queue.comment(get_db(), sid, g.user, body.get("body", ""), parent)), 201
    if action not in REVIEW_ACTIONS:
        raise InvalidInput(N_("没有 %(action)r 这个操作"), action=action)
    assignee = body.get("assignee")
    if assignee is not None and not isinstance(assignee, str):
        raise InvalidInput(N_("assignee 必须是一位管理员的名字"))
    return jsonify(_review(get_db(), sid, action, version, note, assignee))


@bp.post("/api/contrib/preview")
@require_role("vip", "manager")
def api_preview():
    """POST {body} → {html}: exactly how the body will render on the site (sanitized)."""
    text = json_object().get("body", "")
    if not isinstance(text, str):
        raise InvalidInput(N_("body 必须是文本：要预览的 Markdown"))
    clean_submission({"title": "preview", "body": text}, final=False)  # same limits and checks
    return jsonify({"html": render_markdown(text)})


@bp.post("/api/contrib/similar")
@require_role("vip", "manager")
def api_similar():
    """POST {title, summary, body, tags} → articles and pending submissions that look alike."""
    body = json_object()
    fields = clean_submission({k: body.get(k, "") for k in ("title", "summary", "body", "tags")} | {
        "title": body.get("title") or "untitled"}, final=False)
    exclude = body.get("id") if isinstance(body.get("id"), int) else None
    return jsonify({"similar": similar(_index(), get_db(), fields, exclude_id=exclude,
                                       include_pending=policy.is_reviewer(g.user))})
