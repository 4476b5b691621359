"""Sign-in, sessions, CSRF and roles.

Browsers sign in with name and password. The signed cookie (HttpOnly, SameSite=Lax) carries a random
session id that must match a live row in ``sessions`` (analytics/accounts.py) on every request, so
signing out or disabling an account ends the session on the server, not only in the browser. Every
form carries a CSRF token that must match the session's. Programs send ``Authorization: Bearer
<token>`` (no cookie, so no CSRF). Anything beyond public search, articles, clicks and votes needs
an account with the right role.

Sign-in is guarded because each password check is a 64 MiB Argon2 computation, and a flood of
sign-ins must not take the threads, cores or memory that customers' searches need:

- failed checks are counted per typed account name and per client address in the database
  (analytics/throttle.py, so the limits hold across processes); a locked account or address gets
  429 with Retry-After before any check runs;
- ``SignInGuard``, a WSGI middleware in front of Flask, lets at most ``password_checks`` sign-in
  requests into the app at once and answers the rest 503 at once (never queueing them on worker
  threads), and answers an address it has learnt is locked 429 from memory: refusing a flood costs
  little more than reading the request;
- the Argon2 checks themselves run on a small pool of threads at the lowest CPU priority (nice 19;
  Argon2's own lane threads inherit it), so search threads win the cores whenever both want them;
- the server (kbserver/server.py, ``--refusal-delay``) holds an address's next sign-ins for a second
  after it was answered 429 or 503, on a timer rather than a worker thread, so a client that ignores
  Retry-After cannot make the refusals themselves the flood.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import html
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext

from analytics import accounts, throttle
from indexer.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from indexer.i18n import N_, translator

from .db import get_db
from .i18n import said_to_people
from .labels import label

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
    settings = app.config["KB"]
    app.secret_key = _secret_key(settings)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="kb_session",
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings["session_hours"]))
    # Held on the app (not the module): each app counts its own sign-ins in progress.
    guard = SignInGuard(app.wsgi_app, settings["password_checks"], settings["language"])
    app.wsgi_app = guard
    app.extensions["kb_sign_in_guard"] = guard
    app.extensions["kb_login_policy"] = throttle.LoginPolicy(settings["login_window"], settings["login_failures_account"],
                                                             settings["login_failures_address"])
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.context_processor(lambda: {"csrf_token": csrf_token, "current_user": g.get("user")})


def _lower_priority() -> None:
    try:  # Linux: nice is per thread and inherited by the threads Argon2 starts for its lanes
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # another OS: checks still capped, just not deprioritised
        pass


class SignInGuard:
    """WSGI middleware in front of POST /login: caps sign-ins in progress and refuses locked addresses from memory."""

    def __init__(self, wsgi_app, checks: int, language: str = "zh"):
        self.wsgi_app = wsgi_app
        self.t = translator(language)  # no Flask here: the company's language straight from the catalogue
        self.permits = threading.BoundedSemaphore(checks)
        self.pool = ThreadPoolExecutor(max_workers=checks, thread_name_prefix="kb-password", initializer=_lower_priority)
        self._locked: dict[str, float] = {}  # address → monotonic time its lock ends, as the database said
        self._mutex = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/login":
            return self.wsgi_app(environ, start_response)
        ends = self._locked.get(environ.get("REMOTE_ADDR") or "-", 0.0)
        now = time.monotonic()
        if ends > now:
            return _plain_refusal(start_response, 429, self.t("登录失败次数过多，请 %(n)s 分钟后再试。",
                                                              n=-(-int(ends - now) // 60) or 1),
                                  int(ends - now) + 1, self.t("返回登录"))
        if not self.permits.acquire(blocking=False):  # never queue a sign-in behind a flood: answer at once
            return _plain_refusal(start_response, 503, self.t("登录请求太多，请稍后再试。"), 1, self.t("返回登录"))
        try:
            environ["kb.sign_in_guard"] = self
            return self.wsgi_app(environ, start_response)  # Flask's response body is already rendered here
        finally:
            self.permits.release()

    def remember_lock(self, address: str, seconds: int) -> None:
        """Answer this address 429 from memory for seconds (the database said it is locked that long)."""
        with self._mutex:
            now = time.monotonic()
            if len(self._locked) > 10_000:
                self._locked = {a: t for a, t in self._locked.items() if t > now}
            self._locked[address] = now + seconds

    def check_password(self, fn, *args):
        """Run a password check (fn(*args)) on the low-priority pool and wait for it."""
        return self.pool.submit(fn, *args).result()


def _plain_refusal(start_response, status: int, message: str, retry_after: int, back: str):
    # No Flask, no session, no template: the cheapest answer that still tells a person what to do.
    body = (f"<!doctype html><meta charset=utf-8><title>{status}</title><h1>{html.escape(message)}</h1>"
            f"<p><a href='/login'>{html.escape(back)}</a></p>").encode()
    start_response(f"{status} {'Too Many Requests' if status == 429 else 'Service Unavailable'}",
                   [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                    ("Retry-After", str(retry_after))])
    return [body]


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf():
    if request.method != "POST" or request.path.startswith("/api/"):
        return None  # API calls authenticate with a bearer token, which a forged form cannot send
    if getattr(current_app.view_functions.get(request.endpoint), "kb_roles", None):
        return None  # checked by require_role after the role: a signed-in user without the role gets 403 first
    _check_form_token()
    return None


def _check_form_token():
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise InvalidInput(N_("这个表单已过期，或不是从本站提交的，请刷新页面后重试"))


def _load_user():
    g.user, g.auth = None, None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.auth = "token"
        g.user = accounts.user_for_token(get_db(), header[7:].strip())
        if g.user is None and request.path.startswith("/api/"):
            raise Unauthorized(N_("API 令牌无效，请用 `kb users add 名字 --role ...` 创建一个"))
    elif session.get("sid"):
        g.user = accounts.user_for_session(get_db(), session["sid"])
        if g.user is None:  # signed out elsewhere, expired, disabled or removed: this cookie is worth nothing now
            session.clear()
        else:
            g.auth = "session"
    if g.user is not None:
        request.environ["kb.user"] = g.user["name"]  # for the access log (kbserver/server.py)
    elif "uid" in session:  # a cookie from before server-side sessions: it cannot be ended, so it is not honoured
        session.clear()


def require_role(*roles):
    """Views for signed-in users with one of roles: others are sent to sign in, or refused (403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = g.get("user")
            if user is None:
                if request.path.startswith("/api/"):
                    raise Unauthorized(N_("请先登录：发送 Authorization: Bearer <令牌>"))
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user["role"] not in roles:
                raise Forbidden(N_("「%(role)s」不能打开这个页面，只有这些角色可以：%(roles)s"), role=user["role"],
                                roles=", ".join(roles))
            if (request.method not in ("GET", "HEAD") and g.auth == "session" and request.path.startswith("/api/")
                    and not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), session.get("csrf", "-"))):
                # The browser's own pages send the session's token; another site's form or script cannot.
                raise Forbidden(N_("已登录浏览器的请求缺少 X-CSRF-Token 请求头，或令牌不对"))
            if request.method == "POST" and not request.path.startswith("/api/"):
                _check_form_token()
            return view(*args, **kwargs)

        wrapper.kb_roles = roles
        return wrapper

    return decorate


def _safe_next(target: str | None, user: dict) -> str:
    parsed = urlparse(target or "")
    if target and not parsed.scheme and not parsed.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return {"manager": "/dashboard", "vip": "/contrib", "agent": "/agent", "editor": "/edit"}.get(user["role"], "/")


def _refuse_sign_in(status: int, message: str, retry_after: int):
    flash(message, "error")
    return render_template("login.html"), status, {"Retry-After": str(retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form (rate limited per account and per address; see the module docstring)."""
    if request.method == "POST":
        settings, db = current_app.config["KB"], get_db()
        name, address = accounts.normalize_name(request.form.get("name", "")), request.remote_addr or "-"
        policy = current_app.extensions["kb_login_policy"]
        guard = request.environ["kb.sign_in_guard"]  # holds one of the few sign-in permits for this request
        wait = throttle.retry_after(db, name, address, policy) or throttle.reserve_attempt(db, name, address, policy)
        if wait:  # reserve_attempt counted this check before it runs, in one transaction: no overshoot
            address_wait = throttle.address_retry_after(db, address, policy)
            if address_wait:  # the address itself is locked: refuse it from memory until then, no database needed
                guard.remember_lock(address, address_wait)
            return _refuse_sign_in(429, gettext("登录失败次数过多，请 %(n)s 分钟后再试。", n=-(-wait // 60)), wait)
        user = guard.check_password(accounts.authenticate, db, name, request.form.get("password", ""),
                                    settings["password_hash_cost"])
        if user:
            throttle.clear_account(db, name)
            session.clear()  # a fresh session on sign-in: no fixation
            session["sid"] = accounts.create_session(db, user["id"], settings["session_hours"] * 3600)
            return redirect(_safe_next(request.args.get("next"), user))
        flash(gettext("用户名或密码不正确。"), "error")
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.post("/logout")
def logout():
    """Sign out: the session ends on the server too (a POST with the CSRF token, so a link elsewhere cannot)."""
    if session.get("sid"):
        accounts.end_session(get_db(), session["sid"])
    session.clear()
    return redirect(url_for("auth.login"))


# -- the managers' users page --------------------------------------------------------------------
ROLE_NAMES = ("manager", "editor", "agent", "vip", "helpdesk")  # in the order the role menu lists them; names: labels.py


@bp.get("/users")
@require_role("manager")
def users_page():
    """Every account (enabled and disabled) with the actions a manager may take."""
    return _users_page()


def _users_page(secret: dict | None = None, status: int = 200):
    db = get_db()
    emails = {c["id"]: c["email"] for c in accounts.contacts(db, include_disabled=True)}
    people = [u | {"sessions": accounts.count_sessions(db, u["id"]), "email": emails.get(u["id"], "")}
              for u in accounts.list_users(db, include_disabled=True)]
    headers = {"Cache-Control": "no-store"} if secret else {}  # a password shown once must not sit in a cache
    return render_template("users.html", people=people, roles={r: label(r) for r in ROLE_NAMES}, secret=secret), status, headers


@bp.post("/users")
@require_role("manager")
def users_add():
    """Create an account; its password and token are shown on the page that answers, once."""
    settings = current_app.config["KB"]
    try:
        user, password, token = accounts.create_user(get_db(), request.form.get("name", ""), request.form.get("role", ""),
                                                     settings["password_hash_cost"])
    except (Conflict, InvalidInput) as exc:
        flash(gettext("没有创建：%(error)s", error=said_to_people(exc)), "error")
        return redirect(url_for("auth.users_page"))
    return _users_page({"name": user["name"], "password": password, "token": token})


@bp.post("/users/<int:user_id>")
@require_role("manager")
def users_action(user_id: int):
    """Disable, enable, set role, reset password, rotate token or remove one account."""
    db, action = get_db(), request.form.get("action", "")
    user = next((u for u in accounts.list_users(db, include_disabled=True) if u["id"] == user_id), None)
    if user is None:
        raise NotFound(N_("没有编号为 %(id)s 的用户"), id=user_id)
    name = user["name"]
    try:
        if action == "disable":
            accounts.set_disabled(db, user_id, True)
            flash(gettext("已停用 %(name)s：该账号的会话和 API 令牌立即失效。", name=name))
        elif action == "enable":
            accounts.set_disabled(db, user_id, False)
            throttle.clear_account(db, name)
            flash(gettext("已启用 %(name)s（登录锁定也已解除）。", name=name))
        elif action == "set_role":
            role = request.form.get("role", "")
            accounts.set_role(db, user_id, role)
            flash(gettext("%(name)s 的角色已改为 %(role)s。", name=name, role=label(role)))
        elif action == "reset_password":
            password = accounts.reset_password(db, user_id, current_app.config["KB"]["password_hash_cost"])
            throttle.clear_account(db, name)
            return _users_page({"name": name, "password": password})
        elif action == "set_email":
            accounts.set_contact(db, user_id, request.form.get("email", ""))
            flash(gettext("%(name)s 的通知邮箱已保存。", name=name))
        elif action == "rotate_token":
            return _users_page({"name": name, "token": accounts.rotate_token(db, user_id)})
        elif action == "remove":
            if request.form.get("confirm") != "yes":
                raise InvalidInput(N_("请先勾选确认框，再删除账号"))
            accounts.remove_user(db, user_id)
            flash(gettext("已删除 %(name)s：会话、密码和 API 令牌立即失效，用户名保留在历史记录中。", name=name))
        else:
            raise InvalidInput(N_("未知的操作 %(action)r"), action=action)
    except Conflict as exc:
        flash(gettext("没有保存：%(error)s", error=_last_manager_message(exc)), "error")
    except InvalidInput as exc:
        if action != "set_email":
            raise
        flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
    return redirect(url_for("auth.users_page"))


def _last_manager_message(exc: Conflict) -> str:
    if isinstance(exc, accounts.LastManager):
        return gettext("至少要保留一位启用的知识库管理员，请先把另一个账号设为管理员。")
    return exc.text
