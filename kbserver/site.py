"""Serve the built static site from <data>/site (switched atomically by `kb build`)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, g, jsonify, redirect, request, send_from_directory

from indexer.errors import IndexMissing, InvalidInput, NotFound
from indexer.i18n import N_
from indexer.site import site_dir

from .auth import require_role

bp = Blueprint("site", __name__)

MAX_PATH = 1024  # bytes; no page of a site is deeper, and Linux refuses longer file names anyway
MAX_SEGMENT = 255  # bytes per folder or file name (NAME_MAX)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
_HASH_CACHE_SIZE = 2000


def _root() -> Path:
    root = site_dir(current_app.config["KB"]["data"])
    if root is None:
        raise IndexMissing(N_("帮助中心网站还没有生成，请运行 `kb build`"))
    return root


def _impossible(path: str) -> bool:
    """A path no built file can have: a NUL byte (the OS refuses it) or names longer than the OS allows."""
    if "\x00" in path:
        return True
    raw = path.encode("utf-8", "surrogateescape")
    return len(raw) > MAX_PATH or any(len(part) > MAX_SEGMENT for part in raw.split(b"/"))


def _not_found(root: Path):
    if (root / "404.html").is_file():
        return _send(root, "404.html", status=404)
    abort(404)


def script_hashes(file: Path) -> tuple[str, ...]:
    """CSP sources ('sha256-…') for the inline scripts of a built page, cached by file, mtime and size.

    The site is built from our own docs (contributions are sanitized before they become docs), so its
    inline scripts (Material's and our theme's) are the ones to allow; nothing typed at run time is.
    """
    st = file.stat()
    key = (str(file), st.st_mtime_ns, st.st_size)
    cache = current_app.extensions.setdefault("kb_site_script_hashes", {})
    if key not in cache:
        if len(cache) >= _HASH_CACHE_SIZE:
            cache.clear()
        digests = {base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
                   for m in _INLINE_SCRIPT.finditer(file.read_bytes())}
        cache[key] = tuple(f"'sha256-{d}'" for d in sorted(digests))
    return cache[key]


def _send(root: Path, path: str, status: int = 200):
    if path.endswith(".html"):
        g.csp_script_hashes = script_hashes(root / path)
    response = send_from_directory(root, path, max_age=0 if path.endswith(".html") else 3600)
    if status != 200:  # not for a 304 answer to a conditional request
        response.status_code = status
    return response


@bp.get("/api/site/status")
@require_role("manager", "editor")
def status():
    """GET ?ticket= → where a site update (from publishing, unpublishing or editing) is: queued, building, live or failed."""
    ticket = request.args.get("ticket", "")
    if not ticket:
        raise InvalidInput(N_("请提供 ticket：发布或下线时返回的 site_ticket"))
    found = current_app.extensions["kb_site_updater"].status(ticket) if len(ticket) <= 64 else None
    if found is None:
        raise NotFound(N_("没有 ticket 为 %(ticket)r 的网站更新（ticket 在服务器重启前有效）"), ticket=ticket)
    return jsonify(found)


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def page(path: str):
    """A file of the site; folders answer with their index.html, unknown or impossible paths with the site's 404 page."""
    if path == "api" or path.startswith("api/"):
        abort(404, description=f"no API endpoint /{path}")
    root = _root()
    if _impossible(path):
        return _not_found(root)
    try:
        target = (root / path).resolve()
        if root not in target.parents and target != root:
            abort(404)
        is_dir = target.is_dir()
        if is_dir:
            if path and not path.endswith("/"):  # relative links on the page assume the trailing slash
                query = request.query_string.decode("latin-1")
                return redirect("/" + path + "/" + ("?" + query if query else ""), code=308)
            path = (path.rstrip("/") + "/index.html").lstrip("/")
            target = target / "index.html"
        if not target.is_file():
            return _not_found(root)
    except (OSError, ValueError):  # a name the file system cannot hold is simply not a page of the site
        return _not_found(root)
    return _send(root, path)
