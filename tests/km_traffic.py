"""A small traffic generator for the knowledge-management signals (tests and tests/bench/km_signals.py).

Writes searches, clicks and votes straight into the event tables (``insert_events``, as ``kb
simulate`` does), with the patterns the learned signals read: reformulations (a search nobody
clicked, then another that found and kept an article), topic switches, bounces, 👎 votes, and visits
from distinct clients.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets

from analytics.events import insert_events
from indexer.analysis import normalize
from indexer.clock import iso


class Traffic:
    """Collects events in memory; ``write(db)`` stores them."""

    def __init__(self, index=None, seed: int = 1, now: dt.datetime | None = None):
        self.index, self.rng = index, random.Random(seed)
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.searches: list[dict] = []
        self.clicks: list[dict] = []
        self.votes: list[dict] = []

    def moment(self, days: float = 14) -> dt.datetime:
        """A random moment in the last `days` days (at least an hour ago)."""
        return self.now - dt.timedelta(seconds=self.rng.uniform(3600, days * 86400))

    def session(self) -> str:
        return "sim-" + secrets.token_hex(6)

    def search(self, session: str, when: dt.datetime, query: str) -> tuple[str, list[str]]:
        """Log a search; with an index, its real top results."""
        slugs: list[str] = []
        if self.index is not None:
            slugs = [r["slug"] for r in self.index.search(query, limit=10)["results"]]
        query_id = secrets.token_hex(8)
        self.searches.append({"query_id": query_id, "ts": iso(when), "session": session, "query": query,
                              "normalized": normalize(query), "results": len(slugs),
                              "top_slugs": json.dumps(slugs, ensure_ascii=False), "took_ms": 1.0, "module": "",
                              "tag": "", "page": 1, "source": "simulated"})
        return query_id, slugs

    def click(self, session: str, when: dt.datetime, query_id: str, slug: str, position: int = 1,
              client: str = "") -> None:
        self.clicks.append({"ts": iso(when), "query_id": query_id, "slug": slug, "position": position,
                            "session": session, "client": client})

    def vote(self, session: str, when: dt.datetime, slug: str, helpful: bool) -> None:
        self.votes.append({"ts": iso(when), "slug": slug, "helpful": int(helpful), "comment": "", "session": session})

    def reformulation(self, before: str, after: str, slug: str, kept: bool = True, bounce: bool = False,
                      down_vote: bool = False, when: dt.datetime | None = None) -> str:
        """A session: `before` finds nothing worth clicking, `after` a few seconds later is clicked on `slug`."""
        session, when = self.session(), when or self.moment()
        self.search(session, when, before)
        t = when + dt.timedelta(seconds=self.rng.uniform(5, 40))
        query_id, _ = self.search(session, t, after)
        if kept or bounce or down_vote:
            self.click(session, t + dt.timedelta(seconds=3), query_id, slug, 1, client=session)
        if bounce:
            self.search(session, t + dt.timedelta(seconds=10), after + " 还是不行")
        if down_vote:
            self.vote(session, t + dt.timedelta(seconds=60), slug, False)
        return session

    def visit(self, query: str, slug: str | None, client: str, bounce: bool = False,
              when: dt.datetime | None = None) -> None:
        """One client searches `query` and (if slug) clicks and keeps it (or bounces)."""
        session, when = self.session(), when or self.moment()
        query_id, slugs = self.search(session, when, query)
        if slug:
            position = slugs.index(slug) + 1 if slug in slugs else 1
            self.click(session, when + dt.timedelta(seconds=4), query_id, slug, position, client=client)
            if bounce:
                self.search(session, when + dt.timedelta(seconds=12), query + " 怎么办")

    def write(self, db) -> dict:
        """Store everything in the database; returns the counts."""
        insert_events(db, "searches", self.searches)
        insert_events(db, "clicks", self.clicks)
        insert_events(db, "votes", self.votes)
        return {"searches": len(self.searches), "clicks": len(self.clicks), "votes": len(self.votes)}
