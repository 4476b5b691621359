"""Questions customers ask the support team when search finds nothing good. Sole owner of ``questions``.

A question is the strongest gap signal kb gets: someone searched, saw nothing useful, and took the
time to write. Each row also carries its delivery state for the company's helpdesk webhook
(``delivery``: ``none`` when no webhook is configured, else ``pending`` until a 2xx, then
``delivered``), so a question the helpdesk did not take is retried, and resent after a restart,
never lost. The per-address rate limit counts this table's own rows (like ``throttle.py`` counts
failed sign-ins), so it holds across processes and restarts.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from indexer.clock import iso
from indexer.errors import InvalidInput, RateLimited
from indexer.i18n import N_
from indexer.store import transaction

from . import notifications

MAX_QUESTION = 1000
MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_QUERY = 500  # the search box's own limit
RATE_LIMIT = 5  # questions per client address ...
RATE_WINDOW = 3600  # ... per this many seconds
RETRY_MAX = 3600  # seconds between delivery attempts at most (doubling from 5 s)
# Bounded parts, no nested quantifiers: linear on any input (and the input is cut to MAX_EMAIL first).
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-']{1,64}@[A-Za-z0-9\-]{1,63}(\.[A-Za-z0-9\-]{1,63}){1,8}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def create_questions_table(db) -> None:
    db.execute("CREATE TABLE questions (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, at REAL NOT NULL, "
               "question TEXT NOT NULL, email TEXT NOT NULL DEFAULT '', query TEXT NOT NULL DEFAULT '', "
               "session TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '', "
               "delivery TEXT NOT NULL DEFAULT 'none', attempts INTEGER NOT NULL DEFAULT 0, "
               "next_attempt REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', delivered_at TEXT)")
    db.execute("CREATE INDEX questions_address ON questions (address, at)")
    db.execute("CREATE INDEX questions_ts ON questions (ts)")
    db.execute("CREATE INDEX questions_delivery ON questions (delivery, next_attempt)")


def add_questions_source_column(db) -> None:
    # Where the question was asked ("site": the search page's form, "widget": the in-product help widget,
    # "api": anything else), as searches.source says where a search was typed.
    db.execute("ALTER TABLE questions ADD COLUMN source TEXT NOT NULL DEFAULT ''")


MIGRATIONS = [create_questions_table, add_questions_source_column]


def clean(question, email, query="") -> tuple[str, str, str]:
    """(question, email, query) ready to store, or InvalidInput saying what is wrong."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput(N_("请填写问题：写下您在找什么"))
    if email is None:
        email = ""
    if not isinstance(email, str):
        raise InvalidInput(N_("email 必须是文本（也可以不填）"))
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise InvalidInput(N_("query 必须是文本（也可以不填）"))
    question, email, query = question.strip(), email.strip(), query.strip()
    if len(question) > MAX_QUESTION:
        raise InvalidInput(N_("问题太长了（%(n)s 个字符，最多 %(max)s 个）"), n=len(question), max=MAX_QUESTION)
    if len(email) > MAX_EMAIL or (email and not _EMAIL.fullmatch(email)):
        raise InvalidInput(N_("邮箱格式不正确（例如 name@example.com）；不填即可匿名提问"))
    if len(query) > MAX_QUERY:
        raise InvalidInput(N_("query 太长了（最多 %(max)s 个字符）"), max=MAX_QUERY)
    for name, value in (("question", question), ("query", query)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(N_("%(field)s 里有不是有效 Unicode 文本的字符"), field=name) from None
    return _CONTROL.sub("", question), email, _CONTROL.sub("", query)


def add_question(db, question, email="", query="", *, session: str = "", address: str = "", forward: bool = False,
                 limit: int = RATE_LIMIT, window: int = RATE_WINDOW, now: float | None = None,
                 source: str = "api") -> dict:
    """Store a question (validated); RateLimited when the address asked `limit` times within `window` s."""
    question, email, query = clean(question, email, query)
    now = time.time() if now is None else now
    with transaction(db):  # count and insert under one write lock: concurrent requests cannot pass the limit
        row = db.execute("SELECT at FROM questions WHERE address = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                         [address, now - window, limit - 1]).fetchone()
        if row is not None:
            wait = int(row[0] + window - now) + 1
            raise RateLimited(N_("这个地址提问太频繁了：每小时最多 %(limit)s 个，请 %(retry_after)s 秒后再试"),
                              retry_after=wait, limit=limit)
        ts = iso(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        cursor = db.execute(
            "INSERT INTO questions (ts, at, question, email, query, session, address, delivery, next_attempt, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [ts, now, question, email, query, session[:64], address[:100], "pending" if forward else "none", now,
             source])
        question_id = cursor.fetchone()[0]
        notifications.notify(db, "question.asked", {"question_id": question_id, "title": question[:60],
                                                    "summary": question, "email": email, "query": query,
                                                    "url": "/questions"}, "managers", now=now)
    return get_question(db, question_id)


_COLUMNS = "id, ts, question, email, query, delivery, attempts, last_error, delivered_at, source"


def _row(row) -> dict:
    return dict(zip(("id", "ts", "question", "email", "query", "delivery", "attempts", "last_error", "delivered_at",
                     "source"), row, strict=True))


def get_question(db, question_id: int) -> dict:
    """One question as a dict (KeyError-free: None if there is no such row)."""
    row = db.execute(f"SELECT {_COLUMNS} FROM questions WHERE id = ?", [question_id]).fetchone()
    return _row(row) if row else None


def list_questions(db, limit: int = 200) -> list[dict]:
    """The newest questions first."""
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM questions ORDER BY id DESC LIMIT ?", [limit])]


def count_questions(db) -> int:
    """How many questions are stored."""
    return db.execute("SELECT COUNT(*) FROM questions").fetchone()[0]


def questions_between(db, start: str, end: str) -> list[tuple[int, str, str, str]]:
    """(id, ts, session, text) of questions asked with start <= ts < end: the query typed, else the question."""
    sql = ("SELECT id, ts, session, CASE WHEN query != '' THEN query ELSE question END FROM questions "
           "WHERE ts >= ? AND ts < ? ORDER BY ts")
    return [tuple(r) for r in db.execute(sql, [start, end])]


def due_deliveries(db, now: float | None = None, limit: int = 50) -> list[dict]:
    """Questions waiting for the helpdesk whose next attempt is due, oldest first (with their payload)."""
    now = time.time() if now is None else now
    sql = (f"SELECT {_COLUMNS} FROM questions WHERE delivery = 'pending' AND next_attempt <= ? "
           "ORDER BY id LIMIT ?")
    return [_row(r) for r in db.execute(sql, [now, limit])]


def next_due(db) -> float | None:
    """When the next pending delivery is due (epoch seconds), or None if nothing waits."""
    return db.execute("SELECT MIN(next_attempt) FROM questions WHERE delivery = 'pending'").fetchone()[0]


def mark_delivered(db, question_id: int, now: float | None = None) -> None:
    """The helpdesk took the question (a 2xx answer)."""
    now = time.time() if now is None else now
    with transaction(db):
        db.execute("UPDATE questions SET delivery = 'delivered', attempts = attempts + 1, last_error = '', "
                   "delivered_at = ? WHERE id = ?", [iso(dt.datetime.fromtimestamp(now, dt.timezone.utc)), question_id])


def mark_failed(db, question_id: int, error: str, now: float | None = None) -> float:
    """An attempt failed: count it and schedule the next one (5 s, doubling, at most RETRY_MAX); returns its delay."""
    now = time.time() if now is None else now
    with transaction(db):
        attempts = db.execute("SELECT attempts FROM questions WHERE id = ?", [question_id]).fetchone()[0] + 1
        delay = min(RETRY_MAX, notifications.retry_delay(attempts))
        db.execute("UPDATE questions SET attempts = ?, last_error = ?, next_attempt = ? WHERE id = ?",
                   [attempts, error[:500], now + delay, question_id])
    return delay


def question_times(db, start: str, end: str) -> dict[str, list[str]]:
    """{session: [ts, ...]} of questions asked with start <= ts < end (sessions left empty are skipped)."""
    out: dict[str, list[str]] = {}
    for session, ts in db.execute("SELECT session, ts FROM questions WHERE ts >= ? AND ts < ? AND session != '' "
                                  "ORDER BY ts", [start, end]):
        out.setdefault(session, []).append(ts)
    return out
