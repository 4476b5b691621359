"""Support agents: the console, tracked links, visits, outcomes, drafts from tickets, and the
helpdesk API (documented as OpenAPI 3 at /api/openapi.json, readable at /api/docs)."""

from __future__ import annotations

import html
from urllib.parse import urljoin

from flask import Blueprint, current_app, g, jsonify, render_template, request

from analytics import links
from analytics.tickets import suggest
from contrib import queue
from indexer.errors import InvalidInput
from indexer.i18n import N_

from . import policy
from .api import session_id
from .auth import require_role
from .db import get_db
from .inputs import is_whole_number, json_object, text
from .openapi import spec_for

bp = Blueprint("agent", __name__)


def _index():
    return current_app.extensions["kb_index"]


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
@require_role("agent", "manager", "helpdesk")
def console():
    """Paste a ticket, get articles with the passage that matches, copy a tracked link."""
    index = current_app.extensions["kb_index"]
    mine = [link | {"title": _title_of(index, link["slug"])} for link in links.links_for(get_db(), agent=g.user["name"])]
    return render_template("agent.html", my_links=mine)


def _title_of(index, slug: str) -> str:
    """The article's title, or its slug when it has left the index (unpublished, renamed)."""
    return index.article(slug)["title"] if index.has_article(slug) else slug


@bp.post("/api/agent/suggest")
@require_role("agent", "manager", "helpdesk")
def api_suggest():
    """POST {subject, body, phrases?, limit?} → {phrases, results, message} (any language: search is multilingual)."""
    body = json_object()
    phrases = body.get("phrases")
    limit = body.get("limit", 5)
    if not is_whole_number(limit) or not 1 <= limit <= 20:
        raise InvalidInput(N_("limit 必须是 1 到 20 之间的整数"))
    subject = text(body.get("subject"), "subject", required=False)
    ticket = text(body.get("body"), "body", required=False)
    return jsonify(suggest(_index(), subject, ticket, phrases=phrases, limit=limit))


@bp.post("/api/agent/links")
@require_role("agent", "manager", "helpdesk")
def api_link():
    """POST {ticket_id, slug, agent?, phrases?} → the tracked link and its paste formats (201)."""
    body = json_object()
    slug = text(body.get("slug"), "slug", limit=300).strip().strip("/")
    article = _index().article(slug)  # NotFound for an unknown slug
    named = body.get("agent")
    agent = policy.link_recorder(g.user, None if named in (None, "") else text(named, "agent", limit=64))
    phrases = body.get("phrases") or []
    if not isinstance(phrases, list):
        raise InvalidInput(N_("phrases 必须是词语列表"))
    link = links.record_link(get_db(), agent, body.get("ticket_id"), slug, phrases)
    url = urljoin(request.host_url, article["url"]) + "?ref=" + link["ref"]
    return jsonify({**link, "url": url, "formats": link_formats(article, url)}), 201


@bp.get("/api/agent/links")
@require_role("agent", "manager", "helpdesk")
def api_links():
    """GET ?ticket_id= → links with visit counts (agents: their own)."""
    ticket = request.args.get("ticket_id")
    return jsonify({"links": links.links_for(get_db(), agent=policy.links_agent(g.user), ticket_id=ticket)})


@bp.post("/api/agent/visit")
def api_visit():
    """POST {ref, slug} from the article page: a customer opened a link an agent sent. Public."""
    body = json_object()
    # One visit per link per client address: a browser id, cookie or header is the sender's to vary.
    visitor = links.visitor_key(request.remote_addr, current_app.secret_key)
    counted = links.record_visit(get_db(), body.get("ref"), text(body.get("slug"), "slug", limit=300).strip("/"), visitor,
                                 search_session=session_id())
    return jsonify({"ok": True, "counted": counted}), 202


@bp.post("/api/agent/outcome")
@require_role("agent", "manager", "helpdesk")
def api_outcome():
    """POST {ref | link_id, outcome: solved|not_helped} → the link (a repeated report changes nothing)."""
    body = json_object()
    link = links.find_link(get_db(), ref=body.get("ref"), link_id=body.get("link_id"))
    policy.require_link_reporter(g.user, link)
    return jsonify(links.set_outcome(get_db(), link, body.get("outcome"), g.user["name"]))


@bp.post("/api/agent/draft")
@require_role("agent", "manager", "helpdesk")
def api_draft():
    """POST {question, answer, ticket_id?} → a draft article in the review queue (201)."""
    policy.require_ticket_drafter(g.user)
    body = json_object()
    ticket = body.get("ticket_id", "")
    if not isinstance(ticket, (str, int)) or isinstance(ticket, bool):
        raise InvalidInput(N_("ticket_id 必须是文本"))
    sub = queue.create_from_ticket(get_db(), g.user, text(body.get("question"), "question", limit=20_000),
                                   text(body.get("answer"), "answer", limit=50_000), str(ticket)[:100])
    return jsonify(sub), 201


@bp.get("/api/openapi.json")
def openapi():
    """The JSON API as OpenAPI 3 (every /api/ route, from the URL map)."""
    return jsonify(spec_for(current_app))


@bp.get("/api/docs")
def api_docs():
    """A readable page of the same specification (no external assets)."""
    return render_template("api_docs.html", spec=spec_for(current_app))
