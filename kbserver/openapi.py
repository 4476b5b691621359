"""OpenAPI 3 description of kb's JSON API (served at /api/openapi.json, readable at /api/docs)."""

from __future__ import annotations


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict | None = None) -> dict:
    out = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": schema}}
    return out


_STR = {"type": "string"}
_AUTH = [{"bearer": []}]
_ERRORS = {"400": _error("Invalid input"), "401": _error("No or wrong token"), "403": _error("Role not allowed"),
           "404": _error("Not found"), "413": _error("Request too large")}

SPEC = {
    "openapi": "3.0.3",
    "info": {
        "title": "kb help-center API",
        "version": "1.0.0",
        "description": "Search, feedback, and the helpdesk integration for support agents. Authenticate with "
                       "`Authorization: Bearer <token>` (created by `kb users add NAME --role agent|manager|vip`).",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": _STR, "message": _STR}}}},
            "Result": {"type": "object", "properties": {
                "slug": _STR, "title": _STR, "url": _STR, "path": _STR, "summary": _STR, "module": _STR,
                "snippet": {"type": "string", "description": "HTML-escaped text with <mark> around matches"},
                "score": {"type": "number"}, "position": {"type": "integer"}}},
            "Link": {"type": "object", "properties": {
                "id": {"type": "integer"}, "ref": _STR, "ticket_id": _STR, "slug": _STR, "agent": _STR,
                "url": _STR, "outcome": _STR, "visits": {"type": "integer"},
                "formats": {"type": "object", "properties": {"markdown": _STR, "url": _STR, "html": _STR, "text": _STR}}}},
        },
    },
    "paths": {
        "/api/search": {"get": {
            "summary": "Search articles",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 500}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                {"name": "module", "in": "query", "schema": _STR},
                {"name": "tag", "in": "query", "schema": _STR}],
            "responses": {"200": _ok("Ranked results", {"type": "object", "properties": {
                "query": _STR, "query_id": _STR, "total": {"type": "integer"}, "took_ms": {"type": "number"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                "did_you_mean": {"type": "string", "nullable": True}}}), "400": _ERRORS["400"]}}},
        "/api/articles/{slug}": {"get": {
            "summary": "One article",
            "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _STR}],
            "responses": {"200": _ok("The article"), "404": _ERRORS["404"]}}},
        "/api/events/click": {"post": {
            "summary": "A click on a search result",
            "requestBody": _json_body({"type": "object", "required": ["query_id", "slug", "position"], "properties": {
                "query_id": _STR, "slug": _STR, "position": {"type": "integer"}}}),
            "responses": {"202": _ok("Recorded"), "400": _ERRORS["400"], "404": _ERRORS["404"]}}},
        "/api/feedback": {"post": {
            "summary": "Was this article helpful?",
            "requestBody": _json_body({"type": "object", "required": ["slug", "helpful"], "properties": {
                "slug": _STR, "helpful": {"type": "boolean"}, "comment": _STR}}),
            "responses": {"202": _ok("Recorded"), "400": _ERRORS["400"], "404": _ERRORS["404"]}}},
        "/api/agent/suggest": {"post": {
            "summary": "Articles for a ticket (key phrases from subject and body, then search)",
            "security": _AUTH,
            "requestBody": _json_body({"type": "object", "properties": {
                "subject": _STR, "body": _STR, "lang": {"type": "string", "enum": ["zh", "en"]},
                "phrases": {"type": "array", "items": _STR, "description": "edited key phrases to search instead"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20}}}),
            "responses": {"200": _ok("Suggestions", {"type": "object", "properties": {
                "phrases": {"type": "array", "items": _STR},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                "message": _STR}}), **{k: _ERRORS[k] for k in ("400", "401", "403", "413")}}}},
        "/api/agent/links": {
            "post": {
                "summary": "Record an article sent on a ticket; returns a tracked link (?ref=) in paste formats",
                "security": _AUTH,
                "requestBody": _json_body({"type": "object", "required": ["ticket_id", "slug"], "properties": {
                    "ticket_id": _STR, "slug": _STR, "agent": _STR, "phrases": {"type": "array", "items": _STR}}}),
                "responses": {"201": _ok("The link", {"$ref": "#/components/schemas/Link"}),
                              **{k: _ERRORS[k] for k in ("400", "401", "403", "404")}}},
            "get": {
                "summary": "Links (agents: their own), optionally for one ticket",
                "security": _AUTH,
                "parameters": [{"name": "ticket_id", "in": "query", "schema": _STR}],
                "responses": {"200": _ok("Links"), "401": _ERRORS["401"], "403": _ERRORS["403"]}}},
        "/api/agent/visit": {"post": {
            "summary": "A customer opened an article through a tracked link (sent by the article page)",
            "requestBody": _json_body({"type": "object", "required": ["ref", "slug"], "properties": {
                "ref": _STR, "slug": _STR}}),
            "responses": {"202": _ok("Counted once per visitor session"), "400": _ERRORS["400"],
                          "404": _ERRORS["404"]}}},
        "/api/agent/outcome": {"post": {
            "summary": "The ticket was solved by the article, or it did not help",
            "security": _AUTH,
            "requestBody": _json_body({"type": "object", "required": ["outcome"], "properties": {
                "ref": _STR, "link_id": {"type": "integer"},
                "outcome": {"type": "string", "enum": ["solved", "not_helped"]}}}),
            "responses": {"200": _ok("The link", {"$ref": "#/components/schemas/Link"}),
                          **{k: _ERRORS[k] for k in ("400", "401", "403", "404")}}}},
        "/api/agent/draft": {"post": {
            "summary": "Turn a ticket answered by hand into a draft article in the review queue",
            "security": _AUTH,
            "requestBody": _json_body({"type": "object", "required": ["question", "answer"], "properties": {
                "question": _STR, "answer": _STR, "ticket_id": _STR}}),
            "responses": {"201": _ok("The submission"), **{k: _ERRORS[k] for k in ("400", "401", "403")}}}},
    },
}
