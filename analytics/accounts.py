"""People and roles: knowledge managers, support agents and VIP customers. Sole owner of ``users`` and ``sessions``.

Passwords are hashed with Argon2id (argon2-cffi); API tokens and session ids are random secrets stored
only as SHA-256 digests, so a copy of the database gives away none of them.

Sessions live here, not only in the signed cookie: the cookie carries a random session id, and a
request is signed in only while that id's row exists, has not expired and belongs to an enabled
account. So signing out, a new password, disabling or removing an account end sessions at once; a
copied cookie stops working with them.

Removing an account keeps a tombstone (no password, token or sessions; the name stays taken): review
histories, flags and agents' links name people, and a new account must not inherit an old one's past.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import sqlite3
import time
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from indexer.clock import now_iso
from indexer.errors import Conflict, InvalidInput, NotFound
from indexer.i18n import N_
from indexer.store import transaction

ROLES = ("manager", "agent", "vip", "helpdesk", "editor")  # helpdesk: an integration's token (agent API, any agent's links)
# editor: may edit articles in kb (contrib/editing.py), nothing else a manager does
# MiB of memory per Argon2id hash (3 passes, 4 lanes): RFC 9106's second recommended option. Tests lower it.
DEFAULT_HASH_COST = 64
_hasher = PasswordHasher()  # the production cost; kept for callers that set a known password directly


def password_hasher(cost_mib: int | None = None) -> PasswordHasher:
    """An Argon2id hasher using cost_mib MiB per hash (default DEFAULT_HASH_COST)."""
    cost = DEFAULT_HASH_COST if cost_mib is None else int(cost_mib)
    if cost < 1:
        raise InvalidInput(N_("密码哈希的内存成本至少是 1（MiB）"))
    return _hasher_for(cost)


@functools.lru_cache(maxsize=8)
def _hasher_for(cost_mib: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=cost_mib * 1024)


@functools.lru_cache(maxsize=8)
def _dummy_hash(cost_mib: int) -> str:
    # Verified against for unknown or disabled names, so a wrong name takes as long as a wrong password.
    return password_hasher(cost_mib).hash("not a password")


def hash_password(password: str, cost_mib: int | None = None) -> str:
    """The Argon2id hash of password at cost_mib MiB."""
    return password_hasher(cost_mib).hash(password)


def create_user_tables(db) -> None:
    db["users"].create({"id": int, "name": str, "role": str, "password_hash": str, "token_hash": str,
                        "created_at": str, "disabled": int}, pk="id", not_null={"name", "role"})
    db["users"].create_index(["name"], unique=True)
    db["users"].create_index(["token_hash"])


def create_sessions(db) -> None:
    db.execute("ALTER TABLE users ADD COLUMN removed_at TEXT")
    db.execute("CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, created_at TEXT NOT NULL, "
               "expires_at REAL NOT NULL)")
    db.execute("CREATE INDEX sessions_user ON sessions (user_id)")


def add_contact(db) -> None:
    # Notifications (analytics/notifications.py) need where to write and how often.
    db.execute("ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE users ADD COLUMN notify_mode TEXT NOT NULL DEFAULT 'instant'")


MIGRATIONS = [create_user_tables, create_sessions, add_contact]
NOTIFY_MODES = ("instant", "digest", "off")  # each e-mail at once, one e-mail a day, none


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize_name(name: str) -> str:
    """A typed name as accounts are looked up: NFC, without surrounding spaces."""
    return unicodedata.normalize("NFC", (name or "").strip())


def validate_name(name: str) -> str:
    """A user name: 1-64 printable characters, no surrounding spaces."""
    name = normalize_name(name)
    if not 1 <= len(name) <= 64 or any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput(N_("用户名要用 1 到 64 个可打印字符"))
    return name


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(N_("角色必须是 %(choices)s 之一"), choices=", ".join(ROLES))


def _new_password() -> str:
    return secrets.token_urlsafe(12)


def _new_token() -> str:
    return "kb_" + secrets.token_urlsafe(32)


def create_user(db, name: str, role: str, hash_cost: int | None = None) -> tuple[dict, str, str]:
    """Add an account; returns (user, generated password, API token). Shown once, stored hashed."""
    name = validate_name(name)
    _check_role(role)
    if db["users"].count_where("name = ?", [name]):
        raise Conflict(N_("已有名为 %(name)r 的用户（已删除账号的用户名也不能再用），请换一个名字"), name=name)
    password, token = _new_password(), _new_token()
    try:
        user_id = db["users"].insert({"name": name, "role": role, "password_hash": hash_password(password, hash_cost),
                                      "token_hash": _digest(token), "created_at": now_iso(), "disabled": 0}).last_pk
    except sqlite3.IntegrityError:  # the same name added at the same moment elsewhere
        raise Conflict(N_("已有名为 %(name)r 的用户，请换一个名字"), name=name) from None
    return get_user(db, user_id), password, token


def _public(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "role": row["role"], "created_at": row["created_at"],
            "disabled": bool(row["disabled"])}


def _row(db, user_id: int) -> dict:
    rows = list(db["users"].rows_where("id = ? AND removed_at IS NULL", [user_id]))
    if not rows:
        raise NotFound(N_("没有编号为 %(id)s 的用户"), id=user_id)
    return rows[0]


def get_user(db, user_id: int) -> dict:
    """An enabled user without secrets; NotFound if there is none."""
    row = _row(db, user_id)
    if row["disabled"]:
        raise NotFound(N_("没有编号为 %(id)s 的用户"), id=user_id)
    return _public(row)


def find_user(db, name: str) -> dict:
    """A user (enabled or disabled, not removed) by name; NotFound names `kb users list`."""
    rows = list(db["users"].rows_where("name = ? AND removed_at IS NULL", [normalize_name(name)]))
    if not rows:
        raise NotFound(N_("没有名为 %(name)r 的用户，可用 `kb users list` 查看所有用户"), name=name)
    return _public(rows[0])


def list_users(db, include_disabled: bool = False) -> list[dict]:
    """Accounts without secrets: the enabled ones, or with include_disabled every one not removed."""
    where = "removed_at IS NULL" + ("" if include_disabled else " AND disabled = 0")
    return [_public(r) for r in db["users"].rows_where(where, order_by="name")]


def authenticate(db, name: str, password: str, hash_cost: int | None = None) -> dict | None:
    """The user if name and password match an enabled account, else None (always one full hash check)."""
    rows = list(db["users"].rows_where("name = ? AND disabled = 0 AND removed_at IS NULL AND password_hash IS NOT NULL",
                                       [normalize_name(name)]))
    hasher = password_hasher(hash_cost)
    stored = rows[0]["password_hash"] if rows else _dummy_hash(hasher.memory_cost // 1024)
    try:
        hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if not rows:
        return None
    if hasher.check_needs_rehash(stored):  # the operator changed the cost: bring this hash to it
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hasher.hash(password), rows[0]["id"]])
        db.conn.commit()
    return _public(rows[0])


def user_for_token(db, token: str) -> dict | None:
    """The enabled user an API token belongs to, else None."""
    if not token or not token.startswith("kb_"):
        return None
    digest = _digest(token)
    for row in db["users"].rows_where("token_hash = ? AND disabled = 0 AND removed_at IS NULL", [digest]):
        if hmac.compare_digest(row["token_hash"], digest):
            return _public(row)
    return None


# -- sessions ---------------------------------------------------------------------------------
def create_session(db, user_id: int, lifetime_seconds: int, now: float | None = None) -> str:
    """A new session for user_id lasting lifetime_seconds; returns its id (stored only as a digest)."""
    now = time.time() if now is None else now
    sid = secrets.token_urlsafe(32)
    with transaction(db):
        db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
        db.execute("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                   [_digest(sid), user_id, now_iso(), now + lifetime_seconds])
    return sid


def user_for_session(db, sid: str, now: float | None = None) -> dict | None:
    """The enabled user a live session id belongs to, else None (ended, expired, disabled or removed)."""
    if not sid or not isinstance(sid, str):
        return None
    now = time.time() if now is None else now
    row = db.execute("SELECT u.id, u.name, u.role, u.created_at, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id "
                     "WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0 AND u.removed_at IS NULL",
                     [_digest(sid), now]).fetchone()
    return None if row is None else _public(dict(zip(("id", "name", "role", "created_at", "disabled"), row, strict=True)))


def end_session(db, sid: str) -> None:
    """End one session (sign out)."""
    with transaction(db):
        db.execute("DELETE FROM sessions WHERE id_hash = ?", [_digest(sid or "")])


def count_sessions(db, user_id: int, now: float | None = None) -> int:
    """How many live sessions user_id has."""
    now = time.time() if now is None else now
    return db.execute("SELECT count(*) FROM sessions WHERE user_id = ? AND expires_at > ?", [user_id, now]).fetchone()[0]


# -- managing accounts (the CLI and the users page call these; who may call them is the caller's policy) ----------
class LastManager(Conflict):
    """The change would leave no enabled manager (details: action = disable, demote or remove)."""


_LAST_MANAGER = {
    "disable": N_("不能停用最后一位知识库管理员，请先把另一个账号设为管理员"),
    "demote": N_("不能更改最后一位知识库管理员的角色，请先把另一个账号设为管理员"),
    "remove": N_("不能删除最后一位知识库管理员，请先把另一个账号设为管理员"),
}


def _keep_a_manager(db, user_id: int, what: str) -> None:
    # At least one enabled manager must remain, or nobody could manage accounts or reviews from the web.
    # Called inside transaction() (BEGIN IMMEDIATE): two managers demoting each other cannot both see the other.
    others = db.execute("SELECT count(*) FROM users WHERE role = 'manager' AND disabled = 0 AND removed_at IS NULL "
                        "AND id != ?", [user_id]).fetchone()[0]
    row = db.execute("SELECT role, disabled FROM users WHERE id = ?", [user_id]).fetchone()
    if row and row[0] == "manager" and not row[1] and others == 0:
        raise LastManager(_LAST_MANAGER[what], action=what)


def _existing(db, user_id: int) -> dict:
    row = db.execute("SELECT id FROM users WHERE id = ? AND removed_at IS NULL", [user_id]).fetchone()
    if row is None:
        raise NotFound(N_("没有编号为 %(id)s 的用户"), id=user_id)
    return row


def set_disabled(db, user_id: int, disabled: bool) -> dict:
    """Disable (ends sessions, refuses password and token at once) or enable an account."""
    with transaction(db):
        _existing(db, user_id)
        if disabled:
            _keep_a_manager(db, user_id, "disable")
            db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
        db.execute("UPDATE users SET disabled = ? WHERE id = ?", [1 if disabled else 0, user_id])
    return _public(_row(db, user_id))


def set_role(db, user_id: int, role: str) -> dict:
    """Give an account another role (effective on its next request: roles are read on every request)."""
    _check_role(role)
    with transaction(db):
        _existing(db, user_id)
        if role != "manager":
            _keep_a_manager(db, user_id, "demote")
        db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])
    return _public(_row(db, user_id))


def reset_password(db, user_id: int, hash_cost: int | None = None) -> str:
    """A new generated password for the account (shown once); its sessions end, its token stays."""
    password = _new_password()
    hashed = hash_password(password, hash_cost)  # outside the transaction: Argon2 takes a while
    with transaction(db):
        _existing(db, user_id)
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hashed, user_id])
        db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
    return password


def rotate_token(db, user_id: int) -> str:
    """A new API token for the account (shown once); the old one stops working at once."""
    token = _new_token()
    with transaction(db):
        _existing(db, user_id)
        db.execute("UPDATE users SET token_hash = ? WHERE id = ?", [_digest(token), user_id])
    return token


def remove_user(db, user_id: int) -> None:
    """Remove an account: credentials and sessions erased at once; a tombstone keeps its name and id taken."""
    with transaction(db):
        _existing(db, user_id)
        _keep_a_manager(db, user_id, "remove")
        db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
        db.execute("UPDATE users SET password_hash = NULL, token_hash = NULL, disabled = 1, removed_at = ? WHERE id = ?",
                   [now_iso(), user_id])


# -- contact details for notifications ------------------------------------------------------------------
def clean_email(email) -> str:
    """An e-mail address ready to store ('' clears it), or InvalidInput."""
    from .questions import _EMAIL, MAX_EMAIL

    if email is None:
        return ""
    if not isinstance(email, str):
        raise InvalidInput(N_("邮箱必须是文本"))
    email = email.strip()
    if email and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        raise InvalidInput(N_("%(email)r 不是有效的邮箱地址（例如 name@example.com）"), email=email[:80])
    return email


def set_contact(db, user_id: int, email=None, mode=None) -> dict:
    """Set an account's e-mail address and/or notification mode (instant, digest or off); returns its contact."""
    values = {}
    if email is not None:
        values["email"] = clean_email(email)
    if mode is not None:
        if mode not in NOTIFY_MODES:
            raise InvalidInput(N_("通知方式必须是 %(choices)s 之一"), choices=", ".join(NOTIFY_MODES))
        values["notify_mode"] = mode
    with transaction(db):
        _existing(db, user_id)
        if values:
            db.execute(f"UPDATE users SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       [*values.values(), user_id])
    return get_contact(db, user_id)


def get_contact(db, user_id: int) -> dict:
    """{id, name, role, email, mode} of an account not removed; NotFound otherwise."""
    row = db.execute("SELECT id, name, role, email, notify_mode FROM users WHERE id = ? AND removed_at IS NULL",
                     [user_id]).fetchone()
    if row is None:
        raise NotFound(N_("没有编号为 %(id)s 的用户"), id=user_id)
    return dict(zip(("id", "name", "role", "email", "mode"), row, strict=True))


def contacts(db, include_disabled: bool = False) -> list[dict]:
    """{id, name, role, email, mode} of every enabled account (who notifications can reach), or every one not removed."""
    rows = db.execute("SELECT id, name, role, email, notify_mode FROM users WHERE removed_at IS NULL"
                      + ("" if include_disabled else " AND disabled = 0") + " ORDER BY id").fetchall()
    return [dict(zip(("id", "name", "role", "email", "mode"), r, strict=True)) for r in rows]
