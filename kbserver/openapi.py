"""OpenAPI 3 description of kb's JSON API (served at /api/openapi.json, readable at /api/docs).

The paths and methods come from the app's own URL map, so every /api/ route is in the spec and the
schema fuzzer (schemathesis, in tests/test_agent.py) reaches every operation. What the URL map cannot
know (summary, who may call it, the JSON body, the query parameters, the answers) is declared below
per view (by endpoint name) in ``_operations()``. A route without a declaration is still described
(generically, marked ``x-undeclared``) and ``tests/test_agent.py`` fails until it is declared; a
declaration whose view no longer exists fails the same test.
"""

from __future__ import annotations

import re

from flask import Flask

from analytics import flag_searches


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict | None = None) -> dict:
    out = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _object(properties: dict, required: tuple = ()) -> dict:
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


def _errors(*codes: str) -> dict:
    return {code: ERRORS[code] for code in codes}


def _query(name: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_STR = {"type": "string"}
_INT = {"type": "integer"}
# Examples let the fuzzer reach past "not found" into each operation's own checks.
_SLUG = {"type": "string", "example": "import/excel-import"}
_TICKET = {"type": "string", "example": "ZD-1"}
_WORDS = {"type": "array", "items": _STR}
_VERSION = {"type": "integer", "description": "the version you last saw (optimistic check: 409 if it changed since)"}
_AUTH = [{"bearer": []}]
_DATE = {"type": "string", "format": "date", "example": "2026-11-01"}
_RANGE = [_query("from", {**_DATE, "description": "first day (company time zone); default: days before yesterday"}),
          _query("to", {**_DATE, "description": "last day, at most yesterday (today is a partial day)"}),
          _query("days", {"type": "integer", "minimum": 1, "maximum": 366, "example": 30,
                          "description": "the last N complete days, when from is not given (default 7)"})]
_WIDGET_SESSION = {"name": "X-KB-Session", "in": "header", "required": False,
                   "schema": {"type": "string", "maxLength": 64, "example": "3f2a9c0d1e4b5a6978c0d1e2"},
                   "description": "the widget's anonymous session id (cookies are not used)"}
ERRORS = {"400": _error("Invalid input"), "401": _error("No or wrong token"), "403": _error("Role not allowed"),
          "404": _error("Not found"), "409": _error("Changed since the version you sent, or not allowed now"),
          "413": _error("Request too large"), "429": _error("Too many requests")}

_SUBMISSION_FIELDS = {
    "title": {"type": "string", "maxLength": 120}, "summary": {"type": "string", "maxLength": 300},
    "body": {"type": "string", "description": "Markdown, at most 100,000 characters"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 8},
    "module": {"type": "string", "maxLength": 40}, "organisation": {"type": "string", "maxLength": 100},
    "consent": {"type": "boolean", "description": "CC BY 4.0 consent, required to submit"},
}


_EDIT_FIELDS_OBJ = _object({
    "title": {"type": "string", "maxLength": 200}, "summary": {"type": "string", "maxLength": 500},
    "tags": {"oneOf": [_WORDS, {"type": "string", "description": "comma-separated, or a YAML list"}]},
    "module": {"type": "string", "maxLength": 60}, "owner": {"type": "string", "maxLength": 100},
    "review_every": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}], "nullable": True}}, ("title",))
_WEBHOOK = _object({"id": _INT, "url": _STR, "events": _WORDS, "secret_hint": {"type": "string", "description":
                   "the secret's first four characters"}, "created_at": _STR, "created_by": _STR,
                   "secret": {"type": "string", "description": "only when generated, only in the answer that adds it"}})
_PREFERENCE = _object({"email": _STR, "mode": {"type": "string", "enum": ["instant", "digest", "off"]}, "modes": _WORDS})
_EDIT_BODY = {"type": "string", "description": "Markdown; the whole file at most 1,000,000 bytes"}
_FLAG_ID = {"type": "integer", "nullable": True, "description": "the flag or gap this edit fixes"}
_EDIT_RESULT = _object({"slug": _STR, "path": _STR, "hash": _STR, "revision": {"type": "integer", "nullable": True},
                        "unchanged": {"type": "boolean"}, "git": {"type": "object", "nullable": True},
                        "indexed": {"type": "boolean"}, "site": _STR})


def _operations() -> dict:
    """Per view (its endpoint name), per method: what the URL map cannot tell. Enumerations come from the code.

    An operation may give "path": {name: schema} to narrow a path parameter (e.g. an enum of actions).
    """
    from analytics import accounts, flags, notifications, report, synonyms
    from contrib import queue

    from .contrib_views import REVIEW_ACTIONS

    return {
        # -- public: search, articles, events ---------------------------------------------------------------
        "api.search": {"get": {
            "summary": "Search articles",
            "parameters": [_query("q", {"type": "string", "maxLength": 500}, required=True),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 50}),
                           _query("page", {"type": "integer", "minimum": 1, "maximum": 100}),
                           _query("module", _STR), _query("tag", _STR)],
            "responses": {"200": _ok("Ranked results", _object({
                "query": _STR, "query_id": _STR, "total": _INT, "took_ms": {"type": "number"}, "page": _INT,
                "limit": _INT, "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                "did_you_mean": {"type": "string", "nullable": True},
                "no_good_match": {"type": "boolean", "description": "true when the best result is weak (holds "
                                  "under half the query's words and scores low, or nothing was found): the site "
                                  "says so and offers to ask the support team"},
                "answer": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Answer"}],
                           "description": "the passage answering a question-like query, above the results; "
                                          "null when none is confident enough"}})), **_errors("400")}}},
        "api.article": {"get": {
            "summary": "One article",
            "path": {"slug": _SLUG},
            "responses": {"200": _ok("The article", _object({
                "slug": _STR, "title": _STR, "url": _STR, "path": _STR, "summary": _STR, "tags": _WORDS,
                "module": _STR, "reviewed": {"type": "string", "nullable": True}, "text": _STR})), **_errors("404")}}},
        "api.click": {"post": {
            "summary": "A click on a search result",
            "requestBody": _json_body(_object({"query_id": {"type": "string", "example": "0123456789abcdef"}, "slug": _SLUG,
                                               "position": {"type": "integer", "example": 1}},
                                              ("query_id", "slug", "position"))),
            "responses": {"202": _ok("Recorded"), **_errors("400", "404")}}},
        "api.feedback": {"post": {
            "summary": "Was this article helpful?",
            "requestBody": _json_body(_object({"slug": _SLUG, "helpful": {"type": "boolean"},
                                               "comment": {"type": "string", "maxLength": 2000}}, ("slug", "helpful"))),
            "responses": {"202": _ok("Recorded"), **_errors("400", "404")}}},
        "api.answer_feedback": {"post": {
            "summary": "Was the answer shown above the results helpful?",
            "requestBody": _json_body(_object({"search_id": {"type": "string", "example": "0123456789abcdef",
                                                             "description": "the query_id of the search that showed it"},
                                               "helpful": {"type": "boolean"},
                                               "comment": {"type": "string", "maxLength": 2000}},
                                              ("search_id", "helpful"))),
            "responses": {"202": _ok("Recorded (a second vote on the same search replaces the first)"),
                          **_errors("400", "404")}}},
        "api.health": {"get": {
            "summary": "Whether the index is loaded, its size and version, and this node's place in the change feed",
            "responses": {"200": _ok("Health", _object({
                "ok": {"type": "boolean"}, "articles": _INT, "index_version": {"type": "string", "nullable": True},
                "node": _object({"id": _STR, "changes_applied": _INT})}))}}},
        "site.status": {"get": {
            "summary": "Where a site update is: queued, building, live (its pages are served) or failed",
            "security": _AUTH,
            "parameters": [_query("ticket", {"type": "string", "maxLength": 64}, required=True)],
            "responses": {"200": _ok("The update", _object({
                "ticket": _STR, "state": {"type": "string", "enum": ["queued", "building", "live", "failed"]},
                "paths": _WORDS, "seconds": {"type": "number"}, "error": _STR})),
                **_errors("400", "401", "403", "404")}}},
        "ask.ask": {"post": {
            "summary": "A customer's question for the support team (when search found nothing good)",
            "description": "Stored for the knowledge managers (/questions), counted as a content-gap signal, and "
                           "forwarded to the helpdesk webhook when one is configured. At most 5 per client address "
                           "per hour (429).",
            "requestBody": _json_body(_object({
                "question": {"type": "string", "maxLength": 1000, "example": "OKR 目标管理在哪里设置？"},
                "email": {"type": "string", "maxLength": 254, "description": "optional, for an answer"},
                "query": {"type": "string", "maxLength": 500, "description": "the search that found nothing good"}},
                ("question",))),
            "responses": {"201": _ok("Stored", _object({"ok": {"type": "boolean"}, "id": _INT,
                                                        "forwarded": {"type": "boolean"}})),
                          **_errors("400", "413", "429")}}},
        # -- the in-product help widget (widget.js): public data only, CORS for --widget-origins -------------
        "widget.search": {"get": {
            "summary": "Search from the help widget (as api.search, URLs absolute; logged with source=widget)",
            "parameters": [_query("q", {"type": "string", "maxLength": 500}, required=True),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 50}),
                           _query("page", {"type": "integer", "minimum": 1, "maximum": 100}), _WIDGET_SESSION],
            "responses": {"200": _ok("Ranked results, as /api/search", _object({
                "query": _STR, "query_id": _STR, "total": _INT, "results": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                "no_good_match": {"type": "boolean"},
                "answer": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Answer"}]}})),
                **_errors("400")}}},
        "widget.suggestions": {"get": {
            "summary": "Articles for the page the customer is on: its module from data-kb-context, else the page's "
                       "path (--widget-pages, or a path segment naming a module); the most opened first",
            "parameters": [_query("context", {"type": "string", "maxLength": 100, "example": "gantt"}),
                           _query("path", {"type": "string", "maxLength": 2000, "example": "/projects/12/gantt"}),
                           _WIDGET_SESSION],
            "responses": {"200": _ok("The module (empty when none) and up to 5 articles", _object({
                "module": _STR, "articles": {"type": "array", "items": _object({
                    "slug": _STR, "title": _STR, "summary": _STR, "url": _STR})}})), **_errors("400")}}},
        "widget.article": {"get": {
            "summary": "An article for the widget's panel: its rendered HTML, sanitized, links and images absolute",
            "path": {"slug": _SLUG},
            "responses": {"200": _ok("The article", _object({
                "slug": _STR, "title": _STR, "url": _STR, "module": _STR, "summary": _STR,
                "html": {"type": "string", "description": "sanitized HTML (plain formatting, links, images)"}})),
                **_errors("404")}}},
        "widget.click": {"post": {
            "summary": "A search result opened in the widget",
            "parameters": [_WIDGET_SESSION],
            "requestBody": _json_body(_object({"query_id": {"type": "string", "example": "0123456789abcdef"},
                                               "slug": _SLUG, "position": {"type": "integer", "example": 1}},
                                              ("query_id", "slug", "position"))),
            "responses": {"202": _ok("Recorded"), **_errors("400", "404")}}},
        "widget.feedback": {"post": {
            "summary": "Was this article helpful? (from the widget; logged with source=widget)",
            "parameters": [_WIDGET_SESSION],
            "requestBody": _json_body(_object({"slug": _SLUG, "helpful": {"type": "boolean"},
                                               "comment": {"type": "string", "maxLength": 2000}}, ("slug", "helpful"))),
            "responses": {"202": _ok("Recorded"), **_errors("400", "404")}}},
        "widget.answer_feedback": {"post": {
            "summary": "Was the answer the widget showed helpful?",
            "parameters": [_WIDGET_SESSION],
            "requestBody": _json_body(_object({"search_id": {"type": "string", "example": "0123456789abcdef"},
                                               "helpful": {"type": "boolean"},
                                               "comment": {"type": "string", "maxLength": 2000}},
                                              ("search_id", "helpful"))),
            "responses": {"202": _ok("Recorded"), **_errors("400", "404")}}},
        "widget.questions": {"post": {
            "summary": "联系客服 from the widget: as POST /api/questions, logged with source=widget",
            "parameters": [_WIDGET_SESSION],
            "requestBody": _json_body(_object({
                "question": {"type": "string", "maxLength": 1000, "example": "甘特图怎么打印？"},
                "email": {"type": "string", "maxLength": 254}, "query": {"type": "string", "maxLength": 500}},
                ("question",))),
            "responses": {"201": _ok("Stored", _object({"ok": {"type": "boolean"}, "id": _INT,
                                                        "forwarded": {"type": "boolean"}})),
                          **_errors("400", "413", "429")}}},
        "agent.openapi": {"get": {"summary": "This description (OpenAPI 3)", "responses": {"200": _ok("The spec")}}},
        "agent.api_docs": {"get": {"summary": "This description as a readable page (HTML)",
                                   "responses": {"200": {"description": "HTML page",
                                                         "content": {"text/html": {"schema": _STR}}}}}},
        # -- support agents and helpdesk integrations ---------------------------------------------------------
        "agent.api_suggest": {"post": {
            "summary": "Articles for a ticket: the whole cleaned ticket through hybrid search, each with the "
                       "passage that matches it; key phrases for display (edited phrases search instead)",
            "security": _AUTH,
            "requestBody": _json_body(_object({
                "subject": _STR, "body": _STR,
                "phrases": {**_WORDS, "description": "edited key phrases to search instead"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20}})),
            "responses": {"200": _ok("Suggestions", _object({
                "phrases": _WORDS, "results": {"type": "array", "items": {"allOf": [
                    {"$ref": "#/components/schemas/Result"},
                    _object({"passage": _object({
                        "heading": _STR, "anchor": _STR, "url": {**_STR, "description": "article URL with #anchor"},
                        "text": _STR, "html": {**_STR, "description": "escaped text, <mark> around the key phrases"},
                        "similarity": {"type": "number", "nullable": True,
                                       "description": "passage similarity to the ticket (null: found by keywords)"}})}),
                ]}},
                "message": _STR})), **_errors("400", "401", "403", "413")}}},
        "agent.api_link": {"post": {
            "summary": "Record an article sent on a ticket; returns a tracked link (?ref=) in paste formats",
            "security": _AUTH,
            "requestBody": _json_body(_object({"ticket_id": _TICKET, "slug": _SLUG, "agent": _STR, "phrases": _WORDS},
                                              ("ticket_id", "slug"))),
            "responses": {"201": _ok("The link", {"$ref": "#/components/schemas/Link"}),
                          **_errors("400", "401", "403", "404")}}},
        "agent.api_links": {"get": {
            "summary": "Links (agents: their own), optionally for one ticket",
            "security": _AUTH,
            "parameters": [_query("ticket_id", _TICKET)],
            "responses": {"200": _ok("Links", _object({"links": {"type": "array", "items": {
                "$ref": "#/components/schemas/Link"}}})), **_errors("401", "403")}}},
        "agent.api_visit": {"post": {
            "summary": "A customer opened an article through a tracked link (sent by the article page)",
            "requestBody": _json_body(_object({"ref": _STR, "slug": _SLUG}, ("ref", "slug"))),
            "responses": {"202": _ok("Counted once per link and client address"), **_errors("400", "404")}}},
        "agent.api_outcome": {"post": {
            "summary": "The ticket was solved by the article, or it did not help",
            "security": _AUTH,
            "requestBody": _json_body(_object({"ref": _STR, "link_id": {"type": "integer", "example": 1},
                                               "outcome": {"type": "string", "enum": ["solved", "not_helped"]}},
                                              ("outcome",))),
            "responses": {"200": _ok("The link", {"$ref": "#/components/schemas/Link"}),
                          **_errors("400", "401", "403", "404")}}},
        "agent.api_draft": {"post": {
            "summary": "Turn a ticket answered by hand into a draft article in the review queue",
            "security": _AUTH,
            "requestBody": _json_body(_object({"question": {"type": "string", "example": "怎么归档项目？"},
                                               "answer": {"type": "string", "example": "在项目设置里点击归档。"},
                                               "ticket_id": _TICKET},
                                              ("question", "answer"))),
            "responses": {"201": _ok("The submission", {"$ref": "#/components/schemas/Submission"}),
                          **_errors("400", "401", "403", "429")}}},
        # -- the knowledge manager's queue --------------------------------------------------------------------
        "dashboard.api_flags": {"get": {
            "summary": "The queue of content gaps and stale/unhelpful articles, most urgent first (managers)",
            "security": _AUTH,
            "parameters": [_query("state", {"type": "string", "enum": list(flags.STATES)}),
                           _query("kind", {"type": "string", "enum": ["gap", "article"]})],
            "responses": {"200": _ok("Flags", _object({"flags": {"type": "array", "items": {"type": "object"}}})),
                          **_errors("400", "401", "403")}}},
        "dashboard.api_flag": {"get": {
            "summary": "One flag with its history (managers)",
            "security": _AUTH,
            "responses": {"200": _ok("The flag", {"type": "object"}), **_errors("401", "403", "404")}}},
        "dashboard.api_flag_transition": {"post": {
            "summary": "Acknowledge, resolve, dismiss or reopen a flag, as of the version you saw (managers)",
            "security": _AUTH,
            "requestBody": _json_body(_object({"state": {"type": "string", "enum": list(flags.STATES)},
                                               "version": _VERSION, "note": {"type": "string", "maxLength": 2000}},
                                              ("state", "version"))),
            "responses": {"200": _ok("The flag after the change", {"type": "object"}),
                          **_errors("400", "401", "403", "404", "409")}}},
        # -- notifications: outgoing webhooks (managers) and each person's e-mail preference -------------------
        "notify.api_webhooks": {"get": {
            "summary": "The outgoing webhooks (secrets masked) and the event types (managers)",
            "security": _AUTH,
            "responses": {"200": _ok("Webhooks", _object({"webhooks": {"type": "array", "items": _WEBHOOK},
                                                          "events": _WORDS})), **_errors("401", "403")}}},
        "notify.api_webhook_add": {"post": {
            "summary": "Add a webhook: signed JSON POSTs of the chosen events to url (managers)",
            "description": "Each delivery carries X-KB-Event and X-KB-Signature: sha256=<hex HMAC-SHA256 of the body "
                           "with the secret>. A secret left out is generated and returned once, as `secret`.",
            "security": _AUTH,
            "requestBody": _json_body(_object({
                "url": {"type": "string", "maxLength": 2000, "example": "https://hooks.example.com/kb"},
                "events": {"type": "array", "items": {"type": "string", "enum": ["*", *notifications.EVENTS]},
                           "minItems": 1},
                "secret": {"type": "string", "minLength": 16, "maxLength": 200}}, ("url", "events"))),
            "responses": {"201": _ok("The webhook", _WEBHOOK), **_errors("400", "401", "403")}}},
        "notify.api_webhook_remove": {"delete": {
            "summary": "Remove a webhook (its delivery log stays) (managers)",
            "security": _AUTH,
            "responses": {"200": _ok("Removed"), **_errors("401", "403", "404")}}},
        "notify.api_deliveries": {"get": {
            "summary": "The webhook delivery log, newest first, with every attempt (managers)",
            "security": _AUTH,
            "responses": {"200": _ok("Deliveries", _object({"deliveries": {"type": "array", "items": {"type": "object"}}})),
                          **_errors("401", "403")}}},
        "notify.api_replay": {"post": {
            "summary": "Send a logged delivery again, as a new delivery of the same body (managers)",
            "security": _AUTH,
            "responses": {"201": _ok("The new delivery", {"type": "object"}), **_errors("401", "403", "404")}}},
        "notify.api_my_notifications": {"get": {
            "summary": "Your e-mail address and notification mode (instant, digest or off)",
            "security": _AUTH,
            "responses": {"200": _ok("Your preference", _PREFERENCE), **_errors("401")}}},
        "notify.api_set_my_notifications": {"put": {
            "summary": "Set your e-mail address and/or notification mode",
            "security": _AUTH,
            "requestBody": _json_body(_object({"email": {"type": "string", "maxLength": 254, "nullable": True},
                                               "mode": {"type": "string", "enum": list(accounts.NOTIFY_MODES)}})),
            "responses": {"200": _ok("Your preference", _PREFERENCE), **_errors("400", "401")}}},
        # -- the head of support's figures (read-only) -----------------------------------------------------------
        "dashboard.api_analytics_summary": {"get": {
            "summary": "Headline figures for whole days in the company's time zone (self-service rate, searches, "
                       "zero-result, click-through and helpful rates), their trend vs the previous range of the same "
                       "length, and today so far (managers)",
            "security": _AUTH,
            "parameters": _RANGE,
            "responses": {"200": _ok("Figures", _object({
                "from": _DATE, "to": _DATE, "days": _INT, "time_zone": _STR, "summary": {"type": "object"},
                "previous": {"type": "object"}, "trend": {"type": "object"}, "today": {"type": "object"}})),
                          **_errors("400", "401", "403")}}},
        "dashboard.api_analytics_table": {"get": {
            "summary": "One of the dashboard's tables for a range: daily figures, top searches, top failing searches, "
                       "top articles or per-module health; the same numbers as the page and its CSV (managers)",
            "security": _AUTH,
            "path": {"name": {"type": "string", "enum": [t for t in report.TABLES if t != "summary"]}},
            "parameters": _RANGE,
            "responses": {"200": _ok("Rows", _object({"from": _DATE, "to": _DATE, "table": _STR,
                                                      "rows": {"type": "array", "items": {"type": "object"}}})),
                          **_errors("400", "401", "403", "404")}}},
        "dashboard.api_flag_fix": {"post": {
            "summary": "Link the article that fixes a flag: its searches' failure rate before is recorded, the flag "
                       "resolved, and later analyses verify the fix or reopen the flag (managers)",
            "security": _AUTH,
            "requestBody": _json_body(_object({"slug": {"type": "string", "maxLength": 300,
                                                        "example": "accounts/reset-password"}}, ("slug",))),
            "responses": {"201": _ok("The fix", {"type": "object"}),
                          **_errors("400", "401", "403", "404", "409")}}},
        "dashboard.api_flag_fixes": {"get": {
            "summary": "The fixes linked to a flag and their verification: measuring, verified or ineffective (managers)",
            "security": _AUTH,
            "responses": {"200": _ok("Fixes", _object({"fixes": {"type": "array", "items": {"type": "object"}}})),
                          **_errors("401", "403", "404")}}},
        "evidence.api_flag_searches": {"get": {
            "summary": "The searches behind a flag's evidence (the numbers its sentences link to), newest first (managers)",
            "security": _AUTH,
            "parameters": [_query("outcome", {"type": "string", "enum": list(flag_searches.FILTERS),
                                              "description": "one outcome, or failed: every failing search"}),
                           _query("period", {"type": "string", "enum": list(flag_searches.PERIODS)}),
                           _query("page", {"type": "integer", "minimum": 1, "maximum": 99999})],
            "responses": {"200": _ok("Searches", _object({
                "total": _INT, "page": _INT, "per_page": _INT,
                "searches": {"type": "array", "items": _object({"query_id": _STR, "ts": _STR, "query": _STR,
                                                                "outcome": _STR, "period": _STR})}})),
                          **_errors("400", "401", "403", "404")}}},
        # -- VIP best practices and their review ----------------------------------------------------------------
        "contrib.api_create": {"post": {
            "summary": "A VIP customer's new best practice (a draft, or submitted with submit: true)",
            "security": _AUTH,
            "requestBody": _json_body(_object({**_SUBMISSION_FIELDS, "submit": {"type": "boolean"}}, ("title",))),
            "responses": {"201": _ok("Created", {"$ref": "#/components/schemas/Submission"}),
                          "200": _ok("An identical resend within 10 minutes", {"$ref": "#/components/schemas/Submission"}),
                          **_errors("400", "401", "403", "413", "429")}}},
        "contrib.api_list": {"get": {
            "summary": "Submissions: your own (VIP) or all (managers)",
            "security": _AUTH,
            "parameters": [_query("state", {"type": "string", "enum": list(queue.STATES)})],
            "responses": {"200": _ok("Submissions", _object({"submissions": {"type": "array", "items": {
                "$ref": "#/components/schemas/Submission"}}})), **_errors("400", "401", "403")}}},
        "contrib.api_get": {"get": {
            "summary": "One submission with revisions, comments and history",
            "security": _AUTH,
            "responses": {"200": _ok("The submission", {"$ref": "#/components/schemas/Submission"}),
                          **_errors("401", "403", "404")}}},
        "contrib.api_update": {"patch": {
            "summary": "Edit your draft (or a submission sent back for changes); a manager corrects title, "
                       "summary or body of a submission under review (a new revision, attribution unchanged)",
            "security": _AUTH,
            "requestBody": _json_body(_object({**_SUBMISSION_FIELDS, "version": _VERSION})),
            "responses": {"200": _ok("The edited submission", {"$ref": "#/components/schemas/Submission"}),
                          **_errors("400", "401", "403", "404", "409")}}},
        "contrib.api_action": {"post": {
            "summary": "submit (author), comments (author or manager), or a review action (managers)",
            "security": _AUTH,
            "path": {"action": {"type": "string", "enum": ["submit", "comments", *REVIEW_ACTIONS]}},
            "requestBody": _json_body(_object({
                "version": _VERSION, "note": {"type": "string", "description": "request_changes and reject"},
                "assignee": {"type": "string", "description": "start_review: a manager's name"},
                "body": {"type": "string", "description": "comments: the comment"},
                "parent_id": {"type": "integer", "description": "comments: the comment this replies to"}}),
                required=False),
            "responses": {"200": _ok("The submission after the action", {"$ref": "#/components/schemas/Submission"}),
                          "201": _ok("The comment"), **_errors("400", "401", "403", "404", "409")}}},
        "contrib.api_preview": {"post": {
            "summary": "How a Markdown body will render on the site (sanitized HTML)",
            "security": _AUTH,
            "requestBody": _json_body(_object({"body": _SUBMISSION_FIELDS["body"]})),
            "responses": {"200": _ok("The HTML", _object({"html": _STR})), **_errors("400", "401", "403", "413")}}},
        "contrib.api_similar": {"post": {
            "summary": "Articles and pending submissions that look like this one",
            "security": _AUTH,
            "requestBody": _json_body(_object({k: _SUBMISSION_FIELDS[k] for k in ("title", "summary", "body", "tags")}
                                              | {"id": {"type": "integer", "description": "your submission, left out"}})),
            "responses": {"200": _ok("Similar", _object({"similar": {"type": "array", "items": {"type": "object"}}})),
                          **_errors("400", "401", "403")}}},
        # -- what kb learns from its logs (managers) ------------------------------------------------------------
        "learning.api_list": {"get": {
            "summary": "Learned synonym pairs (customer words → article words) with counts and examples",
            "security": _AUTH,
            "parameters": [_query("state", {"type": "string", "enum": list(synonyms.STATES)})],
            "responses": {"200": _ok("Pairs", _object({"synonyms": {"type": "array",
                                                                    "items": {"$ref": "#/components/schemas/Synonym"}}})),
                          **_errors("400", "401", "403")}}},
        "learning.api_get": {"get": {
            "summary": "One learned synonym pair with its audit history",
            "security": _AUTH,
            "responses": {"200": _ok("The pair", {"$ref": "#/components/schemas/Synonym"}),
                          **_errors("401", "403", "404")}}},
        "learning.api_decide": {"post": {
            "summary": "Approve (joins search at once) or reject a learned synonym pair",
            "security": _AUTH,
            "requestBody": _json_body(_object({"decision": {"type": "string", "enum": list(synonyms.DECISIONS)},
                                               "version": _VERSION, "note": {"type": "string", "maxLength": 2000}},
                                              ("decision",))),
            "responses": {"200": _ok("The pair after the decision", {"$ref": "#/components/schemas/Synonym"}),
                          **_errors("400", "401", "403", "404", "409")}}},
        "learning.api_health": {"get": {
            "summary": "Articles' 0-100 health scores with the signals that lowered them, least healthy first",
            "security": _AUTH,
            "parameters": [_query("slug", _STR), _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000})],
            "responses": {"200": _ok("Scores", _object({"articles": {"type": "array", "items": _object({
                "slug": _STR, "title": _STR, "path": _STR, "score": {"type": "number"}, "computed_at": _STR,
                "signals": {"type": "array", "items": _object({"signal": _STR, "penalty": {"type": "number"},
                                                               "detail": {"type": "object"}})}})}})),
                          **_errors("400", "401", "403")}}},
        # -- editing articles (managers and editors; contrib/editing.py) -------------------------------------
        "editing.api_me": {"get": {
            "summary": "Who is signed in, and whether they may edit articles (the site's 编辑文章 link)",
            "responses": {"200": _ok("The user or null", _object({"user": {"type": "object", "nullable": True},
                                                                  "can_edit": {"type": "boolean"}}))}}},
        "editing.api_article": {"get": {
            "summary": "An article as the editor loads it: fields, body and content hash",
            "security": _AUTH,
            "parameters": [_query("slug", _SLUG, required=True)],
            "responses": {"200": _ok("The article", _object({"slug": _STR, "path": _STR, "fields": _EDIT_FIELDS_OBJ,
                                                             "body": _STR, "hash": _STR, "meta": {"type": "object"}})),
                          **_errors("400", "401", "403", "404")}}},
        "editing.api_history": {"get": {
            "summary": "An article's revisions, newest first",
            "security": _AUTH,
            "parameters": [_query("slug", _SLUG, required=True)],
            "responses": {"200": _ok("Revisions", _object({"slug": _STR, "revisions": {"type": "array", "items": {
                "$ref": "#/components/schemas/Revision"}}})), **_errors("400", "401", "403")}}},
        "editing.api_revision": {"get": {
            "summary": "One revision with its full text",
            "security": _AUTH,
            "responses": {"200": _ok("The revision", {"$ref": "#/components/schemas/Revision"}),
                          **_errors("400", "401", "403", "404")}}},
        "editing.api_save": {"post": {
            "summary": "Save an edited article (409 edit_conflict with a diff if it changed since base_hash)",
            "security": _AUTH,
            "requestBody": _json_body(_object({
                "slug": _SLUG, "fields": _EDIT_FIELDS_OBJ, "body": _EDIT_BODY,
                "base_hash": {"type": "string", "description": "the content hash you started from"},
                "message": {"type": "string", "maxLength": 500}, "flag_id": _FLAG_ID, "gap_id": _FLAG_ID},
                ("slug", "fields", "body", "base_hash"))),
            "responses": {"200": _ok("Saved", _EDIT_RESULT), **_errors("400", "401", "403", "404", "409", "413")}}},
        "editing.api_new": {"post": {
            "summary": "Create an article (slug from the title unless given)",
            "security": _AUTH,
            "requestBody": _json_body(_object({
                "slug": {"type": "string", "nullable": True}, "fields": _EDIT_FIELDS_OBJ, "body": _EDIT_BODY,
                "message": {"type": "string", "maxLength": 500}, "flag_id": _FLAG_ID, "gap_id": _FLAG_ID},
                ("fields", "body"))),
            "responses": {"201": _ok("Created", _EDIT_RESULT), **_errors("400", "401", "403", "409", "413")}}},
        "editing.api_restore": {"post": {
            "summary": "Restore a revision as a new one (410 if the article was deleted, unless recreate)",
            "security": _AUTH,
            "requestBody": _json_body(_object({
                "slug": _SLUG, "revision": _INT, "base_hash": _STR, "recreate": {"type": "boolean"},
                "message": {"type": "string", "maxLength": 500}}, ("slug", "revision"))),
            "responses": {"200": _ok("Restored", _EDIT_RESULT), "410": _error("The article was deleted"),
                          **_errors("400", "401", "403", "404", "409")}}},
        "editing.api_reviewed": {"post": {
            "summary": "Set reviewed: to today, nothing else changed",
            "security": _AUTH,
            "requestBody": _json_body(_object({"slug": _SLUG, "base_hash": _STR}, ("slug",))),
            "responses": {"200": _ok("Marked", _EDIT_RESULT), **_errors("400", "401", "403", "404", "409")}}},
        "editing.api_preview": {"post": {
            "summary": "A Markdown body as the site renders it (sanitized HTML)",
            "security": _AUTH,
            "requestBody": _json_body(_object({"body": _EDIT_BODY})),
            "responses": {"200": _ok("The HTML", _object({"html": _STR})), **_errors("400", "401", "403", "413")}}},
    }


_RULE_ARG = re.compile(r"<(?:(?P<converter>[a-zA-Z_]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "example": 1}, "path": _STR,
                      "default": _STR,
                      "string": _STR}
_METHODS = ("get", "post", "put", "patch", "delete")


def api_operations(app: Flask) -> list[tuple[str, str, str, dict]]:
    """(OpenAPI path, method, endpoint, path parameter schemas) for every /api/ route of app."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        params = {m["name"]: dict(_CONVERTER_SCHEMAS.get(m["converter"] or "default", _STR))
                  for m in _RULE_ARG.finditer(rule.rule)}
        path = _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        for method in sorted(m.lower() for m in rule.methods or ()):
            if method in _METHODS:
                out.append((path, method, rule.endpoint, params))
    return out


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3 document for app: every /api/ route, described by its declaration in _operations()."""
    declared = _operations()
    paths: dict = {}
    for path, method, endpoint, params in api_operations(app):
        op = dict(declared.get(endpoint, {}).get(method) or _undeclared(method))
        path_schemas = {**params, **op.pop("path", {})}
        parameters = [{"name": name, "in": "path", "required": True, "schema": schema}
                      for name, schema in path_schemas.items()]
        op["parameters"] = parameters + op.get("parameters", [])
        if not op["parameters"]:
            del op["parameters"]
        op["operationId"] = f"{endpoint}.{method}"
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kb help-center API",
            "version": "1.1.0",
            "description": "Search, feedback, the helpdesk integration for support agents, the knowledge managers' "
                           "queue and the VIP best-practice workflow. Authenticate with `Authorization: Bearer "
                           "<token>` (created by `kb users add NAME --role agent|manager|vip|helpdesk`). Bad input "
                           "is a 4xx with {\"error\": {\"code\", \"message\"}}, never a 500.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                # message: English, for programs; text: the same in the reader's language (Accept-Language
                # zh or en, else the company's), for showing to a person; other fields: the message's values.
                "Error": _object({"error": _object({"code": _STR, "message": _STR, "text": _STR})}),
                "Result": _object({
                    "slug": _STR, "title": _STR, "url": _STR, "path": _STR, "summary": _STR, "module": _STR,
                    "snippet": {"type": "string", "description": "HTML-escaped text with <mark> around matches"},
                    "score": {"type": "number"}, "position": _INT,
                    "boost": _object({"factor": {"type": "number"}, "reason": _STR})}),
                "Answer": _object({
                    "slug": _STR, "title": _STR, "heading": {"type": "string", "description": "the section quoted"},
                    "url": {"type": "string", "description": "the article's URL with the section's #anchor"},
                    "passage_html": {"type": "string", "description": "sanitized HTML: a list, a paragraph or a "
                                                                      "table row with its header"},
                    "score": {"type": "number"}}),
                "Link": _object({
                    "id": _INT, "ref": _STR, "ticket_id": _STR, "slug": _STR, "agent": _STR, "url": _STR,
                    "outcome": _STR, "visits": _INT,
                    "formats": _object({"markdown": _STR, "url": _STR, "html": _STR, "text": _STR})}),
                "Submission": _object({"id": _INT, "state": _STR, "version": _INT, "title": _STR}),
                "Synonym": _object({"id": _INT, "customer": _STR, "article": _STR, "state": _STR, "sessions": _INT,
                                    "examples": {"type": "array", "items": _WORDS}, "slugs": _WORDS,
                                    "decided_by": _STR, "decided_at": _STR, "version": _INT}),
                "Revision": _object({"id": _INT, "slug": _STR, "path": _STR, "ts": _STR, "actor": _STR, "action": _STR,
                                     "message": _STR, "content_hash": _STR, "text": _STR}),
            },
        },
        "paths": dict(sorted(paths.items())),
    }


def _undeclared(method: str) -> dict:
    op = {"summary": "(not declared in kbserver/openapi.py)", "x-undeclared": True,
          "responses": {"200": _ok("OK"), **_errors("400", "401", "403", "404")}}
    if method in ("post", "put", "patch"):
        op["requestBody"] = _json_body({"type": "object"}, required=False)
    return op


def declared_endpoints() -> set[str]:
    """The endpoints _operations() describes (for the test that every declaration has a route and vice versa)."""
    return set(_operations())


def spec_for(app: Flask) -> dict:
    """The app's spec, built once per app."""
    if "kb_openapi" not in app.extensions:
        app.extensions["kb_openapi"] = build_spec(app)
    return app.extensions["kb_openapi"]
