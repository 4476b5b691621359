"""Text a person typed, checked once for every feature that stores it (submissions, the article editor)."""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput
from .i18n import N_

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def typed_text(value, name: str) -> str:
    """Text a person typed into field `name`: a string of valid Unicode (None is empty), control
    characters removed, NFC-normalized, stripped; InvalidInput naming the field otherwise."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(N_("「%(field)s」必须是文字"), field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("「%(field)s」里有不是有效文字的字符"), field=name) from None
    return unicodedata.normalize("NFC", _CONTROL.sub("", value)).strip()
