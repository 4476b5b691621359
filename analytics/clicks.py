"""Click re-ranking: articles customers click and keep for a query rank a little higher for that query.

Reads the event log (searches, clicks, votes; owned by events.py) and writes nothing. A click is
*kept* when the reader did not bounce (no new search in the same session within ``BOUNCE_SECONDS``)
and did not vote the article down from the same session within the vote window. Per normalized
query and article, each distinct client counts once (its most recent kept click), so one client
clicking a hundred times is one client; with fewer than ``min_clients`` clients nothing happens.
A client is the keyed address of the browser (``links.visitor_key``), which a visitor cannot change
by dropping cookies; events without one (imports, simulations) fall back to their session.

The boost is bounded and decays like the agent-link boost: each client's weight halves every
``half_life_days`` and the multiplier is at most ``1 + MAX_BOOST`` of the fused score. It is applied
by ``indexer.query`` only to articles the query already found, so it reorders relevant results and
never lifts an article the query did not match.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

from . import events
from .failing import _seconds

MAX_BOOST = 0.3  # at most ×1.3 of the fused score
BOUNCE_SECONDS = 30  # a new search this soon after a click: the article did not answer
HORIZON_HALF_LIVES = 8  # clicks older than this many half-lives weigh under 0.4%: not read at all
REASON = "customers who searched this clicked and kept this article"


def click_weights(db, now: dt.datetime | None = None, half_life_days: float = 30, min_clients: int = 3,
                  vote_window: int = 1800) -> dict[str, dict[str, float]]:
    """{normalized query: {slug: decayed weight}} from kept clicks of at least min_clients distinct clients."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = (now - dt.timedelta(days=half_life_days * HORIZON_HALF_LIVES)).astimezone(dt.timezone.utc)
    latest: dict[tuple[str, str, str], str] = {}  # (query, slug, client) -> ts of the client's last kept click
    for normalized, slug, ts, client, next_search, down_vote in events.kept_click_candidates(
            db, since.strftime("%Y-%m-%dT%H:%M:%S")):
        if not normalized or not client:
            continue
        if next_search and _seconds(ts, next_search) <= BOUNCE_SECONDS:
            continue
        if down_vote and _seconds(ts, down_vote) <= vote_window:
            continue
        key = (normalized, slug, client)
        if latest.get(key, "") < ts:
            latest[key] = ts
    per_pair: dict[tuple[str, str], list[float]] = {}
    for (normalized, slug, _), ts in latest.items():
        age = (now - dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))).total_seconds() / 86400
        per_pair.setdefault((normalized, slug), []).append(0.5 ** (max(age, 0.0) / half_life_days))
    weights: dict[str, dict[str, float]] = {}
    for (normalized, slug), client_weights in per_pair.items():
        if len(client_weights) >= min_clients:
            weights.setdefault(normalized, {})[slug] = sum(client_weights)
    return weights


def factor(weight: float) -> float:
    """The multiplier a decayed weight earns: 1 + 0.1·ln(1 + w), at most 1 + MAX_BOOST."""
    return round(1 + min(MAX_BOOST, 0.1 * math.log1p(max(weight, 0.0))), 4)


class ClickBoosts:
    """The click weights of one database, recomputed at most every ``ttl`` seconds (held by the app)."""

    def __init__(self, open_db, half_life_days: float = 30, min_clients: int = 3, vote_window: int = 1800,
                 ttl: float = 60.0):
        self.open_db, self.ttl = open_db, ttl
        self.half_life_days, self.min_clients, self.vote_window = half_life_days, min_clients, vote_window
        self._lock = threading.Lock()
        self._weights: dict[str, dict[str, float]] | None = None
        self._at = 0.0

    def invalidate(self) -> None:
        """Forget the cached weights (the next search recomputes them)."""
        with self._lock:
            self._weights = None

    def weights(self) -> dict[str, dict[str, float]]:
        """The current {query: {slug: weight}}."""
        with self._lock:
            if self._weights is not None and time.monotonic() - self._at < self.ttl:
                return self._weights
        weights = click_weights(self.open_db(), half_life_days=self.half_life_days, min_clients=self.min_clients,
                                vote_window=self.vote_window)
        with self._lock:
            self._weights, self._at = weights, time.monotonic()
        return weights

    def boosts_for(self, normalized: str) -> dict[str, float]:
        """{slug: multiplier} for a normalized query; empty when no article earned one."""
        return {slug: factor(w) for slug, w in self.weights().get(normalized, {}).items() if w > 0}
