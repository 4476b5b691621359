"""One error handler: JSON under /api/, a short readable page elsewhere; never a traceback."""

from __future__ import annotations

import html
import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from indexer.errors import IndexMissing, KBError
from indexer.i18n import N_

from .i18n import said_to_people

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, code: str, message: str, details: dict | None = None, said: str = ""):
    """JSON with message (English, for programs) under /api/; else a page saying `said` (the person's language).

    The JSON carries `said` too, as "text": kb's own pages (the editor, the agent desk, the ask form) show
    an API refusal to a person, in the language the page speaks."""
    if _wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"].update({k: _json_safe(v) for k, v in details.items() if v is not None})
        if said:
            body["error"]["text"] = said
        return jsonify(body), status
    return _page(status, said), status, {"Content-Type": "text/html; charset=utf-8"}


def _json_safe(value):
    """A detail as JSON can carry it (a YAML set or a date in a broken front matter is said as text)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return list(value)
    return str(value)


# What a person reading the page needs: what happened and what to do, in the back office's language.
_PAGES = {
    400: (N_("请求有误"), N_("页面或表单的内容不完整或已过期，请刷新页面后重试。")),
    401: (N_("需要登录"), N_("请先登录后再访问这个页面。")),
    403: (N_("没有权限"), N_("你的账号没有访问这个页面的权限；如需开通，请联系知识库管理员。")),
    404: (N_("找不到这个页面"), N_("链接可能已失效或文章已被移除，可以回到首页重新搜索。")),
    405: (N_("不支持这种操作"), N_("请从页面上的按钮或链接进行操作。")),
    409: (N_("内容已被修改"), N_("其他人刚刚修改了同一内容，请刷新页面查看最新版本后再试。")),
    410: (N_("内容已删除"), N_("这项内容已被删除。")),
    413: (N_("内容太大"), N_("提交的内容超过了大小限制，请缩短后重试。")),
    429: (N_("操作太频繁"), N_("请稍等片刻再试。")),
    500: (N_("出错了"), N_("服务器处理请求时出错，错误已记录，请稍后再试。")),
    503: (N_("暂时无法处理"), N_("服务器正忙或正在准备中，请稍后再试。")),
}



def _page(status: int, message: str) -> str:
    headline, advice = (gettext(text) for text in _PAGES.get(status, (N_("出错了"), N_("请返回首页后重试。"))))
    try:
        return render_template("error.html", status=status, headline=headline, advice=advice,
                               message=message if status != 500 else "")
    except Exception:  # the styled page needs templates and the session; a bare page never fails
        log.exception("error page could not be rendered")
        return (f"<!doctype html><meta charset=utf-8><title>{status} {headline}</title>"
                f"<h1>{headline}</h1><p>{html.escape(advice)}</p><p><a href='/'>{gettext('返回帮助中心首页')}</a></p>")


def init_app(app: Flask) -> None:
    """Register the handlers on app."""

    @app.errorhandler(KBError)
    def handle_kb_error(exc: KBError):
        return _respond(exc.status, exc.code, exc.message, exc.details, said=said_to_people(exc))

    @app.errorhandler(IndexMissing)
    def handle_index_missing(exc: IndexMissing):
        if not {"data", "path"} & set(exc.details):
            return handle_kb_error(exc)
        # This message names the data folder: the operator reads it in the log; a customer (or anyone on the
        # internet) gets no server path.
        log.error("%s", exc.message)
        return _respond(exc.status, exc.code, "the search index is not built yet: the operator must run kb build",
                        said=gettext("帮助中心正在准备搜索索引，请稍后再试。"))

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        # werkzeug's descriptions are English only: a page says its headline and advice (in the person's
        # language) and leaves them out; kb's own reasons are raised as KBError.
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name, said="")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _respond(500, "internal", "Something went wrong on our side; the error has been logged.")
