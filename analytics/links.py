"""Articles agents send in ticket replies: tracked links, customers' visits, outcomes, and what the
links teach search. Sole owner of the agent_links and link_visits tables.

A copied link carries ``?ref=<token>``: an unguessable token that stands for (ticket, agent,
article) without showing either in the URL. Visits through it are counted once per client address
(a browser id or cookie is the client's to change, so a replay with fresh ones is still one visit;
people behind one address count once); a forged token is refused; outcomes ("solved by this
article" / "did not help") are set once and can be corrected, never double-counted.

Ranking: an article agents keep sending for tickets about some words gets a bounded boost for
customer searches that use those words (at most ×1.3, only for articles the search already found,
so it can reorder relevant results but never lift an irrelevant one); each link's weight halves
every 30 days, and "did not help" counts against.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import threading

from indexer.clock import now_iso
from indexer.errors import InvalidInput, NotFound
from indexer.i18n import N_
from indexer.store import transaction

HALF_LIFE_DAYS = 30
MAX_BOOST = 0.3  # the most the links can add: ×1.3
OUTCOMES = ("solved", "not_helped")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{10,40}$")


def create_link_tables(db) -> None:
    db["agent_links"].create({"id": int, "ref": str, "ticket_id": str, "slug": str, "agent": str, "phrases": str,
                              "created_at": str, "outcome": str, "outcome_at": str, "outcome_by": str}, pk="id")
    db["agent_links"].create_index(["ref"], unique=True)
    db["agent_links"].create_index(["slug"])
    db["agent_links"].create_index(["ticket_id"])
    db["link_visits"].create({"id": int, "link_id": int, "ts": str, "session": str}, pk="id")
    db["link_visits"].create_index(["link_id", "session"], unique=True)


def one_link_per_ticket_article_agent(db) -> None:
    db["agent_links"].create_index(["ticket_id", "slug", "agent"], unique=True, if_not_exists=True)


def add_visit_search_session(db) -> None:
    # The visitor's kb session (the kb_sid cookie its searches are logged with): a visit through an agent's
    # ticket link from a session that searched means that search did not serve the customer by itself.
    db.execute("ALTER TABLE link_visits ADD COLUMN search_session TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX link_visits_search_session ON link_visits (search_session, ts)")


MIGRATIONS = [create_link_tables, one_link_per_ticket_article_agent, add_visit_search_session]


def _ticket_id(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise InvalidInput(N_("ticket_id 必须是工单系统里的工单号（文本，最多 100 个字符）"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("ticket_id 不是有效的文本")) from None
    return value.strip()


def record_link(db, agent: str, ticket_id, slug: str, phrases: list[str] | None = None) -> dict:
    """A tracked link for an article sent on a ticket; the same agent, ticket and article give the same link."""
    ticket_id = _ticket_id(ticket_id)
    phrases = [p for p in (phrases or []) if isinstance(p, str) and p.strip()][:20]
    row = {"ref": secrets.token_urlsafe(12), "ticket_id": ticket_id, "slug": slug, "agent": agent,
           "phrases": json.dumps(phrases, ensure_ascii=False), "created_at": now_iso(), "outcome": "",
           "outcome_at": "", "outcome_by": ""}
    with transaction(db):  # the unique (ticket, article, agent) index makes a double click one link, not two
        db.execute(f"INSERT INTO agent_links ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
                   "ON CONFLICT DO NOTHING", list(row.values()))
    _invalidate()
    existing = db["agent_links"].rows_where("ticket_id = ? AND slug = ? AND agent = ?", [ticket_id, slug, agent])
    return _decode(next(existing))


def _decode(row: dict) -> dict:
    row = dict(row)
    row["phrases"] = json.loads(row.get("phrases") or "[]")
    row["visits"] = row.get("visits", 0)
    return row


def link_by_ref(db, ref: str) -> dict:
    """The link a ref token stands for; NotFound for unknown or malformed (forged) tokens."""
    if not isinstance(ref, str) or not _TOKEN.match(ref):
        raise NotFound(N_("没有这个链接编号（ref）"))
    rows = list(db["agent_links"].rows_where("ref = ?", [ref]))
    if not rows:
        raise NotFound(N_("没有这个链接编号（ref）"))
    return _decode(rows[0])


def visitor_key(address: str, secret: str | bytes) -> str:
    """Who a visit counts for: the client's address, keyed with the app's secret so no address is stored."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, (address or "unknown").encode(), hashlib.sha256).hexdigest()[:32]


def record_visit(db, ref: str, slug: str, visitor: str, search_session: str = "") -> bool:
    """Count a customer's visit through a link once per visitor (see visitor_key); True if it was new.

    search_session is the visitor's kb session (for the self-service rate), kept from the first visit."""
    link = link_by_ref(db, ref)
    if slug != link["slug"]:
        raise InvalidInput(N_("这个链接编号属于另一篇文章"))
    with transaction(db):
        cursor = db.execute("INSERT INTO link_visits (link_id, ts, session, search_session) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [link["id"], now_iso(), visitor or "anonymous", search_session[:64]])
    return cursor.rowcount == 1


def find_link(db, ref: str | None = None, link_id: int | None = None) -> dict:
    """The link with this ref (or id); NotFound or InvalidInput otherwise."""
    if ref is not None:
        link = link_by_ref(db, ref)
    elif isinstance(link_id, int) and not isinstance(link_id, bool) and 0 < link_id < 2**63:
        rows = list(db["agent_links"].rows_where("id = ?", [link_id]))
        if not rows:
            raise NotFound(N_("没有编号为 %(id)s 的链接"), id=link_id)
        link = _decode(rows[0])
    else:
        raise InvalidInput(N_("请给出链接的 ref 或 link_id"))
    return link


def set_outcome(db, link: dict, outcome: str, by: str) -> dict:
    """Mark link "solved" or "not_helped", reported by `by` (who may: kbserver/policy.py)."""
    if outcome not in OUTCOMES:
        raise InvalidInput(N_("结果必须是 %(choices)s 之一"), choices=", ".join(OUTCOMES))
    if link["outcome"] == outcome:
        return link  # reported twice (a retried webhook): counted once
    with transaction(db):
        db["agent_links"].update(link["id"], {"outcome": outcome, "outcome_at": now_iso(), "outcome_by": by})
    _invalidate()
    return link_by_ref(db, link["ref"])


def links_for(db, agent: str | None = None, ticket_id: str | None = None) -> list[dict]:
    """Links with their visit counts, newest first (an agent's own, or a ticket's)."""
    where, params = [], []
    if agent is not None:
        where.append("l.agent = ?")
        params.append(agent)
    if ticket_id is not None:
        where.append("l.ticket_id = ?")
        params.append(ticket_id)
    sql = ("SELECT l.*, (SELECT COUNT(*) FROM link_visits v WHERE v.link_id = l.id) AS visits FROM agent_links l "
           + ("WHERE " + " AND ".join(where) if where else "") + " ORDER BY l.id DESC LIMIT 200")
    cursor = db.execute(sql, params)
    cols = [c[0] for c in cursor.description]
    return [_decode(dict(zip(cols, row, strict=True))) for row in cursor.fetchall()]


def article_stats(db) -> list[dict]:
    """Per article: links sent, visits through them, solved and not-helped outcomes."""
    sql = """SELECT l.slug, COUNT(*), SUM(CASE WHEN l.outcome = 'solved' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN l.outcome = 'not_helped' THEN 1 ELSE 0 END),
                    (SELECT COUNT(*) FROM link_visits v JOIN agent_links l2 ON v.link_id = l2.id WHERE l2.slug = l.slug)
             FROM agent_links l GROUP BY l.slug ORDER BY COUNT(*) DESC"""
    return [{"slug": s, "links": n, "solved": int(ok or 0), "not_helped": int(bad or 0), "visits": v}
            for s, n, ok, bad, v in db.execute(sql)]


# -- ranking signal ---------------------------------------------------------------------------
_cache_lock = threading.Lock()
_cache: dict = {"weights": None, "at": 0.0}
CACHE_SECONDS = 60  # links recorded by another process show up within a minute


def _invalidate() -> None:
    with _cache_lock:
        _cache["weights"] = None


def phrase_weights(db, now: dt.datetime | None = None) -> dict[str, dict[str, float]]:
    """{phrase: {slug: decayed weight}}: +1 per link (+1 more if it solved the ticket), −1.5 if it did not help.

    db may be a function returning the database, so cached calls open nothing."""
    import time

    with _cache_lock:
        if _cache["weights"] is not None and now is None and time.monotonic() - _cache["at"] < CACHE_SECONDS:
            return _cache["weights"]
    db = db() if callable(db) else db
    now = now or dt.datetime.now(dt.timezone.utc)
    weights: dict[str, dict[str, float]] = {}
    for slug, phrases, created, outcome in db.execute("SELECT slug, phrases, created_at, outcome FROM agent_links"):
        age = (now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds() / 86400
        w = (1.0 + (1.0 if outcome == "solved" else 0.0) - (2.5 if outcome == "not_helped" else 0.0))
        w *= 0.5 ** (max(age, 0) / HALF_LIFE_DAYS)
        for phrase in json.loads(phrases or "[]"):
            per = weights.setdefault(phrase.lower(), {})
            per[slug] = per.get(slug, 0.0) + w
    with _cache_lock:
        _cache["weights"], _cache["at"] = weights, time.monotonic()
    return weights


def boosts_for(db, words: list[str]) -> dict[str, float]:
    """Multipliers (1.0-1.3) for articles agents sent for tickets sharing these words; empty if none."""
    weights = phrase_weights(db)
    totals: dict[str, float] = {}
    for word in words:
        for slug, w in weights.get(word.lower(), {}).items():
            totals[slug] = totals.get(slug, 0.0) + w
    return {slug: round(1 + min(MAX_BOOST, 0.1 * math.log1p(w)), 4) for slug, w in totals.items() if w > 0}


def unhelpful_links(db, min_links: int = 5, max_solved_share: float = 0.5) -> list[dict]:
    """Articles often sent by agents but mostly reported as not helping (for the stale/unhelpful list)."""
    out = []
    for s in article_stats(db):
        judged = s["solved"] + s["not_helped"]
        if s["links"] >= min_links and judged and s["not_helped"] / judged > max_solved_share:
            out.append(s)
    return out



def visit_times(db, start: str, end: str) -> dict[str, list[str]]:
    """{kb session: [ts, ...]} of customers' visits through agents' ticket links with start <= ts < end."""
    out: dict[str, list[str]] = {}
    for session, ts in db.execute("SELECT search_session, ts FROM link_visits WHERE ts >= ? AND ts < ? "
                                  "AND search_session != '' ORDER BY ts", [start, end]):
        out.setdefault(session, []).append(ts)
    return out
