"""The request's database connection (Flask tutorial pattern): opened on first use, closed after."""

from __future__ import annotations

from flask import Flask, current_app, g

from analytics.store import open_db


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
