"""One error handler: JSON under /api/, a short readable page elsewhere; never a traceback."""

from __future__ import annotations

import html
import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from indexer.errors import KBError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, code: str, message: str, details: dict | None = None):
    if _wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"].update({k: v for k, v in details.items() if v is not None})
        return jsonify(body), status
    page = (f"<!doctype html><meta charset=utf-8><title>{status}</title>"
            f"<h1>{status}</h1><p>{html.escape(message)}</p><p><a href='/'>帮助中心首页</a></p>")
    return page, status, {"Content-Type": "text/html; charset=utf-8"}


def init_app(app: Flask) -> None:
    """Register the handlers on app."""

    @app.errorhandler(KBError)
    def handle_kb_error(exc: KBError):
        return _respond(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _respond(500, "internal", "Something went wrong on our side; the error has been logged.")
