"""Failed sign-ins per account and per client address, and the lockout they cause. Sole owner of ``login_failures``.

Why not Flask-Limiter: its storage backends are memory, Redis, Memcached and MongoDB. Memory does not
hold across processes (two `kb serve` behind one proxy would each allow the full budget), and kb's
only store is its own database. Counting failures in a sliding window needs one table and three
queries, so they live here, next to the other tables, and a PostgreSQL backend only has to port them.

Each password check is counted before it runs, in the same write transaction as the look at the
count, so concurrent attempts (threads or processes) cannot overshoot the limit; a successful sign-in
then forgets its account's failures. An attempt refused by the lockout is not counted, so hammering
a lock does not prolong it: the oldest failures age out of the window and the account or address
may try again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from indexer.store import transaction

NAME_CHARS = 200  # what we store of a typed account name: enough to count it, not a megabyte per row


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures within window seconds lock an account (any address) or an address (any account)."""

    window: int = 900
    per_account: int = 10
    per_address: int = 50


def create_throttle_tables(db) -> None:
    db.execute("CREATE TABLE login_failures (id INTEGER PRIMARY KEY, at REAL NOT NULL, account TEXT NOT NULL, "
               "address TEXT NOT NULL)")
    db.execute("CREATE INDEX login_failures_account ON login_failures (account, at)")
    db.execute("CREATE INDEX login_failures_address ON login_failures (address, at)")
    db.execute("CREATE INDEX login_failures_at ON login_failures (at)")


MIGRATIONS = [create_throttle_tables]


def _wait(db, column: str, value: str, limit: int, window: int, now: float) -> float:
    # Locked while `limit` failures are inside the window; free again when the oldest of the last `limit` ages out.
    row = db.execute(f"SELECT at FROM login_failures WHERE {column} = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                     [value, now - window, limit - 1]).fetchone()
    return 0.0 if row is None else row[0] + window - now


def retry_after(db, account: str, address: str, policy: LoginPolicy, now: float | None = None) -> int:
    """Seconds until this account and address may try a password again; 0 when they may now."""
    now = time.time() if now is None else now
    wait = max(_wait(db, "account", account[:NAME_CHARS], policy.per_account, policy.window, now),
               _wait(db, "address", address, policy.per_address, policy.window, now))
    return int(wait) + 1 if wait > 0 else 0


def address_retry_after(db, address: str, policy: LoginPolicy, now: float | None = None) -> int:
    """Seconds until this address may try any account again; 0 when it may now."""
    now = time.time() if now is None else now
    wait = _wait(db, "address", address, policy.per_address, policy.window, now)
    return int(wait) + 1 if wait > 0 else 0


def reserve_attempt(db, account: str, address: str, policy: LoginPolicy, now: float | None = None) -> int:
    """Count a password check about to run: 0 if it may run (counted as a failure until cleared), else seconds to wait."""
    now = time.time() if now is None else now
    account = account[:NAME_CHARS]
    with transaction(db):  # BEGIN IMMEDIATE: look and count under one write lock, so no two attempts take the last slot
        db.execute("DELETE FROM login_failures WHERE at <= ?", [now - policy.window])
        wait = retry_after(db, account, address, policy, now)
        if not wait:
            db.execute("INSERT INTO login_failures (at, account, address) VALUES (?, ?, ?)", [now, account, address])
    return wait


def clear_account(db, account: str) -> None:
    """Forget an account's failures (after it signs in, or when a manager lifts its lockout)."""
    db.execute("DELETE FROM login_failures WHERE account = ?", [account[:NAME_CHARS]])
    db.conn.commit()
