"""The one list of migrations, and the request's database connection (Flask tutorial pattern).

Each feature module declares its own tables' migrations (``MIGRATIONS``); the store that applies them
lives in the bottom package (``indexer/store.py``) and imports no feature, so the list lives here, at the
top, where every feature may be imported. A new table: a new module with its own ``MIGRATIONS``, and one
line below. Names are recorded as "concept:function": never rename a concept or a migration function.
"""

from __future__ import annotations

import sqlite_utils
from flask import Flask, current_app, g

from analytics import (
    accounts,
    answers,
    closure,
    events,
    flag_searches,
    flags,
    health,
    links,
    notifications,
    questions,
    synonyms,
    throttle,
)
from contrib import editing as contrib_editing
from contrib import queue as contrib_queue
from indexer import changes, store

MIGRATIONS = [("events", events.MIGRATIONS), ("flags", flags.MIGRATIONS), ("accounts", accounts.MIGRATIONS),
              ("contrib", contrib_queue.MIGRATIONS), ("links", links.MIGRATIONS),
              ("throttle", throttle.MIGRATIONS), ("editing", contrib_editing.MIGRATIONS),
              ("questions", questions.MIGRATIONS), ("answers", answers.MIGRATIONS),
              ("synonyms", synonyms.MIGRATIONS), ("health", health.MIGRATIONS), ("closure", closure.MIGRATIONS),
              ("notifications", notifications.MIGRATIONS), ("flag_searches", flag_searches.MIGRATIONS),
              ("changes", changes.MIGRATIONS)]


def open_db(database_url: str, migrate: bool = True) -> sqlite_utils.Database:
    """kb's database with every feature's migrations applied (migrate=False: open only)."""
    return store.open_db(database_url, MIGRATIONS if migrate else None)


def get_db():
    """This request's sqlite-utils Database (migrations were applied at start-up)."""
    if "db" not in g:
        g.db = open_db(current_app.config["KB"]["database_url"], migrate=False)
    return g.db


def close_db(exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app: Flask) -> None:
    """Apply migrations once, and close each request's connection when it ends."""
    open_db(app.config["KB"]["database_url"]).conn.close()
    app.teardown_appcontext(close_db)
