"""Editing articles in the browser and over the API (thin views over contrib/editing.py).

After every change the article is re-indexed incrementally (search finds the new text at once) and
its page is rendered again in the background by ``app.extensions["kb_refresh_site"](changed_paths)``
(``kbserver/jobs.SiteUpdater``: that article's page and the pages listing it, never on the request).
"""

from __future__ import annotations

import difflib
import logging

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from analytics import flags as flag_queue
from contrib import editing
from contrib.render import sanitize
from indexer.articles import find_sources, slug_for
from indexer.errors import InvalidInput, KBError, NotFound
from indexer.i18n import N_

from . import policy
from .auth import require_role
from .db import get_db
from .i18n import said_to_people
from .inputs import is_whole_number, json_object

log = logging.getLogger(__name__)
bp = Blueprint("editing", __name__)
EDIT_ROLES = policy.EDITORS


def _docs():
    return current_app.config["KB"]["docs"]


def _data():
    return current_app.config["KB"]["data"]


# -- after a change: index and page ----------------------------------------------------------------------
def after_change(app, result: dict) -> dict:
    """Re-index incrementally and refresh the article's page; returns what happened (for the answer)."""
    if result.get("unchanged"):
        return {"indexed": False, "site": "unchanged"}
    settings = app.config["KB"]
    report = editing.reindex(settings["docs"], settings["data"])
    answer = {"indexed": True, "index_version": getattr(report, "version", None), "site": "queued"}
    try:  # the page is rendered in the background (kbserver/jobs.SiteUpdater): GET /api/site/status?ticket=
        ticket = app.extensions["kb_refresh_site"]([result["path"]])
    except Exception as exc:  # noqa: BLE001 - saved and searchable; say the page lags
        log.exception("kb_refresh_site failed for %s", result["path"])
        return answer | {"site": f"page not refreshed: {exc}"}
    if isinstance(ticket, str):
        answer["site_ticket"] = ticket
    return answer


def _finish(result: dict, status: int = 200):
    result = dict(result)
    result.update(after_change(current_app, result))
    return jsonify(result), status


# -- preview -----------------------------------------------------------------------------------------
def preview_html(body: str) -> str:
    """The body as the site renders it (its own Markdown extensions), sanitized for showing in the editor."""
    from indexer.articles import markdown_html

    return sanitize(markdown_html(body))


# -- pages -------------------------------------------------------------------------------------------
@bp.get("/edit")
@require_role(*EDIT_ROLES)
def edit_list():
    """Every article, with a filter, and the ones edited in kb most recently."""
    docs = _docs()
    wanted = (request.args.get("q") or "").strip().lower()
    articles = []
    for path in find_sources(docs):
        rel = path.relative_to(docs).as_posix()
        slug = slug_for(rel)
        if not wanted or wanted in rel.lower():
            articles.append({"slug": slug, "path": rel})
    return render_template("edit_list.html", articles=articles[:500], total=len(articles), q=wanted,
                           recent=editing.edited_slugs(get_db(), 20))


def _gap(flag_id: str | None) -> dict | None:
    if not flag_id:
        return None
    if not flag_id.isdigit():
        raise InvalidInput(N_("gap 必须是一个缺口或问题的编号"))
    flag = flag_queue.get_flag(get_db(), int(flag_id))
    e = flag.get("evidence") or {}
    words = e.get("missing_words") or e.get("terms") or []
    return {"id": flag["id"], "title": flag["title"], "kind": flag["kind"], "suggestion": flag["suggestion"],
            "queries": e.get("examples") or [], "words": words, "representative": e.get("representative") or ""}


@bp.get("/edit/<path:slug>")
@require_role(*EDIT_ROLES)
def edit_page(slug: str):
    """The editor: front-matter fields, Markdown body, live preview; a gap's queries and words beside it."""
    article = editing.read_article(_docs(), slug)
    gap = _gap(request.args.get("gap") or request.args.get("flag"))
    return render_template("edit.html", article=article, gap=gap, new=False)


@bp.get("/new-article")
@require_role(*EDIT_ROLES)
def new_page():
    """A new article; from a gap, the title and a draft come from the readers' queries."""
    gap = _gap(request.args.get("gap") or request.args.get("flag"))
    fields = {"title": "", "summary": "", "tags": [], "module": "", "owner": g.user["name"], "review_every": 180}
    body = ""
    if gap:
        fields["title"] = (gap["representative"] or gap["title"])[:200]
        fields["tags"] = [w for w in gap["words"] if w][:5]
        body = (gettext("## 问题\n\n读者这样搜索：\n\n") + "".join(f"- {q}\n" for q in gap["queries"][:8])
                + gettext("\n## 解决方法\n\n1. \n"))
    article = {"slug": "", "path": "", "fields": fields, "body": body, "hash": "", "meta": {}}
    return render_template("edit.html", article=article, gap=gap, new=True)


def _side_by_side(a: dict, b: dict) -> Markup:
    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        (a["text"] or "").splitlines(), (b["text"] or "").splitlines(), f"#{a['id']}", f"#{b['id']}", context=True)
    return Markup(table)  # noqa: S704 - HtmlDiff escapes the text it puts in the table


@bp.get("/history/<path:slug>")
@require_role(*EDIT_ROLES)
def history_page(slug: str):
    """An article's revisions; a side-by-side diff of any two (?from=&to=); restore."""
    db = get_db()
    revisions = editing.history(db, slug)
    try:
        current = editing.read_article(_docs(), slug)
    except NotFound:
        current = None
    if not revisions and current is None:
        raise NotFound(N_("没有文章 %(slug)r，也没有它的修订记录"), slug=slug)
    diff = None
    if len(revisions) >= 2 or (revisions and request.args.get("from")):
        ids = [r["id"] for r in revisions]
        try:
            new_id = int(request.args.get("to") or ids[0])
            old_id = int(request.args.get("from") or ids[min(1, len(ids) - 1)])
        except ValueError:
            raise InvalidInput(N_("from 和 to 必须是修订编号")) from None
        a, b = editing.get_revision(db, old_id), editing.get_revision(db, new_id)
        if editing.check_slug(slug) not in (a["slug"], b["slug"]) or a["slug"] != b["slug"]:
            raise NotFound(N_("这些修订不属于这篇文章"))
        diff = {"from": a, "to": b, "table": _side_by_side(a, b)}
    return render_template("history.html", slug=editing.check_slug(slug), revisions=revisions, current=current,
                           diff=diff)


@bp.post("/history/<path:slug>")
@require_role(*EDIT_ROLES)
def history_restore(slug: str):
    """Restore a revision from the history page (a form with CSRF token, revision and the hash seen)."""
    form = request.form
    try:
        raw = form.get("revision", "")
        if not raw.isdigit():
            raise InvalidInput(N_("请选择要恢复的修订"))
        result = editing.restore(_docs(), get_db(), _data(), slug, int(raw), form.get("base_hash") or None,
                                 g.user["name"], recreate=form.get("recreate") == "on")
        after_change(current_app, result)
        flash(gettext("已恢复第 %(old)s 号修订（新修订 #%(new)s）。", old=raw, new=result["revision"]) if result["revision"]
              else gettext("内容相同，没有变化。"))
    except KBError as exc:
        flash(gettext("没有恢复：%(error)s", error=said_to_people(exc)), "error")
    return redirect(url_for("editing.history_page", slug=slug))


# -- JSON API ----------------------------------------------------------------------------------------
@bp.get("/api/me")
def api_me():
    """Who is signed in (for the site's "编辑文章" link); {user: null} for visitors."""
    user = g.get("user")
    return jsonify({"user": {"name": user["name"], "role": user["role"]} if user else None,
                    "can_edit": bool(user and user["role"] in EDIT_ROLES)}), 200, {"Cache-Control": "no-store"}


def _slug_arg() -> str:
    return editing.check_slug(request.args.get("slug"))


@bp.get("/api/edit/article")
@require_role(*EDIT_ROLES)
def api_article():
    """GET ?slug= → the article's fields, body and content hash (the base_hash of the next save)."""
    return jsonify(editing.read_article(_docs(), _slug_arg()))


@bp.get("/api/edit/history")
@require_role(*EDIT_ROLES)
def api_history():
    """GET ?slug= → the article's revisions, newest first."""
    return jsonify({"slug": _slug_arg(), "revisions": editing.history(get_db(), _slug_arg())})


@bp.get("/api/edit/revisions/<int:revision_id>")
@require_role(*EDIT_ROLES)
def api_revision(revision_id: int):
    """One revision with its full text."""
    return jsonify(editing.get_revision(get_db(), revision_id))


def _flag(body: dict):
    for key in ("flag_id", "gap_id"):
        if body.get(key) not in (None, ""):
            return body[key]
    return None


@bp.post("/api/edit/save")
@require_role(*EDIT_ROLES)
def api_save():
    """POST {slug, fields, body, base_hash, message?, flag_id?} → saved (409 with a diff if it changed meanwhile)."""
    body = json_object()
    result = editing.save_article(_docs(), get_db(), _data(), body.get("slug"), body.get("fields"), body.get("body"),
                                  body.get("base_hash"), g.user["name"], body.get("message"), _flag(body))
    return _finish(result)


@bp.post("/api/edit/new")
@require_role(*EDIT_ROLES)
def api_new():
    """POST {fields, body, slug?, message?, flag_id?} → 201, the new article."""
    body = json_object()
    slug = body.get("slug") or None
    result = editing.new_article(_docs(), get_db(), _data(), body.get("fields"), body.get("body"), g.user["name"],
                                 slug=slug, message=body.get("message"), flag_id=_flag(body))
    return _finish(result, 201)


@bp.post("/api/edit/restore")
@require_role(*EDIT_ROLES)
def api_restore():
    """POST {slug, revision, base_hash, recreate?} → restored as a new revision (410 for a deleted article)."""
    body = json_object()
    revision = body.get("revision")
    if not is_whole_number(revision):
        raise InvalidInput(N_("revision 必须是一个修订的编号"), field="revision")
    recreate = body.get("recreate", False)
    if not isinstance(recreate, bool):
        raise InvalidInput(N_("recreate 必须是 true 或 false"), field="recreate")
    base_hash = body.get("base_hash")
    if base_hash is not None and not isinstance(base_hash, str):
        raise InvalidInput(N_("base_hash 必须是你看到的那份内容的哈希"), field="base_hash")
    if base_hash is None and not recreate:
        raise InvalidInput(N_("缺少 base_hash：你看到的那份文章内容的哈希"), field="base_hash")
    result = editing.restore(_docs(), get_db(), _data(), body.get("slug"), revision, base_hash, g.user["name"],
                             message=body.get("message"), recreate=recreate)
    return _finish(result)


@bp.post("/api/edit/reviewed")
@require_role(*EDIT_ROLES)
def api_reviewed():
    """POST {slug, base_hash?} → reviewed: set to today, nothing else changed."""
    body = json_object()
    base_hash = body.get("base_hash")
    if base_hash is not None and not isinstance(base_hash, str):
        raise InvalidInput(N_("base_hash 必须是你看到的那份内容的哈希"), field="base_hash")
    result = editing.mark_reviewed(_docs(), get_db(), _data(), body.get("slug"), g.user["name"], base_hash)
    return _finish(result)


@bp.post("/api/edit/preview")
@require_role(*EDIT_ROLES)
def api_preview():
    """POST {body} → {html}: the Markdown as the site will render it (sanitized for the editor)."""
    text = editing.check_body(json_object().get("body", ""))
    return jsonify({"html": preview_html(text)})
