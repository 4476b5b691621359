"""What a VIP customer may send, checked before anything is stored."""

from __future__ import annotations

import re

from indexer.errors import InvalidInput
from indexer.validate import typed_text

LIMITS = {"title": 120, "summary": 300, "body": 100_000, "organisation": 100, "module": 40, "tag": 30}
MAX_TAGS = 8
FIELDS = ("title", "summary", "body", "tags", "module", "organisation", "consent")


def _text(data: dict, name: str, required: bool) -> str:
    value = typed_text(data.get(name, ""), name)
    if required and not value:
        raise InvalidInput(f"{name} is required", field=name)
    if len(value) > LIMITS[name]:
        raise InvalidInput(f"{name} is too long ({len(value)} characters, at most {LIMITS[name]})", field=name)
    return value


_MARKUP = re.compile(r"[<>\"`]")


def _single_line(value: str, name: str) -> str:
    """One line of plain text: these fields are shown in page titles, navigation and tags, where the
    site generator does not escape HTML, so markup characters are refused rather than trusted."""
    if "\n" in value or "\r" in value:
        raise InvalidInput(f"{name} must be a single line", field=name)
    if _MARKUP.search(value):
        raise InvalidInput(f"{name} cannot contain < > \" or ` (use 《》 or “” instead)", field=name)
    return value


def clean_submission(data: dict, final: bool) -> dict:
    """Validated fields; `final` (submitting, not saving a draft) requires every field and consent."""
    if not isinstance(data, dict):
        raise InvalidInput("a submission is a JSON object of fields")
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    out = {name: _single_line(_text(data, name, final), name) for name in ("title", "summary", "module", "organisation")}
    if not final and not out["title"]:
        raise InvalidInput("a draft needs at least a title", field="title")
    out["body"] = _text(data, "body", final)
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,，]", tags)]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInput("tags must be a list of words", field="tags")
    tags = [_single_line(_text({"tag": t}, "tag", False), "tags") for t in tags]
    tags = list(dict.fromkeys(t for t in tags if t))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags")
    out["tags"] = tags
    consent = data.get("consent", False)
    if not isinstance(consent, bool):
        consent = str(consent).lower() in ("1", "true", "on", "yes")
    if final and not consent:
        raise InvalidInput("publishing needs your consent to CC BY 4.0 (tick the box)", field="consent")
    out["consent"] = consent
    return out
