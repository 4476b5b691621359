"""Reading request input the same way everywhere: JSON objects and text fields, or a clear 400."""

from __future__ import annotations

from flask import request

from indexer.errors import InvalidInput


def json_object() -> dict:
    """The request's JSON body, which must be an object (deep nesting and bad UTF-8 are a 400 too)."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
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
