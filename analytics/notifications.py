"""Notifications: e-mails to people and signed webhooks to other systems. Sole owner of ``notify_emails``,
``webhooks``, ``webhook_deliveries`` and ``webhook_attempts``.

An outbox, not a side effect: ``notify()`` is called by the module whose event causes it (a submission's
state change in contrib/queue.py, a new flag in flags.py, a question in questions.py) inside that
module's own transaction, and only writes rows here. So a notification exists exactly when its event
does: a crash after the commit loses nothing (the sender finds the rows on its next pass), a rollback
leaves no e-mail about something that did not happen.

``deliver_due()`` is one pass of the sender (``kb serve`` runs it in a background thread,
kbserver/notify.py): it takes the transports as arguments (send an e-mail, POST a body), so this module
does no network I/O and is tested with real local servers all the same. Failed deliveries are retried
with exponential backoff (``retry_delay``, shared with the helpdesk forwarder of questions.py).
A person who chose the daily digest gets one e-mail a day listing everything since the last one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from indexer.clock import iso
from indexer.errors import InvalidInput, NotFound
from indexer.i18n import N_, gettext
from indexer.store import transaction

# event type → e-mail subject (translated when the e-mail is written); the webhook's X-KB-Event header is the type.
EVENTS = {
    "submission.submitted": N_("新的最佳实践投稿待审核：%(title)s"),
    "submission.changes_requested": N_("您的投稿需要修改：%(title)s"),
    "submission.approved": N_("您的投稿已通过审核：%(title)s"),
    "submission.published": N_("您的投稿已发布：%(title)s"),
    "submission.rejected": N_("您的投稿未被采纳：%(title)s"),
    "flag.opened": N_("新的高分问题标记：%(title)s"),
    "gap.opened": N_("发现新的内容缺口：%(title)s"),
    "review.due": N_("文章到期需要复核：%(title)s"),
    "question.asked": N_("客户向支持团队提交了问题：%(title)s"),
}
HIGH_SCORE = 0.6  # a new flag or gap at least this urgent is worth interrupting a manager for
DIGEST_HOUR = 9  # local time the daily digest goes out
RETRY_MAX = 3600  # seconds between attempts at most
GIVE_UP = 12  # attempts before a delivery is marked failed (about 4 hours of retrying); a manager can replay it
MAX_URL = 2000
MIN_SECRET = 16


def create_notification_tables(db) -> None:
    db.execute("CREATE TABLE notify_emails (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, at REAL NOT NULL, "
               "event TEXT NOT NULL, user_id INTEGER NOT NULL, email TEXT NOT NULL, subject TEXT NOT NULL, "
               "body TEXT NOT NULL, link TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
               "attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_error TEXT NOT NULL DEFAULT '', "
               "sent_at TEXT)")
    db.execute("CREATE INDEX notify_emails_due ON notify_emails (state, next_attempt)")
    db.execute("CREATE TABLE webhooks (id INTEGER PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, "
               "events TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT '', removed_at TEXT)")
    db.execute("CREATE TABLE webhook_deliveries (id INTEGER PRIMARY KEY, webhook_id INTEGER NOT NULL, "
               "event TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
               "attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_status INTEGER, "
               "last_error TEXT NOT NULL DEFAULT '', delivered_at TEXT, replay_of INTEGER)")
    db.execute("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt)")
    db.execute("CREATE TABLE webhook_attempts (id INTEGER PRIMARY KEY, delivery_id INTEGER NOT NULL, ts TEXT NOT NULL, "
               "status INTEGER, error TEXT NOT NULL DEFAULT '', ms INTEGER NOT NULL DEFAULT 0)")
    db.execute("CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id)")


MIGRATIONS = [create_notification_tables]


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: 5 s, doubling, at most RETRY_MAX."""
    return min(RETRY_MAX, 5 * 2 ** min(max(attempts, 1) - 1, 20))


def _now_iso(now: float) -> str:
    return iso(dt.datetime.fromtimestamp(now, dt.timezone.utc))


# -- recording (inside the caller's transaction) ------------------------------------------------------------
def recipients(db, to, managers_if_nobody: bool = True) -> list[dict]:
    """Contacts for `to`: "managers", or a list of names/e-mail addresses (none matching: the managers,
    unless managers_if_nobody is False: a message meant for one person, such as an author's, never
    goes to anyone else)."""
    from .accounts import contacts

    people = contacts(db)
    if to != "managers":
        wanted = {str(w).strip().lower() for w in (to or []) if str(w).strip()}
        matched = [p for p in people if p["name"].lower() in wanted or (p["email"] and p["email"].lower() in wanted)]
        if matched or not managers_if_nobody:
            return matched
    return [p for p in people if p["role"] == "manager"]


def _message(event: str, data: dict) -> tuple[str, str]:
    subject = gettext(EVENTS[event], title=data.get("title") or "")
    lines = [subject, ""]
    for label, key in ((N_("说明"), "summary"), (N_("作者"), "author"), (N_("审核人"), "reviewer"), (N_("备注"), "note"),
                       (N_("原因"), "reason"), (N_("分数"), "score"), (N_("负责人"), "owner"), (N_("应复核日期"), "due"),
                       (N_("客户邮箱"), "email"), (N_("搜索词"), "query")):
        if data.get(key) not in (None, ""):
            lines.append(gettext("%(label)s：%(value)s", label=gettext(label), value=data[key]))
    if data.get("evidence_text"):  # a flag's evidence as sentences (analytics/evidence.py)
        lines += ["", gettext("证据：")] + [f"· {line}" for line in data["evidence_text"]]
    return subject, "\n".join(lines) + "\n"


def notify(db, event: str, data: dict, to, now: float | None = None, managers_if_nobody: bool = True) -> int:
    """Record the e-mails and webhook deliveries an event causes; call it inside the event's own transaction.

    `to` is "managers" or a list of names/e-mail addresses (see ``recipients``). Returns rows written."""
    if event not in EVENTS:
        raise InvalidInput(N_("未知的通知事件 %(event)r"), event=event)
    now = time.time() if now is None else now
    created = _now_iso(now)
    subject, body = _message(event, data)
    written = 0
    for person in recipients(db, to, managers_if_nobody):
        if not person["email"] or person["mode"] == "off":
            continue
        db.execute("INSERT INTO notify_emails (created_at, at, event, user_id, email, subject, body, link, mode, "
                   "next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [created, now, event, person["id"], person["email"], subject, body, data.get("url") or "",
                    person["mode"], now])
        written += 1
    payload = {"event": event, "created_at": created, "title": subject, "data": data}
    for hook in list_webhooks(db):
        if "*" in hook["events"] or event in hook["events"]:
            body_json = json.dumps({**payload, "webhook_id": hook["id"]}, ensure_ascii=False, sort_keys=True)
            db.execute("INSERT INTO webhook_deliveries (webhook_id, event, body, created_at, next_attempt) "
                       "VALUES (?, ?, ?, ?, ?)", [hook["id"], event, body_json, created, now])
            written += 1
    return written


# -- webhooks ----------------------------------------------------------------------------------------------
def clean_url(url) -> str:
    """An http(s) URL with a host, or InvalidInput."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(N_("请填写 url：接收事件的 http:// 或 https:// 地址"))
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > MAX_URL or any(c.isspace() for c in url):
        raise InvalidInput(N_("url 必须是带主机名的 http:// 或 https:// 地址（最多 %(max)s 个字符），收到的是 %(url)r"),
                           max=MAX_URL, url=url[:100])
    return url


def clean_events(events) -> list[str]:
    """A non-empty list of known event types (or ["*"] for all), or InvalidInput."""
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise InvalidInput(N_("events 必须是非空的事件类型列表（[\"*\"] 表示全部）：%(choices)s"), choices=", ".join(EVENTS))
    unknown = [e for e in events if e != "*" and e not in EVENTS]
    if unknown:
        raise InvalidInput(N_("未知的事件类型 %(unknown)s，请使用 %(choices)s 或 *"), unknown=", ".join(unknown),
                           choices=", ".join(EVENTS))
    return sorted(set(events))


def mask(secret: str) -> str:
    """What a page or answer shows of a secret: its first four characters."""
    return secret[:4] + "…" if secret else ""


def add_webhook(db, url, events, secret=None, created_by: str = "") -> tuple[dict, str | None]:
    """Add a webhook; returns (webhook, generated secret or None). A given secret is never shown back."""
    url, events = clean_url(url), clean_events(events)
    generated = None
    if secret in (None, ""):
        secret = generated = "whsec_" + secrets.token_urlsafe(24)
    if not isinstance(secret, str) or len(secret) < MIN_SECRET or len(secret) > 200 or any(c.isspace() for c in secret):
        raise InvalidInput(N_("secret 必须是 %(min)s 到 200 个字符且不含空格（不填则自动生成）"), min=MIN_SECRET)
    with transaction(db):
        hook_id = db.execute("INSERT INTO webhooks (url, secret, events, created_at, created_by) VALUES (?, ?, ?, ?, ?) "
                             "RETURNING id", [url, secret, json.dumps(events), _now_iso(time.time()), created_by]).fetchone()[0]
    return get_webhook(db, hook_id), generated


def _hook(row) -> dict:
    return {"id": row[0], "url": row[1], "secret_hint": mask(row[2]), "events": json.loads(row[3]),
            "created_at": row[4], "created_by": row[5]}


def list_webhooks(db) -> list[dict]:
    """The active webhooks (secrets masked)."""
    return [_hook(r) for r in db.execute("SELECT id, url, secret, events, created_at, created_by FROM webhooks "
                                         "WHERE removed_at IS NULL ORDER BY id")]


def get_webhook(db, hook_id: int) -> dict:
    """One active webhook (secret masked); NotFound otherwise."""
    row = db.execute("SELECT id, url, secret, events, created_at, created_by FROM webhooks "
                     "WHERE id = ? AND removed_at IS NULL", [hook_id]).fetchone()
    if row is None:
        raise NotFound(N_("没有编号为 %(id)s 的 webhook，可用 `kb webhooks list` 查看"), id=hook_id)
    return _hook(row)


def remove_webhook(db, hook_id: int) -> None:
    """Stop sending to a webhook (its delivery log stays); pending deliveries to it are dropped."""
    with transaction(db):
        get_webhook(db, hook_id)
        db.execute("UPDATE webhooks SET removed_at = ? WHERE id = ?", [_now_iso(time.time()), hook_id])
        db.execute("UPDATE webhook_deliveries SET state = 'cancelled' WHERE webhook_id = ? AND state = 'pending'",
                   [hook_id])


def sign(secret: str, body: bytes) -> str:
    """The X-KB-Signature header value: sha256=<hex HMAC-SHA256 of the body with the secret>."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


_DELIVERY = ("id", "webhook_id", "event", "body", "created_at", "state", "attempts", "last_status", "last_error",
             "delivered_at", "replay_of")


def deliveries(db, limit: int = 100, webhook_id: int | None = None) -> list[dict]:
    """The delivery log, newest first, each with its attempts (status, error, milliseconds)."""
    where, params = ("WHERE webhook_id = ?", [webhook_id]) if webhook_id else ("", [])
    rows = [dict(zip(_DELIVERY, r, strict=True)) for r in db.execute(
        f"SELECT {', '.join(_DELIVERY)} FROM webhook_deliveries {where} ORDER BY id DESC LIMIT ?", [*params, limit])]
    for row in rows:
        row["attempt_log"] = [dict(zip(("ts", "status", "error", "ms"), a, strict=True)) for a in db.execute(
            "SELECT ts, status, error, ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY id", [row["id"]])]
    return rows


def replay(db, delivery_id: int, now: float | None = None) -> dict:
    """Send a logged delivery again (the same body, as a new delivery); NotFound for an unknown one."""
    now = time.time() if now is None else now
    with transaction(db):
        row = db.execute("SELECT d.webhook_id, d.event, d.body FROM webhook_deliveries d JOIN webhooks w "
                         "ON w.id = d.webhook_id WHERE d.id = ? AND w.removed_at IS NULL", [delivery_id]).fetchone()
        if row is None:
            raise NotFound(N_("没有编号为 %(id)s、发往启用中 webhook 的投递记录"), id=delivery_id)
        new_id = db.execute("INSERT INTO webhook_deliveries (webhook_id, event, body, created_at, next_attempt, replay_of) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", [*row, _now_iso(now), now, delivery_id]).fetchone()[0]
    return next(d for d in deliveries(db, limit=1000) if d["id"] == new_id)


# -- sending (one pass; kbserver/notify.py runs it in the background) ----------------------------------------
def next_digest(at: float, tz: str) -> float:
    """When a digest item created at `at` goes out: the first DIGEST_HOUR (local time) after it."""
    local = dt.datetime.fromtimestamp(at, ZoneInfo(tz))
    due = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if due <= local:
        due += dt.timedelta(days=1)
    return due.timestamp()


def deliver_due(db, send_mail=None, post=None, now: float | None = None, tz: str = "UTC", base_url: str = "") -> dict:
    """Send what is due: instant e-mails, digests whose hour has come, webhook deliveries; returns counts.

    send_mail(to, subject, body) and post(url, body, headers) → (status or None, error or None) are the
    transports; without send_mail e-mails wait (nothing is configured to send them). E-mails link to
    base_url + the page's path (the path alone without base_url)."""
    now = time.time() if now is None else now
    counts = {"emails": 0, "digests": 0, "webhooks": 0, "failed": 0}
    if send_mail is not None:
        _send_emails(db, send_mail, now, tz, counts, base_url.rstrip("/"))
    if post is not None:
        _send_webhooks(db, post, now, counts)
    return counts


def _fail(db, table: str, row_id: int, attempts: int, error: str, now: float) -> None:
    state = "failed" if attempts >= GIVE_UP else "pending"
    db.execute(f"UPDATE {table} SET attempts = ?, last_error = ?, next_attempt = ?, state = ? WHERE id = ?",
               [attempts, error[:500], now + retry_delay(attempts), state, row_id])


def _send_emails(db, send_mail, now, tz, counts, base_url) -> None:
    rows = db.execute("SELECT id, at, user_id, email, subject, body, link, mode, attempts FROM notify_emails "
                      "WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT 500", [now]).fetchall()
    digests = defaultdict(list)
    for row_id, at, user_id, email, subject, body, link, mode, attempts in rows:
        if link:
            body += gettext("链接：%(url)s", url=base_url + link) + "\n"
        if mode == "digest":
            if attempts or next_digest(at, tz) <= now:
                digests[(user_id, email)].append((row_id, subject, body, attempts))
            else:  # not its hour yet: sleep until then instead of looking at it on every pass
                with transaction(db):
                    db.execute("UPDATE notify_emails SET next_attempt = ? WHERE id = ?", [next_digest(at, tz), row_id])
            continue
        error = send_mail(email, subject, body)
        with transaction(db):
            if error is None:
                db.execute("UPDATE notify_emails SET state = 'sent', attempts = attempts + 1, last_error = '', "
                           "sent_at = ? WHERE id = ?", [_now_iso(now), row_id])
                counts["emails"] += 1
            else:
                _fail(db, "notify_emails", row_id, attempts + 1, error, now)
                counts["failed"] += 1
    for (_user, email), items in digests.items():
        subject = gettext("帮助中心每日摘要：%(n)s 条通知", n=len(items))
        body = "\n".join([gettext("以下是自上次摘要以来的 %(n)s 条通知：", n=len(items)), ""]
                         + [f"{i}. {b.strip()}\n" for i, (_, _, b, _) in enumerate(items, 1)])
        error = send_mail(email, subject, body)
        with transaction(db):
            for row_id, _, _, attempts in items:
                if error is None:
                    db.execute("UPDATE notify_emails SET state = 'sent', attempts = attempts + 1, last_error = '', "
                               "sent_at = ? WHERE id = ?", [_now_iso(now), row_id])
                else:
                    _fail(db, "notify_emails", row_id, attempts + 1, error, now)
        counts["digests" if error is None else "failed"] += 1


def _send_webhooks(db, post, now, counts) -> None:
    rows = db.execute("SELECT d.id, d.event, d.body, d.attempts, w.url, w.secret FROM webhook_deliveries d "
                      "JOIN webhooks w ON w.id = d.webhook_id WHERE d.state = 'pending' AND d.next_attempt <= ? "
                      "AND w.removed_at IS NULL ORDER BY d.id LIMIT 200", [now]).fetchall()
    for delivery_id, event, body, attempts, url, secret in rows:
        raw = body.encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "kb-webhooks",
                   "X-KB-Event": event, "X-KB-Delivery": str(delivery_id), "X-KB-Signature": sign(secret, raw)}
        started = time.monotonic()
        status, error = post(url, raw, headers)
        ms = int((time.monotonic() - started) * 1000)
        with transaction(db):
            db.execute("INSERT INTO webhook_attempts (delivery_id, ts, status, error, ms) VALUES (?, ?, ?, ?, ?)",
                       [delivery_id, _now_iso(time.time()), status, error or "", ms])
            if error is None:
                db.execute("UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?, "
                           "last_error = '', delivered_at = ? WHERE id = ?", [status, _now_iso(now), delivery_id])
                counts["webhooks"] += 1
            else:
                db.execute("UPDATE webhook_deliveries SET last_status = ? WHERE id = ?", [status, delivery_id])
                _fail(db, "webhook_deliveries", delivery_id, attempts + 1, error, now)
                counts["failed"] += 1


def next_due(db, emails: bool = True) -> float | None:
    """When the next pending delivery is due (epoch seconds), or None; e-mails count only when they can be sent."""
    due = [db.execute("SELECT MIN(next_attempt) FROM webhook_deliveries WHERE state = 'pending'").fetchone()[0]]
    if emails:
        due.append(db.execute("SELECT MIN(next_attempt) FROM notify_emails WHERE state = 'pending'").fetchone()[0])
    due = [d for d in due if d is not None]
    return min(due) if due else None


def emails(db, limit: int = 100) -> list[dict]:
    """The e-mail log, newest first."""
    cols = ("id", "created_at", "event", "email", "subject", "mode", "state", "attempts", "last_error", "sent_at")
    return [dict(zip(cols, r, strict=True)) for r in db.execute(
        f"SELECT {', '.join(cols)} FROM notify_emails ORDER BY id DESC LIMIT ?", [limit])]
