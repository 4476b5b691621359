"""One 0-100 health score per article, with the signals that lowered it. Sole owner of ``article_health``.

An article starts at 100 and each signal takes away at most its weight; the score is what is left.
Every rate is judged by a Wilson bound, so a handful of events moves little and a clear pattern a lot:

- ``review``: review age against ``review_every`` (nothing until 75% of the interval, all 20 points
  at one interval overdue);
- ``votes``: the lower 95% Wilson bound of the unhelpful share of "was this helpful?" votes (25);
- ``answer_votes``: the same for votes on answers that cited the article (15; counted by
  ``analytics.answers.votes_by_article``);
- ``bounces``: the lower Wilson bound of readers searching again within seconds (15);
- ``failing_surge``: the surge flag's score for failing searches whose top result it was (10);
- ``near_gaps``: failing-search volume of gaps this article is nearest to and does not resolve (10);
- ``agent_links``: the lower Wilson bound of "did not help" among agents' reported outcomes (5).

Computed by ``kb analyze`` (``analytics/analyze.py``) and stored, so the dashboard and
``/api/article-health`` read one table.
"""

from __future__ import annotations

import datetime as dt
import json

from indexer.clock import now_iso
from indexer.store import transaction

from .staleness import wilson_lower_bound

WEIGHTS = {"review": 20, "votes": 25, "answer_votes": 15, "bounces": 15, "failing_surge": 10, "near_gaps": 10,
           "agent_links": 5}
REVIEW_GRACE = 0.75  # no penalty until this share of the review interval has passed
GAP_VOLUME_FULL = 50  # failing searches in nearest unresolved gaps that cost the whole near_gaps weight


def create_health_table(db) -> None:
    db["article_health"].create({"slug": str, "title": str, "path": str, "score": float, "signals": str,
                                 "computed_at": str}, pk="slug")
    db["article_health"].create_index(["score"])


MIGRATIONS = [create_health_table]


def _signal(name: str, share: float, detail: dict) -> dict:
    share = max(0.0, min(1.0, share))
    return {"signal": name, "penalty": round(WEIGHTS[name] * share, 1), "detail": detail}


def score_articles(articles: list[dict], today: dt.date, votes: dict | None = None, answer_votes: dict | None = None,
                   bounces: dict | None = None, surges: dict | None = None, gaps: list | None = None,
                   link_stats: list[dict] | None = None) -> list[dict]:
    """[{slug, title, path, score, signals}] for every article, least healthy first (a pure function)."""
    votes, answer_votes, bounces, surges = votes or {}, answer_votes or {}, bounces or {}, surges or {}
    gap_volume: dict[str, list] = {}
    for gap in gaps or []:
        if getattr(gap, "action", "") == "improve" and getattr(gap, "nearest_slug", ""):
            gap_volume.setdefault(gap.nearest_slug, []).append(gap)
    links = {s["slug"]: s for s in link_stats or []}
    out = []
    for a in articles:
        slug, signals = a["slug"], []
        if a.get("reviewed") and a.get("review_every"):
            try:
                age = (today - dt.date.fromisoformat(str(a["reviewed"]))).days
            except ValueError:
                age = None
            if age is not None:
                ratio = age / a["review_every"]
                if ratio > REVIEW_GRACE:
                    signals.append(_signal("review", (ratio - REVIEW_GRACE) / (2 - REVIEW_GRACE),
                                           {"reviewed": str(a["reviewed"]), "review_every": a["review_every"],
                                            "age_days": age}))
        for name, counts in (("votes", votes), ("answer_votes", answer_votes)):
            if slug in counts:
                helpful, total = counts[slug]
                if total:
                    lower = wilson_lower_bound(total - helpful, total)
                    if lower > 0:
                        signals.append(_signal(name, lower, {"helpful": helpful, "votes": total,
                                                             "unhelpful_lower_bound": round(lower, 3)}))
        if slug in bounces:
            clicks, bounced = bounces[slug]
            lower = wilson_lower_bound(bounced, clicks) if clicks else 0.0
            if lower > 0:
                signals.append(_signal("bounces", lower * 2, {"clicks": clicks, "bounced": bounced,
                                                              "bounce_lower_bound": round(lower, 3)}))
        if slug in surges:
            signals.append(_signal("failing_surge", surges[slug]["score"], surges[slug]["evidence"]))
        if slug in gap_volume:
            volume = sum(g.volume for g in gap_volume[slug])
            signals.append(_signal("near_gaps", volume / GAP_VOLUME_FULL,
                                   {"gaps": [g.label for g in gap_volume[slug]][:5], "volume": volume}))
        if slug in links:
            s = links[slug]
            judged = s["solved"] + s["not_helped"]
            lower = wilson_lower_bound(s["not_helped"], judged) if judged else 0.0
            if lower > 0:
                signals.append(_signal("agent_links", lower, {"links": s["links"], "solved": s["solved"],
                                                              "not_helped": s["not_helped"]}))
        signals = [s for s in signals if s["penalty"] > 0]
        signals.sort(key=lambda s: -s["penalty"])
        score = round(max(0.0, 100.0 - sum(s["penalty"] for s in signals)), 1)
        out.append({"slug": slug, "title": a.get("title", slug), "path": a.get("path", ""), "score": score,
                    "signals": signals})
    out.sort(key=lambda h: (h["score"], h["slug"]))
    return out


def store_health(db, scores: list[dict]) -> None:
    """Replace the stored scores with this analysis run's, in one transaction."""
    now = now_iso()
    with transaction(db):
        db.execute("DELETE FROM article_health")
        if scores:
            db["article_health"].insert_all(
                [{**{k: h[k] for k in ("slug", "title", "path", "score")},
                  "signals": json.dumps(h["signals"], ensure_ascii=False), "computed_at": now} for h in scores])


def article_health(db, limit: int | None = None, slug: str | None = None) -> list[dict]:
    """Stored scores, least healthy first (one article's with slug)."""
    where, params = ("slug = ?", [slug]) if slug else (None, [])
    rows = db["article_health"].rows_where(where, params, order_by="score, slug", limit=limit)
    return [{**r, "signals": json.loads(r["signals"] or "[]")} for r in rows]


def health_by_slug(db) -> dict[str, float]:
    """{slug: score} of every stored article (for sorting the stale/unhelpful list)."""
    return {slug: score for slug, score in db.execute("SELECT slug, score FROM article_health")}
