"""People and roles: knowledge managers, support agents and VIP customers. Sole owner of ``users``.

Passwords are hashed with Argon2id (argon2-cffi); API tokens are random 32-byte secrets stored only
as SHA-256 digests, so a copy of the database gives away neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from indexer.errors import Conflict, InvalidInput, NotFound

from .events import now_iso

ROLES = ("manager", "agent", "vip", "helpdesk")  # helpdesk: an integration's token (agent API, any agent's links)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password")  # verified against for unknown names: same timing


def create_user_tables(db) -> None:
    db["users"].create({"id": int, "name": str, "role": str, "password_hash": str, "token_hash": str,
                        "created_at": str, "disabled": int}, pk="id", not_null={"name", "role"})
    db["users"].create_index(["name"], unique=True)
    db["users"].create_index(["token_hash"])


MIGRATIONS = [create_user_tables]


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_name(name: str) -> str:
    """A user name: 1-64 printable characters, no surrounding spaces."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not 1 <= len(name) <= 64 or any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput("a user name is 1 to 64 printable characters")
    return name


def create_user(db, name: str, role: str) -> tuple[dict, str, str]:
    """Add an account; returns (user, generated password, API token). Shown once, stored hashed."""
    name = validate_name(name)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if db["users"].count_where("name = ?", [name]):
        raise Conflict(f"a user named {name!r} already exists")
    password = secrets.token_urlsafe(12)
    token = "kb_" + secrets.token_urlsafe(32)
    user_id = db["users"].insert({"name": name, "role": role, "password_hash": _hasher.hash(password),
                                  "token_hash": _token_digest(token), "created_at": now_iso(), "disabled": 0}).last_pk
    return get_user(db, user_id), password, token


def get_user(db, user_id: int) -> dict:
    """A user without secrets; NotFound if there is none."""
    rows = list(db["users"].rows_where("id = ? AND disabled = 0", [user_id]))
    if not rows:
        raise NotFound(f"no user {user_id}")
    return _public(rows[0])


def _public(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "role": row["role"], "created_at": row["created_at"]}


def list_users(db) -> list[dict]:
    """All active accounts, without secrets."""
    return [_public(r) for r in db["users"].rows_where("disabled = 0", order_by="name")]


def authenticate(db, name: str, password: str) -> dict | None:
    """The user if name and password match, else None."""
    rows = list(db["users"].rows_where("name = ? AND disabled = 0", [(name or "").strip()]))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    return _public(rows[0]) if rows else None


def user_for_token(db, token: str) -> dict | None:
    """The user an API token belongs to, else None."""
    if not token or not token.startswith("kb_"):
        return None
    digest = _token_digest(token)
    for row in db["users"].rows_where("token_hash = ? AND disabled = 0", [digest]):
        if hmac.compare_digest(row["token_hash"], digest):
            return _public(row)
    return None
