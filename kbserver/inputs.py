"""Reading request input the same way everywhere: JSON objects and text fields, or a clear 400."""

from __future__ import annotations

from flask import Request, request

from indexer.errors import InvalidInput
from indexer.i18n import N_

MAX_DEPTH = 32  # no kb operation takes more than a list inside an object; 32 leaves room for any client


def check_json_value(value, max_depth: int = MAX_DEPTH) -> None:
    """InvalidInput if value nests lists/objects deeper than max_depth or holds a lone surrogate (keys too)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_unicode(item)
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise InvalidInput(N_("JSON 内容嵌套太深（最多 %(limit)s 层）"), limit=max_depth)
            if isinstance(item, dict):
                for key in item:
                    _check_unicode(key)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)


def _check_unicode(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("JSON 内容含有无效的 Unicode 文本（例如单独的代理字符 \\ud800），请发送 UTF-8 文本")) from None


class KBRequest(Request):
    """Flask's request, refusing JSON bodies no view can use, once for every way a view reads them.

    JSON allows lone surrogates (\\ud800) that UTF-8 (SQLite, the event log, the site) cannot hold, and
    nesting deep enough to exhaust Python's recursion limit; both used to surface as 500s in whichever
    view read the body. InvalidInput (not ValueError) makes even ``get_json(silent=True)`` answer 400
    instead of quietly reading an empty body.
    """

    _kb_checked = False

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        """The parsed body, as Flask reads it; InvalidInput for excessive nesting or text that is not valid Unicode."""
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise InvalidInput(N_("JSON 内容嵌套太深（最多 %(limit)s 层）"), limit=MAX_DEPTH) from None
        if value is not None and not self._kb_checked:
            check_json_value(value)
            self._kb_checked = cache
        return value


def json_object() -> dict:
    """The request's JSON body, which must be an object (deep nesting and bad Unicode are a 400 too)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(N_("请求内容必须是一个 JSON 对象（Content-Type: application/json）"))
    return body


def text(value, name: str, required: bool = True, limit: int = 1_000_000) -> str:
    """A string field that can be stored: JSON allows lone surrogates (\\\\ud800), UTF-8 does not."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(N_("「%(field)s」必须是文本"), field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("「%(field)s」含有无效的 Unicode 字符，请删除后再试"), field=name) from None
    if required and not value.strip():
        raise InvalidInput(N_("请填写「%(field)s」"), field=name)
    if len(value) > limit:
        raise InvalidInput(N_("「%(field)s」太长了（最多 %(limit)s 个字符）"), field=name, limit=limit)
    return value


SQLITE_MAX = 2**63 - 1


def is_whole_number(value) -> bool:
    """True for a JSON integer SQLite can store (JSON's true/false are Python ints too: not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and -SQLITE_MAX <= value <= SQLITE_MAX
