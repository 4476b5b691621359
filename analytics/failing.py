"""Which searches failed the customer, and why. Reads the event log; streams, so a million events
need no more memory than one row at a time.

A search fails when (first rule that applies):

- ``no_results``: it found nothing;
- ``reformulated``: the same session searched again within ``reformulation_window`` seconds
  without clicking a result of this search;
- ``no_click``: no result was clicked within ``click_window`` seconds;
- ``not_helpful``: the clicked article then got a "not helpful" vote from the same session
  within ``vote_window`` seconds of the click.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

REASONS = ("no_results", "reformulated", "no_click", "not_helpful")


@dataclass(frozen=True)
class FailingRules:
    """Windows (seconds) of the failing-search rules; documented in the README."""

    click_window: int = 300
    reformulation_window: int = 120
    vote_window: int = 1800


@dataclass
class FailedSearch:
    query_id: str
    ts: str
    session: str
    query: str
    normalized: str
    reason: str
    top_slug: str | None
    clicked_slug: str | None


_SQL = """
WITH ordered AS (
  SELECT s.query_id, s.ts, s.session, s.query, s.normalized, s.results, s.top_slugs,
         LEAD(s.ts) OVER (PARTITION BY s.session ORDER BY s.ts) AS next_ts
  FROM searches s
  WHERE s.ts >= :start AND s.ts < :end
)
SELECT o.query_id, o.ts, o.session, o.query, o.normalized, o.results, o.top_slugs, o.next_ts,
       (SELECT c.ts FROM clicks c WHERE c.query_id = o.query_id ORDER BY c.ts LIMIT 1) AS click_ts,
       (SELECT c.slug FROM clicks c WHERE c.query_id = o.query_id ORDER BY c.ts LIMIT 1) AS click_slug
FROM ordered o
"""


def _seconds(a: str, b: str) -> float:
    return (_parse(b) - _parse(a)).total_seconds()


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def iter_failed_searches(db, start: str, end: str, rules: FailingRules = FailingRules()):
    """Yield a FailedSearch for every failing search with start <= ts < end (ISO timestamps)."""
    votes_sql = ("SELECT 1 FROM votes WHERE session = ? AND slug = ? AND helpful = 0 AND ts >= ? AND ts <= ? LIMIT 1")
    for row in db.execute(_SQL, {"start": start, "end": end}):
        query_id, ts, session, query, normalized, results, top_slugs, next_ts, click_ts, click_slug = row
        try:
            top = (json.loads(top_slugs or "[]") or [None])[0]
        except ValueError:
            top = None
        clicked = click_ts is not None and _seconds(ts, click_ts) <= rules.click_window
        reason = None
        if not results:
            reason = "no_results"
        elif not clicked and next_ts and _seconds(ts, next_ts) <= rules.reformulation_window:
            reason = "reformulated"
        elif not clicked:
            reason = "no_click"
        else:
            limit = (_parse(click_ts) + dt.timedelta(seconds=rules.vote_window)).isoformat().replace("+00:00", "Z")
            if session and db.execute(votes_sql, [session, click_slug, click_ts, limit]).fetchone():
                reason = "not_helpful"
        if reason:
            yield FailedSearch(query_id, ts, session, query, normalized or query, reason, top,
                               click_slug if clicked else None)


def bounces(db, start: str, end: str, within: int = 30) -> dict[str, tuple[int, int]]:
    """Per article: (clicks, clicks followed by a new search in the same session within `within` s)."""
    sql = """
      SELECT c.slug, c.ts,
             (SELECT MIN(s.ts) FROM searches s WHERE s.session = c.session AND s.ts > c.ts) AS next_search
      FROM clicks c WHERE c.ts >= ? AND c.ts < ? AND c.session != ''
    """
    out: dict[str, list[int]] = {}
    for slug, ts, next_search in db.execute(sql, [start, end]):
        counts = out.setdefault(slug, [0, 0])
        counts[0] += 1
        if next_search and _seconds(ts, next_search) <= within:
            counts[1] += 1
    return {slug: (c[0], c[1]) for slug, c in out.items()}


def votes_by_article(db, start: str, end: str) -> dict[str, tuple[int, int]]:
    """Per article: (helpful votes, all votes) in the period; a session's votes on an article count once.

    The site posts a 👎 at once and its optional reason as a second vote with the comment, and a reader
    may change their mind: the session's last vote is the one that counts (votes without a session,
    from API clients, each count)."""
    sql = ("SELECT slug, SUM(helpful), COUNT(*) FROM votes v WHERE ts >= ? AND ts < ? AND (session = '' OR "
           "id = (SELECT MAX(id) FROM votes w WHERE w.session = v.session AND w.slug = v.slug "
           "AND w.ts >= ? AND w.ts < ?)) GROUP BY slug")
    return {slug: (int(h or 0), int(n)) for slug, h, n in db.execute(sql, [start, end, start, end])}


def searches_by_query(db, start: str, end: str, key) -> dict[str, int]:
    """All searches in the period per key(query) (e.g. near-identical form), failing or not."""
    out: dict[str, int] = {}
    for query, n in db.execute("SELECT query, COUNT(*) FROM searches WHERE ts >= ? AND ts < ? GROUP BY query",
                               [start, end]):
        k = key(query) or query
        out[k] = out.get(k, 0) + n
    return out


def searches_by_top_slug(db, start: str, end: str) -> dict[str, int]:
    """All searches in the period per article search put first (searches that found something)."""
    # The JSON is read here, not with SQLite's json_extract: the same query runs on PostgreSQL.
    out: dict[str, int] = {}
    sql = "SELECT top_slugs, COUNT(*) FROM searches WHERE ts >= ? AND ts < ? AND results > 0 GROUP BY top_slugs"
    for top_slugs, n in db.execute(sql, [start, end]):
        try:
            slugs = json.loads(top_slugs or "")
        except ValueError:
            continue
        if isinstance(slugs, list) and slugs and isinstance(slugs[0], str) and slugs[0]:
            out[slugs[0]] = out.get(slugs[0], 0) + int(n)
    return out
