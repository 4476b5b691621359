"""The public JSON API: search, articles, clicks and votes. Views validate, call, shape."""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote, unquote_to_bytes

from flask import Blueprint, current_app, g, jsonify, request

from analytics import answers, clicks, links
from analytics.events import is_query_id, new_query_id
from contrib.render import sanitize
from indexer.analysis import normalize, segment
from indexer.errors import InvalidInput, NotFound
from indexer.i18n import N_
from indexer.query import AGENT_LINK_REASON

from .db import get_db
from .inputs import is_whole_number, json_object, text

bp = Blueprint("api", __name__, url_prefix="/api")

SESSION_COOKIE = "kb_sid"
MAX_COMMENT = 2000
MAX_SLUG = 300


def _index():
    return current_app.extensions["kb_index"]


def _events():
    return current_app.extensions["kb_events"]


def session_id() -> str:
    """The anonymous session of this visitor (cookie, or X-KB-Session for API clients); new if none."""
    sid = request.cookies.get(SESSION_COOKIE) or request.headers.get("X-KB-Session") or ""
    if not (0 < len(sid) <= 64 and sid.isascii()):
        sid = secrets.token_hex(12)
        g.new_session = sid
    return sid


def request_source() -> str:
    """Where this request's event comes from: "site" (the help site's own scripts say so), else "api"."""
    return "site" if request.headers.get("X-KB-Source") == "site" else "api"


@bp.after_app_request
def _set_session_cookie(response):  # app-wide: visits through agents' links use the same session
    sid = g.pop("new_session", None)
    if sid:
        response.set_cookie(SESSION_COOKIE, sid, max_age=30 * 60, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def _query_args() -> dict:
    # Werkzeug would quietly replace invalid UTF-8 with U+FFFD; a customer's browser never sends it,
    # so it is a broken client and gets told so.
    raw = request.query_string.replace(b"+", b" ")
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(N_("查询字符串不是有效的 UTF-8")) from None
    return request.args


def _slug(body: dict) -> str:
    slug = body.get("slug")
    if not isinstance(slug, str) or not slug.strip() or len(slug) > MAX_SLUG:
        raise InvalidInput(N_("slug 必须是文章的 slug（字符串），例如 \"import/excel-import\""))
    slug = unquote(text(slug, "slug").strip().strip("/"))  # pages may send their percent-encoded URL path
    if not _index().has_article(slug):
        raise NotFound(N_("没有 slug 为 %(slug)r 的文章"), slug=slug)
    return slug


def _link_boosts(q) -> dict:
    """Articles agents keep sending for tickets using these words rank a little higher (bounded)."""
    if not isinstance(q, str) or not q.strip() or len(q) > 500:
        return {}  # search() itself says what is wrong with the query
    try:
        words = [w for w, _, _ in segment(normalize(q))]
    except UnicodeEncodeError:
        return {}
    return links.boosts_for(get_db, words)


def _boosts(q) -> dict:
    """{slug: (multiplier, reason)}: agents' links and customers' kept clicks, each bounded (×1.3)."""
    out = {slug: (factor, AGENT_LINK_REASON) for slug, factor in _link_boosts(q).items()}
    if not isinstance(q, str) or not q.strip() or len(q) > 500:
        return out
    try:
        normalized = normalize(q)
        normalized.encode("utf-8")
    except UnicodeEncodeError:
        return out
    for slug, factor in current_app.extensions["kb_clicks"].boosts_for(normalized).items():
        if slug in out:
            out[slug] = (round(out[slug][0] * factor, 4), f"{out[slug][1]}; {clicks.REASON}")
        else:
            out[slug] = (factor, clicks.REASON)
    return out


@bp.get("/search")
def search():
    """GET /api/search?q=&limit=&page=&module=&tag= → ranked results with a query_id."""
    return jsonify(search_and_log(_query_args(), session=session_id(), source=request_source()))


def search_and_log(args, *, session: str, source: str) -> dict:
    """Search for args (q, limit, page, module, tag), log the search under session and source; the API's answer."""
    q = args.get("q")
    if q is None:
        raise InvalidInput(N_("缺少 q，例如 %(example)s"), example="/api/search?q=如何导入Excel数据")
    current_app.extensions["kb_learned"].sync(get_db)  # synonym pairs a manager approved meanwhile
    result = _index().search(q, limit=args.get("limit", 10), page=args.get("page", 1),
                             module=args.get("module") or None, tag=args.get("tag") or None, boosts=_boosts(q))
    query_id = new_query_id()
    _events().log_search(
        query_id=query_id, query=q, normalized=result["normalized"], results=result["total"],
        top_slugs=[r["slug"] for r in result["results"][:10]], took_ms=result["took_ms"], session=session,
        top_matched=["+".join(r.get("matched") or []) for r in result["results"][:10]],
        module=args.get("module", ""), tag=args.get("tag", ""), page=result["page"], source=source,
        answer=answers.logged_answer(result.get("answer")),
    )
    return {
        "query": q, "query_id": query_id, "total": result["total"], "took_ms": result["took_ms"],
        "page": result["page"], "limit": result["limit"], "results": result["results"],
        "did_you_mean": result["did_you_mean"], "no_good_match": result["no_good_match"],
        "answer": _shown_answer(result.get("answer")),
    }


_LINK_OR_IMAGE = re.compile(r"</?a\b[^>]*>|<img\b[^>]*>", re.I)


def _shown_answer(answer: dict | None) -> dict | None:
    """The answer as the API gives it: the passage sanitized, links and images dropped (relative to its page)."""
    if not answer:
        return None
    html = _LINK_OR_IMAGE.sub("", sanitize(answer["passage_html"]))
    return {"slug": answer["slug"], "title": answer["title"], "heading": answer["heading"], "url": answer["url"],
            "passage_html": html, "score": answer["score"]}


@bp.get("/articles/<path:slug>")
def article(slug: str):
    """GET /api/articles/<slug> → the article's metadata and text."""
    fields = _index().article(slug.strip("/"))
    return jsonify({
        "slug": fields["slug"], "title": fields["title"], "url": fields["url"], "path": fields["path"],
        "summary": fields.get("summary") or "", "tags": [t for t in (fields.get("tags") or "").split(",") if t],
        "module": fields.get("module") or "", "reviewed": fields.get("reviewed"), "text": fields.get("body") or "",
    })


@bp.post("/events/click")
def click():
    """POST /api/events/click {query_id, slug, position} → 202."""
    record_click(json_object(), session=session_id())
    return jsonify({"ok": True}), 202


def record_click(body: dict, *, session: str) -> None:
    """Validate and log a click on a search result (it belongs to its search, and so to the search's source)."""
    query_id = body.get("query_id")
    if not is_query_id(query_id):
        raise InvalidInput(N_("query_id 必须是 /api/search 返回的 query_id"))
    position = body.get("position")
    if not is_whole_number(position) or not 1 <= position <= 10000:
        raise InvalidInput(N_("position 必须是结果的位置（从 1 开始的整数）"))
    slug = _slug(body)
    _events().log_click(query_id=query_id, slug=slug, position=position, session=session,
                        client=links.visitor_key(request.remote_addr, current_app.secret_key))


@bp.post("/feedback")
def feedback():
    """POST /api/feedback {slug, helpful, comment?} → 202."""
    record_feedback(json_object(), session=session_id(), source=request_source())
    return jsonify({"ok": True}), 202


def record_feedback(body: dict, *, session: str, source: str) -> None:
    """Validate and log a "was this article helpful?" vote."""
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise InvalidInput(N_("helpful 必须是 true 或 false"))
    comment = body.get("comment", "")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise InvalidInput(N_("comment 必须是字符串"))
    comment = text(comment, "comment", required=False)
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(N_("评论太长了（最多 %(max)s 个字符）"), max=MAX_COMMENT)
    slug = _slug(body)
    _events().log_vote(slug=slug, helpful=helpful, comment=comment.strip(), session=session, source=source)


@bp.post("/answers/feedback")
def answer_feedback():
    """POST /api/answers/feedback {search_id, helpful, comment?} → 202: was the answer above the results helpful?"""
    vote = record_answer_feedback(json_object(), session=session_id())
    return jsonify({"ok": True, "slug": vote["slug"], "anchor": vote["anchor"]}), 202


def record_answer_feedback(body: dict, *, session: str) -> dict:
    """Validate and store a vote on the answer a search showed (it belongs to that search); returns the vote."""
    search_id = body.get("search_id")
    if not is_query_id(search_id):
        raise InvalidInput(N_("search_id 必须是 /api/search 返回的 query_id"))
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise InvalidInput(N_("helpful 必须是 true 或 false"))
    comment = text(body.get("comment"), "comment", required=False, limit=answers.MAX_COMMENT).strip()
    _events().flush(timeout=5)  # the search is logged asynchronously: store it before looking it up
    return answers.record_vote(get_db(), query_id=search_id, helpful=helpful, comment=comment, session=session)


@bp.get("/health")
def health():
    """GET /api/health → whether the index is loaded, its size and version, and this node's place in the change feed."""
    ix = _index()
    semantic = ix.semantic_status() | {"embedding": current_app.extensions["kb_vectors"].status()}
    follower = current_app.extensions["kb_follower"]
    node = {"id": current_app.extensions["kb_node"], "changes_applied": follower.applied}
    return jsonify({"ok": True, "articles": ix.count(), "index_version": ix.version(), "semantic": semantic,
                    "node": node})
