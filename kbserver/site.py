"""Serve the built static site from <data>/site (switched atomically by `kb build`)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, send_from_directory

from indexer.site import site_dir

bp = Blueprint("site", __name__)


def _root() -> Path:
    root = site_dir(current_app.config["KB"]["data"])
    if root is None:
        abort(503, description="The help site has not been built yet: run `kb build`.")
    return root


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def page(path: str):
    """A file of the site; folders answer with their index.html, unknown paths with the site's 404 page."""
    if path == "api" or path.startswith("api/"):
        abort(404, description=f"no API endpoint /{path}")
    root = _root()
    target = (root / path).resolve()
    if root not in target.parents and target != root:
        abort(404)
    if target.is_dir():
        if path and not path.endswith("/"):  # relative links on the page assume the trailing slash
            query = request.query_string.decode("latin-1")
            return redirect("/" + path + "/" + ("?" + query if query else ""), code=308)
        path = (path.rstrip("/") + "/index.html").lstrip("/")
        target = target / "index.html"
    if not target.is_file():
        if (root / "404.html").is_file():
            response = send_from_directory(root, "404.html")
            response.status_code = 404
            return response
        abort(404)
    response = send_from_directory(root, path, max_age=0 if path.endswith(".html") else 3600)
    return response
