"""Reading request input the same way everywhere: JSON objects and text fields, or a clear 400."""

from __future__ import annotations

from flask import Request, request

from indexer.errors import InvalidInput

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
                raise InvalidInput(f"the JSON body is nested too deeply (at most {max_depth} levels)")
            if isinstance(item, dict):
                for key in item:
                    _check_unicode(key)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)


def _check_unicode(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the JSON body contains text that is not valid Unicode (a lone surrogate such as "
                           "\\ud800); send UTF-8 text") from None


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
            raise InvalidInput(f"the JSON body is nested too deeply (at most {MAX_DEPTH} levels)") from None
        if value is not None and not self._kb_checked:
            check_json_value(value)
            self._kb_checked = cache
        return value


def json_object() -> dict:
    """The request's JSON body, which must be an object (deep nesting and bad Unicode are a 400 too)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object (Content-Type: application/json)")
    return body


def text(value, name: str, required: bool = True, limit: int = 1_000_000) -> str:
    """A string field that can be stored: JSON allows lone surrogates (\\\\ud800), UTF-8 does not."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} contains characters that are not valid Unicode text") from None
    if required and not value.strip():
        raise InvalidInput(f"{name} is required")
    if len(value) > limit:
        raise InvalidInput(f"{name} is too long (at most {limit} characters)")
    return value


SQLITE_MAX = 2**63 - 1


def is_whole_number(value) -> bool:
    """True for a JSON integer SQLite can store (JSON's true/false are Python ints too: not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and -SQLITE_MAX <= value <= SQLITE_MAX
