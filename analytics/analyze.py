"""`kb analyze`: from the event log to the knowledge manager's queue, in one run.

The window is two periods (default 7 days each) ending now: trends compare the current period with
the previous one. Memory stays bounded on large logs: failing searches are streamed from SQLite,
at most ``MAX_FAILED`` of them are kept (a uniform reservoir sample, reported as ``sampled``), and
only the ``MAX_DISTINCT`` most frequent distinct queries are clustered (the rest are reported as
``rare``, never silently dropped).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from indexer.clock import iso
from indexer.i18n import N_, current_language, gettext
from indexer.labels import label

from . import answers, flag_searches
from . import closure as fixes
from . import flags as flag_queue
from . import synonyms as learned_synonyms
from .closure import ClosureRules
from .failing import FailedSearch, FailingRules, bounces, iter_failed_searches, searches_by_query, votes_by_article
from .gaps import find_gaps, near_identical_key
from .health import score_articles, store_health
from .links import article_stats, unhelpful_links
from .questions import questions_between
from .staleness import (
    StalenessRules,
    agent_link_flags,
    bounce_flags,
    gap_flags,
    helpfulness_flags,
    review_flags,
    surge_flags,
)

MAX_FAILED = 200_000
MAX_DISTINCT = 3_000  # pairwise distances of 3,000 queries: 72 MB
# A question sent through 提交问题 is stronger evidence of a gap than a failed search: someone searched,
# found nothing and took the time to write. It counts as this many failed searches (reason "asked").
QUESTION_WEIGHT = 3


@dataclass
class AnalysisReport:
    start: str
    period_start: str
    end: str
    failed: int = 0
    sampled: bool = False
    clustered: int = 0
    rare: int = 0
    noise: int = 0
    gaps: list = field(default_factory=list)
    article_flags: list = field(default_factory=list)
    queue: dict = field(default_factory=dict)
    fixes: dict = field(default_factory=dict)
    health: list = field(default_factory=list)
    synonyms: list = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict:
        return {
            "window": {"start": self.start, "period_start": self.period_start, "end": self.end},
            "failed_searches": self.failed, "sampled": self.sampled, "clustered_queries": self.clustered,
            "rare_queries": self.rare, "unclustered_queries": self.noise, "message": self.message,
            "gaps": [g.to_dict() for g in self.gaps],
            "flags": [{"slug": f.slug, "title": f.title, "path": f.path, "reason": f.reason, "score": f.score,
                       "evidence": f.evidence, "suggestion": f.suggestion} for f in self.article_flags],
            "queue": self.queue, "fixes": self.fixes, "health": self.health, "synonym_proposals": self.synonyms,
        }

    def summary(self) -> str:
        """A few lines a person reads after `kb analyze`."""
        lines = [gettext(N_("分析范围 %(start)s → %(end)s（本期从 %(period_start)s 开始）"), start=self.start[:10],
                         end=self.end[:10], period_start=self.period_start[:10]),
                 gettext(N_("失败的搜索：%(n)s（抽样）") if self.sampled else N_("失败的搜索：%(n)s"), n=self.failed)]
        if self.rare:
            lines.append(gettext(N_("内容缺口：%(clusters)s 组（%(noise)s 个查询没有归组，%(rare)s 个少见查询没有参与归组）"),
                                 clusters=len(self.gaps), noise=self.noise, rare=self.rare))
        else:
            lines.append(gettext(N_("内容缺口：%(clusters)s 组（%(noise)s 个查询没有归组）"), clusters=len(self.gaps),
                                 noise=self.noise))
        for g in self.gaps[:10]:
            lines.append(gettext(N_("  [%(action)s] %(label)s  ×%(volume)s  趋势 %(trend)s  例如 %(example)s"),
                                 action=_named(g.action, "reason"), label=g.label, volume=g.volume, trend=g.trend,
                                 example=g.representative)
                         + (f"  → {g.nearest_slug} ({g.similarity:.2f})" if g.action == "improve" else ""))
        by_reason = Counter(f.reason for f in self.article_flags)
        lines.append(gettext(N_("文章问题：%(flags)s"),
                             flags=", ".join(f"{_named(r, 'reason')} {n}" for r, n in sorted(by_reason.items()))
                             or gettext(N_("没有"))))
        if self.health:
            lines.append(gettext(N_("最不健康的文章：%(articles)s"),
                                 articles=", ".join(f"{h['slug']} {h['score']:.0f}" for h in self.health[:5])))
        if self.synonyms:
            lines.append(gettext(N_("学到的同义词建议：%(pairs)s（用 `kb synonyms list` 审核）"),
                                 pairs=", ".join(f"{p['customer']} → {p['article']} ×{p['sessions']}"
                                                 for p in self.synonyms[:5])))
        if self.queue:
            lines.append(gettext(N_("待处理：%(counts)s"),
                                 counts=", ".join(f"{_named(k, 'sync')} {v}" for k, v in self.queue.items())))
        if any(self.fixes.values()):
            lines.append(gettext(N_("修复的验证：%(counts)s"),
                                 counts=", ".join(f"{_named(k, 'fix')} {v}" for k, v in self.fixes.items())))
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


def _named(value: str, concept: str) -> str:
    """A code in the summary, named for a person; English keeps the codes (scripts grep them)."""
    return value if current_language() == "en" else label(value, concept)


def analyze(db, articles: list[dict], now: dt.datetime | None = None, period_days: int = 7,
            rules: FailingRules = FailingRules(), staleness: StalenessRules = StalenessRules(),
            update_queue: bool = True, progress=None, seed: int = 0,
            closure: ClosureRules = ClosureRules(), index=None) -> AnalysisReport:
    """Find failing searches, gaps and stale/unhelpful articles; merge them into the queue; judge linked fixes.

    index (an ArticleIndex) lets kb's own search decide which article answers a gap's queries."""
    step = progress or (lambda name: None)
    now = now or dt.datetime.now(dt.timezone.utc)
    end, mid, start = now, now - dt.timedelta(days=period_days), now - dt.timedelta(days=2 * period_days)
    report = AnalysisReport(iso(start), iso(mid), iso(end))
    by_slug = {a["slug"]: a for a in articles}

    step("failing searches")
    failed, seen, rng = [], 0, random.Random(seed)
    for f in iter_failed_searches(db, report.start, report.end, rules):
        seen += 1
        if len(failed) < MAX_FAILED:
            failed.append(f)
        else:  # reservoir sampling keeps a uniform sample of everything streamed so far
            j = rng.randrange(seen)
            if j < MAX_FAILED:
                failed[j] = f
    report.failed, report.sampled = seen, seen > MAX_FAILED
    asked_weight = Counter()  # a question counts as QUESTION_WEIGHT searches in the totals too (rates ≤ 100%)
    for question_id, ts, session, text in questions_between(db, report.start, report.end):
        asked = FailedSearch(f"question-{question_id}", ts, session, text, text.lower(), "asked", None, None)
        failed.extend([asked] * QUESTION_WEIGHT)
        report.failed += QUESTION_WEIGHT
        asked_weight[near_identical_key(asked.query) or asked.query] += QUESTION_WEIGHT

    step("content gaps")
    counts = Counter(near_identical_key(f.query) or f.query for f in failed)
    keep = {k for k, _ in counts.most_common(MAX_DISTINCT)}
    report.rare = len(counts) - len(keep)
    clusterable = [f for f in failed if (near_identical_key(f.query) or f.query) in keep]
    report.clustered = len(keep)
    totals = searches_by_query(db, report.start, report.end, near_identical_key)
    for key, weight in asked_weight.items():
        totals[key] = totals.get(key, 0) + weight
    report.gaps, report.noise = find_gaps(clusterable, articles, report.period_start, totals=totals, index=index)

    step("stale and unhelpful articles")
    # A failing search counts against its first result only when that article is the one to fix: not
    # when its query is in a gap no article answers (the first result was the best of nothing), in a
    # gap whose advice names another article, or is a title several articles share (使用手册: the
    # reader wanted another of them).
    fault = {near_identical_key(q): (g.nearest_slug if g.action == "improve" else None)
             for g in report.gaps for q in (g.queries or g.examples)}
    shared = Counter(near_identical_key(a["title"]) for a in articles if a.get("title"))
    fault.update({key: None for key, n in shared.items() if n > 1})
    current, previous = Counter(), Counter()
    behind: dict[str, list[FailedSearch]] = {}  # the failing searches each article was the top result of
    for f in failed:
        owner = fault.get(near_identical_key(f.query), f.top_slug)
        if f.top_slug and f.reason != "no_results" and owner == f.top_slug:
            (current if f.ts >= report.period_start else previous)[f.top_slug] += 1
            behind.setdefault(f.top_slug, []).append(f)
    votes, bounced = votes_by_article(db, report.start, report.end), bounces(db, report.start, report.end)
    answer_votes = answers.votes_by_article(db, report.start, report.end)
    report.article_flags = (
        review_flags(articles, now.date())
        + helpfulness_flags(by_slug, votes, staleness)
        + answers.answer_flags(by_slug, answer_votes, staleness)
        + surge_flags(by_slug, current, previous, staleness)
        + bounce_flags(by_slug, bounced, staleness)
        + gap_flags(by_slug, report.gaps, staleness)
        + agent_link_flags(by_slug, unhelpful_links(db))
    )
    report.article_flags.sort(key=lambda f: -f.score)
    if not failed:
        report.message = gettext(N_("这段时间没有失败的搜索：没有可归组的内容（搜索记录在正常写入吗？）"))

    step("article health")
    surges = {f.slug: {"score": f.score, "evidence": f.evidence} for f in report.article_flags
              if f.reason == "failing_surge"}
    report.health = score_articles(articles, now.date(), votes=votes, answer_votes=answer_votes,
                                   bounces=bounced, surges=surges, gaps=report.gaps, link_stats=article_stats(db))

    step("learned synonyms")
    report.synonyms = learned_synonyms.mine(db, by_slug, report.start, report.end, rules.reformulation_window,
                                            rules.vote_window)

    if update_queue:
        store_health(db, report.health)
        learned_synonyms.record_proposals(db, report.synonyms)
        step("queue")
        report.queue = flag_queue.sync(db, _stable_gap_keys(db, _candidates(report, behind, period_days)), now=iso(now))
        step("verify fixes")
        report.fixes = fixes.verify_fixes(db, now=now, closure=closure, rules=rules)
    return report


def _stable_gap_keys(db, candidates: list[dict]) -> list[dict]:
    """A cluster's top words shift as queries arrive; keep a gap's flag (and its decisions) when most of
    its example queries are the same, by reusing the existing key."""
    known = {f["key"]: set(f["evidence"].get("examples", [])) for f in flag_queue.list_flags(db, flag_queue.STATES, "gap")}
    taken = {c["key"] for c in candidates}
    for c in candidates:
        if c["kind"] != "gap" or c["key"] in known:
            continue
        mine = set(c["evidence"].get("examples", []))
        best = max(((len(mine & ex) / len(mine | ex), key) for key, ex in known.items() if key not in taken and mine | ex),
                   default=(0.0, None))
        if best[0] >= 0.3:
            taken.add(best[1])
            c["key"] = best[1]
    return candidates


def _candidates(report: AnalysisReport, behind: dict | None = None, period_days: int = 7) -> list[dict]:
    """The queue's candidates, each with the searches behind its figures (flag_searches) where it counts searches.

    behind: {slug: failing searches it was the top result of} (a surge's figures)."""
    behind = behind or {}
    gap_of = {(g.nearest_slug, g.label): g for g in report.gaps}

    def searches(f) -> list[dict]:
        if f.reason == "failing_surge":
            return flag_searches.rows_of(behind.get(f.slug, []), report.period_start)
        if f.reason == "near_gap" and (f.slug, f.evidence.get("cluster")) in gap_of:
            return flag_searches.rows_of(gap_of[f.slug, f.evidence["cluster"]].events, report.period_start)
        return []

    counted = ("failing_surge", "near_gap")  # evidence counting searches: say over how many days
    out = [{"key": f.key, "kind": "article", "slug": f.slug, "reason": f.reason, "title": f.title, "path": f.path,
            "score": f.score, "suggestion": f.suggestion, "searches": searches(f),
            "evidence": {**f.evidence, "period_days": period_days} if f.reason in counted else f.evidence}
           for f in report.article_flags]
    for g in report.gaps:
        evidence = {k: v for k, v in g.to_dict().items() if k not in ("key", "suggestion")}
        out.append({"key": g.key, "kind": "gap", "slug": g.nearest_slug if g.action == "improve" else "",
                    "reason": g.action, "title": g.label, "path": "", "evidence": {**evidence, "period_days": period_days},
                    "suggestion": g.suggestion, "searches": flag_searches.rows_of(g.events, report.period_start),
                    "score": round(min(1.0, 0.2 + g.volume / 100 + (0.2 if g.trend >= 2 else 0)), 3)})
    # One flag per key: an article near two gaps, or two clusters with the same top words, merge
    # into the strongest of them.
    best: dict[str, dict] = {}
    for c in out:
        if c["key"] not in best or c["score"] > best[c["key"]]["score"]:
            best[c["key"]] = c
    return list(best.values())
