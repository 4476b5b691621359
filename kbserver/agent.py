"""Support agents: the console, tracked links, visits, outcomes, drafts from tickets, and the
helpdesk API (documented as OpenAPI 3 at /api/openapi.json, readable at /api/docs)."""

from __future__ import annotations

import html
from urllib.parse import urljoin

from flask import Blueprint, current_app, g, jsonify, render_template, request

from analytics import links
from analytics.tickets import suggest
from contrib import queue
from indexer.errors import Forbidden, InvalidInput

from .auth import require_role
from .db import get_db
from .openapi import SPEC

bp = Blueprint("agent", __name__)


def _index():
    return current_app.extensions["kb_index"]


def _body() -> dict:
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body


def _text(body: dict, name: str, required: bool = True, limit: int = 1_000_000) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} contains characters that are not valid text") from None
    if required and not value.strip():
        raise InvalidInput(f"{name} is required")
    if len(value) > limit:
        raise InvalidInput(f"{name} is too long (at most {limit} characters)")
    return value


def link_formats(article: dict, url: str) -> dict:
    """The ways agents paste a link: Markdown, plain URL, HTML, and a short text snippet."""
    title, summary = article["title"], (article.get("summary") or "").strip()
    return {
        "markdown": f"[{title}]({url})",
        "url": url,
        "html": f'<a href="{html.escape(url, quote=True)}">{html.escape(title)}</a>',
        "text": f"{title}：{summary} {url}".strip() if summary else f"{title} {url}",
    }


@bp.get("/agent")
@require_role("agent", "manager")
def console():
    """Paste a ticket, get articles with the passage that matches, copy a tracked link."""
    return render_template("agent.html", my_links=links.links_for(get_db(), agent=g.user))


@bp.post("/api/agent/suggest")
@require_role("agent", "manager")
def api_suggest():
    """POST {subject, body, lang?, phrases?, limit?} → {phrases, results, message}."""
    body = _body()
    phrases = body.get("phrases")
    limit = body.get("limit", 5)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 20:
        raise InvalidInput("limit must be a whole number from 1 to 20")
    if body.get("lang") not in (None, "", "zh", "en"):
        raise InvalidInput("lang must be zh or en (it is detected when left out)")
    return jsonify(suggest(_index(), _text(body, "subject", required=False), _text(body, "body", required=False),
                           phrases=phrases, limit=limit))


@bp.post("/api/agent/links")
@require_role("agent", "manager")
def api_link():
    """POST {ticket_id, slug, agent?, phrases?} → the tracked link and its paste formats (201)."""
    body = _body()
    slug = _text(body, "slug", limit=300).strip().strip("/")
    article = _index().article(slug)  # NotFound for an unknown slug
    agent = g.user
    named = body.get("agent")
    if named not in (None, "", g.user["name"]):
        if g.user["role"] != "manager":
            raise Forbidden("agents record links under their own name")
        agent = {"id": 0, "name": _text(body, "agent", limit=64), "role": "agent"}
    phrases = body.get("phrases") or []
    if not isinstance(phrases, list):
        raise InvalidInput("phrases must be a list of words")
    link = links.record_link(get_db(), agent, body.get("ticket_id"), slug, phrases)
    url = urljoin(request.host_url, article["url"]) + "?ref=" + link["ref"]
    return jsonify({**link, "url": url, "formats": link_formats(article, url)}), 201


@bp.get("/api/agent/links")
@require_role("agent", "manager")
def api_links():
    """GET ?ticket_id= → links with visit counts (agents: their own)."""
    ticket = request.args.get("ticket_id")
    return jsonify({"links": links.links_for(get_db(), agent=None if g.user["role"] == "manager" else g.user,
                                             ticket_id=ticket)})


@bp.post("/api/agent/visit")
def api_visit():
    """POST {ref, slug} from the article page: a customer opened a link an agent sent. Public."""
    from .api import session_id

    body = _body()
    counted = links.record_visit(get_db(), body.get("ref"), _text(body, "slug", limit=300).strip("/"), session_id())
    return jsonify({"ok": True, "counted": counted}), 202


@bp.post("/api/agent/outcome")
@require_role("agent", "manager")
def api_outcome():
    """POST {ref | link_id, outcome: solved|not_helped} → the link (a repeated report changes nothing)."""
    body = _body()
    return jsonify(links.set_outcome(get_db(), g.user, body.get("outcome"), ref=body.get("ref"),
                                     link_id=body.get("link_id")))


@bp.post("/api/agent/draft")
@require_role("agent", "manager")
def api_draft():
    """POST {question, answer, ticket_id?} → a draft article in the review queue (201)."""
    body = _body()
    ticket = body.get("ticket_id", "")
    if not isinstance(ticket, (str, int)) or isinstance(ticket, bool):
        raise InvalidInput("ticket_id must be text")
    sub = queue.create_from_ticket(get_db(), g.user, _text(body, "question", limit=20_000),
                                   _text(body, "answer", limit=50_000), str(ticket)[:100])
    return jsonify(sub), 201


@bp.get("/api/openapi.json")
def openapi():
    """The helpdesk API as OpenAPI 3."""
    return jsonify(SPEC)


@bp.get("/api/docs")
def api_docs():
    """A readable page of the same specification (no external assets)."""
    return render_template("api_docs.html", spec=SPEC)
