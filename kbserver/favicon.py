"""``/favicon.ico``: browsers, bookmarks and feed readers ask the site's root for it, whatever a page links.

The icon is the help site's favicon.svg (indexer/theme/assets/images/favicon.svg) drawn by chromium at
16, 32 and 48 px and packed as PNG images in one .ico (kbserver/static/favicon.ico); pages keep linking
the SVG, which stays sharp at every size.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

bp = Blueprint("favicon", __name__)

STATIC = Path(__file__).resolve().parent / "static"


@bp.get("/favicon.ico")
def favicon():
    """The site's icon (a day in caches: it changes with a release, not with the docs)."""
    return send_from_directory(STATIC, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)
