""""Similar to: …" for submitters and reviewers: existing articles (found through the search index)
and other pending submissions, scored by cosine similarity of their words (0-1)."""

from __future__ import annotations

import math
from collections import Counter

from indexer.analysis import normalize, segment, stopwords
from indexer.errors import InvalidInput

from . import queue
from .publish import PRACTICES

SHOW_ABOVE = 0.2
PENDING = ("submitted", "in_review", "changes_requested")


def _vector(text: str) -> Counter:
    stop = stopwords()
    return Counter(w.lower() for w, _, _ in segment(normalize(text)[:20_000]) if w.lower() not in stop)


def cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two word-count vectors."""
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _text(fields: dict) -> str:
    return " ".join([fields.get("title", ""), fields.get("summary", ""), " ".join(fields.get("tags") or []),
                     fields.get("body", "")[:5000]])


def similar(index, db, fields: dict, exclude_id: int | None = None, limit: int = 5,
            include_pending: bool = True) -> list[dict]:
    """Articles (and, for reviewers, pending submissions) that look like this one, most similar first.

    Customers get include_pending=False: other customers' unpublished drafts are not theirs to see."""
    mine = _vector(_text(fields))
    found = []
    query = " ".join([fields.get("title", ""), fields.get("summary", "")])[:400].strip()
    if query:
        try:
            hits = index.search(query, limit=5)["results"]
        except InvalidInput:
            hits = []
        # A published practice is an article too: never "similar" to itself.
        own_page = f"{PRACTICES}/{fields['slug']}" if fields.get("slug") else None
        for hit in hits:
            if hit["slug"] == own_page:
                continue
            article = index.article(hit["slug"])
            score = cosine(mine, _vector(" ".join([article["title"], article.get("summary") or "",
                                                   (article.get("body") or "")[:5000]])))
            found.append({"kind": "article", "slug": hit["slug"], "title": hit["title"], "url": hit["url"],
                          "score": round(score, 3)})
    for other in queue.list_submissions(db, states=PENDING) if include_pending else []:
        if other["id"] != exclude_id:
            found.append({"kind": "submission", "id": other["id"], "title": other["title"],
                          "score": round(cosine(mine, _vector(_text(other))), 3)})
    found = [f for f in found if f["score"] >= SHOW_ABOVE]
    return sorted(found, key=lambda f: -f["score"])[:limit]
