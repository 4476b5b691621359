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

from . import events

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


def _seconds(a: str, b: str) -> float:
    return (_parse(b) - _parse(a)).total_seconds()


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def iter_failed_searches(db, start: str, end: str, rules: FailingRules = FailingRules()):
    """Yield a FailedSearch for every failing search with start <= ts < end (ISO timestamps)."""
    for row in events.searches_with_next(db, start, end):
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
            if session and events.has_down_vote(db, session, click_slug, click_ts, limit):
                reason = "not_helpful"
        if reason:
            yield FailedSearch(query_id, ts, session, query, normalized or query, reason, top,
                               click_slug if clicked else None)


def bounces(db, start: str, end: str, within: int = 30) -> dict[str, tuple[int, int]]:
    """Per article: (clicks, clicks followed by a new search in the same session within `within` s)."""
    out: dict[str, list[int]] = {}
    for slug, ts, next_search in events.clicks_with_next_search(db, start, end):
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
    return events.last_votes_by_article(db, start, end)


def searches_by_query(db, start: str, end: str, key) -> dict[str, int]:
    """All searches in the period per key(query) (e.g. near-identical form), failing or not."""
    out: dict[str, int] = {}
    for query, n in events.search_counts_by_query(db, start, end):
        k = key(query) or query
        out[k] = out.get(k, 0) + n
    return out


def searches_by_top_slug(db, start: str, end: str) -> dict[str, int]:
    """All searches in the period per article search put first (searches that found something)."""
    return events.search_counts_by_top_slug(db, start, end)
