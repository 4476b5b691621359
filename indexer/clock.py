"""The project clock: every stored timestamp is written by these two functions.

UTC, milliseconds, a trailing "Z": text order is time order, in SQLite and PostgreSQL alike, so
timestamps are computed here in Python rather than by the database (``datetime('now')`` is SQLite's).
"""

from __future__ import annotations

import datetime as dt


def iso(when: dt.datetime) -> str:
    """A moment in the format of every ts column: UTC, milliseconds, "Z" (so text order is time order)."""
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """Now, as iso() writes it."""
    return iso(dt.datetime.now(dt.timezone.utc))
