"""Sign-in, sessions, CSRF and roles.

Browsers sign in with name and password (a signed session cookie, HttpOnly, SameSite=Lax); every
form carries a CSRF token that must match the session's. Programs send ``Authorization: Bearer
<token>`` (no cookie, so no CSRF). Anything beyond public search, articles, clicks and votes needs
an account with the right role.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from analytics import accounts
from indexer.errors import Forbidden, Unauthorized

from .db import get_db

bp = Blueprint("auth", __name__)


def _secret_key(settings: dict) -> str:
    if settings.get("secret_key"):
        return settings["secret_key"]
    path = Path(settings["data"]) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def init_app(app) -> None:
    """Session signing, cookie flags, the CSRF check and the current user on every request."""
    app.secret_key = _secret_key(app.config["KB"])
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="kb_session")
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.context_processor(lambda: {"csrf_token": csrf_token, "current_user": g.get("user")})


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf():
    if request.method != "POST" or request.path.startswith("/api/"):
        return None  # API calls authenticate with a bearer token, which a forged form cannot send
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="This form has expired or did not come from this site. Reload the page and try again.")
    return None


def _load_user():
    g.user, g.auth = None, None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.auth = "token"
        g.user = accounts.user_for_token(get_db(), header[7:].strip())
        if g.user is None and request.path.startswith("/api/"):
            raise Unauthorized("the API token is not valid: create one with `kb users add NAME --role ...`")
    elif session.get("uid"):
        g.auth = "session"
        try:
            g.user = accounts.get_user(get_db(), session["uid"])
        except Exception:  # noqa: BLE001 - a deleted account simply signs out
            session.clear()


def require_role(*roles):
    """Views for signed-in users with one of roles: others are sent to sign in, or refused (403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = g.get("user")
            if user is None:
                if request.path.startswith("/api/"):
                    raise Unauthorized("sign in first: send Authorization: Bearer <token>")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user["role"] not in roles:
                raise Forbidden(f"the {user['role']} role cannot open this page; it is for: {', '.join(roles)}")
            if (request.method not in ("GET", "HEAD") and g.auth == "session" and request.path.startswith("/api/")
                    and not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), session.get("csrf", "-"))):
                # The browser's own pages send the session's token; another site's form or script cannot.
                raise Forbidden("missing or wrong X-CSRF-Token header for a signed-in browser request")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _safe_next(target: str | None, user: dict) -> str:
    parsed = urlparse(target or "")
    if target and not parsed.scheme and not parsed.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return {"manager": "/dashboard", "vip": "/contrib", "agent": "/agent"}.get(user["role"], "/")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form."""
    if request.method == "POST":
        user = accounts.authenticate(get_db(), request.form.get("name", ""), request.form.get("password", ""))
        if user:
            session.clear()  # a fresh session on sign-in: no fixation
            session["uid"] = user["id"]
            return redirect(_safe_next(request.args.get("next"), user))
        flash("用户名或密码不正确。")
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.post("/logout")
def logout():
    """Sign out (a POST with the CSRF token, so a link elsewhere cannot sign anyone out)."""
    session.clear()
    return redirect(url_for("auth.login"))
