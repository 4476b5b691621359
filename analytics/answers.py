"""Answers shown above the search results and what readers said of them. Sole owner of ``answer_votes``.

Each search logs the answer it showed (``searches.answer``: JSON with the article, its section and
the score; the event log's migration adds the column, ``events.log_search`` writes it with the search).
A 👍/👎 on the answer is stored here, one per search (a changed mind replaces the vote), with the
article and section it was about, so an analysis never has to guess which answer was judged. An
answer voted down is evidence against its article: ``answer_flags`` raises ``answer_unhelpful``
under the same statistics as the page votes (``staleness.helpfulness_flags``).
"""

from __future__ import annotations

import json

from indexer.clock import now_iso
from indexer.errors import InvalidInput, NotFound
from indexer.i18n import N_, gettext
from indexer.store import transaction

from . import events
from .staleness import ArticleFlag, StalenessRules, wilson_lower_bound

MAX_COMMENT = 2000


def create_answer_votes(db) -> None:
    db["answer_votes"].create({"query_id": str, "ts": str, "slug": str, "anchor": str, "heading": str,
                               "helpful": int, "comment": str, "session": str}, pk="query_id")
    db["answer_votes"].create_index(["slug"])
    db["answer_votes"].create_index(["ts"])


MIGRATIONS = [create_answer_votes]  # searches.answer is the event log's (events.add_search_answer_column)


def logged_answer(answer: dict | None) -> str:
    """What searches.answer holds for an answer from the search API ("" for none)."""
    if not answer:
        return ""
    anchor = answer["url"].partition("#")[2]
    return json.dumps({"slug": answer["slug"], "anchor": anchor, "heading": answer["heading"],
                       "score": answer["score"]}, ensure_ascii=False)


def record_vote(db, *, query_id: str, helpful: bool, comment: str = "", session: str = "") -> dict:
    """Store a 👍/👎 on the answer search query_id showed; NotFound when that search showed none.

    The search must already be stored (the caller flushes the event log first)."""
    if not isinstance(helpful, bool):
        raise InvalidInput(N_("helpful 必须是 true 或 false"))
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(N_("评论太长了（最多 %(max)s 个字符）"), max=MAX_COMMENT)
    row = events.shown_answer(db, query_id)
    if row is None:
        raise NotFound(N_("找不到这个 search_id 对应的搜索，请使用 /api/search 返回的 query_id"))
    if not row[0]:
        raise NotFound(N_("这次搜索没有显示答案，无法评价"))
    answer = json.loads(row[0])
    vote = {"query_id": query_id, "ts": now_iso(), "slug": answer["slug"], "anchor": answer.get("anchor", ""),
            "heading": answer.get("heading", ""), "helpful": int(helpful), "comment": comment, "session": session}
    with transaction(db):
        db.execute("INSERT INTO answer_votes (query_id, ts, slug, anchor, heading, helpful, comment, session) "
                   "VALUES (:query_id, :ts, :slug, :anchor, :heading, :helpful, :comment, :session) "
                   "ON CONFLICT (query_id) DO UPDATE SET ts = excluded.ts, helpful = excluded.helpful, "
                   "comment = excluded.comment", vote)
    return vote


def votes(db, slug: str | None = None) -> list[dict]:
    """Stored answer votes, newest first (of one article when slug is given)."""
    where, params = ("WHERE slug = ?", [slug]) if slug else ("", [])
    cursor = db.execute(f"SELECT query_id, ts, slug, anchor, heading, helpful, comment, session FROM answer_votes "
                        f"{where} ORDER BY ts DESC", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def votes_by_article(db, start: str, end: str) -> dict[str, tuple[int, int]]:
    """{slug: (helpful, total)} of the answer votes cast in [start, end)."""
    rows = db.execute("SELECT slug, SUM(helpful), COUNT(*) FROM answer_votes WHERE ts >= ? AND ts < ? GROUP BY slug",
                      [start, end]).fetchall()
    return {slug: (int(helpful or 0), total) for slug, helpful, total in rows}


def answer_flags(articles: dict[str, dict], counted: dict[str, tuple[int, int]],
                 rules: StalenessRules = StalenessRules()) -> list[ArticleFlag]:
    """Articles whose quoted answers readers mostly voted down (Wilson bound, as for page votes)."""
    flags = []
    for slug, (helpful, total) in counted.items():
        if slug not in articles or total < rules.min_votes:
            continue
        helpful_upper = 1 - wilson_lower_bound(total - helpful, total)
        if helpful_upper < rules.helpful_floor:
            a = articles[slug]
            flags.append(ArticleFlag(slug, a["title"], a["path"], "answer_unhelpful", round(1 - helpful_upper, 3),
                                     {"helpful": helpful, "votes": total, "helpful_rate": round(helpful / total, 3),
                                      "helpful_upper_bound": round(helpful_upper, 3)},
                                     gettext("搜索框上方引用这篇文章的答案多被评为没有帮助：检查被引用的段落是否准确、完整。")))
    return flags


def votes_between(db, start: str, end: str) -> list[dict]:
    """Answer votes cast with start <= ts < end: {query_id, ts, helpful, session}, in time order (for reports)."""
    return [dict(zip(("query_id", "ts", "helpful", "session"), row, strict=True)) for row in db.execute(
        "SELECT query_id, ts, helpful, session FROM answer_votes WHERE ts >= ? AND ts < ? ORDER BY ts", [start, end])]
