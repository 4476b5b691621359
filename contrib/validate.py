"""What a VIP customer may send, checked before anything is stored."""

from __future__ import annotations

import re

from indexer.errors import InvalidInput
from indexer.i18n import N_
from indexer.validate import typed_text

LIMITS = {"title": 120, "summary": 300, "body": 100_000, "organisation": 100, "module": 40, "tag": 30}
MAX_TAGS = 8
FIELDS = ("title", "summary", "body", "tags", "module", "organisation", "consent")


def _text(data: dict, name: str, required: bool) -> str:
    value = typed_text(data.get(name, ""), name)
    if required and not value:
        raise InvalidInput(N_("请填写「%(field)s」"), field=name)
    if len(value) > LIMITS[name]:
        raise InvalidInput(N_("「%(field)s」太长了：%(length)s 个字符，最多 %(limit)s 个"), field=name, length=len(value),
                           limit=LIMITS[name])
    return value


_MARKUP = re.compile(r"[<>\"`]")


def _single_line(value: str, name: str) -> str:
    """One line of plain text: these fields are shown in page titles, navigation and tags, where the
    site generator does not escape HTML, so markup characters are refused rather than trusted."""
    if "\n" in value or "\r" in value:
        raise InvalidInput(N_("「%(field)s」只能写一行"), field=name)
    if _MARKUP.search(value):
        raise InvalidInput(N_("「%(field)s」不能包含 < > \" 或 `（可以用《》或“”代替）"), field=name)
    return value


def clean_submission(data: dict, final: bool) -> dict:
    """Validated fields; `final` (submitting, not saving a draft) requires every field and consent."""
    if not isinstance(data, dict):
        raise InvalidInput(N_("投稿必须是一个由字段组成的 JSON 对象"))
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise InvalidInput(N_("不认识这些字段：%(unknown)s"), unknown=", ".join(sorted(unknown)))
    out = {name: _single_line(_text(data, name, final), name) for name in ("title", "summary", "module", "organisation")}
    if not final and not out["title"]:
        raise InvalidInput(N_("草稿至少要有一个标题"), field="title")
    out["body"] = _text(data, "body", final)
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,\uff0c]", tags)]  # , or the full-width ，
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInput(N_("标签必须是一组词"), field="tags")
    tags = [_single_line(_text({"tag": t}, "tag", False), "tags") for t in tags]
    tags = list(dict.fromkeys(t for t in tags if t))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(N_("最多只能有 %(limit)s 个标签"), field="tags", limit=MAX_TAGS)
    out["tags"] = tags
    consent = data.get("consent", False)
    if not isinstance(consent, bool):
        consent = str(consent).lower() in ("1", "true", "on", "yes")
    if final and not consent:
        raise InvalidInput(N_("发布前需要你同意以 CC BY 4.0 许可发布（请勾选同意框）"), field="consent")
    out["consent"] = consent
    return out
