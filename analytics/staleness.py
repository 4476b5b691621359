"""Stale and unhelpful articles: each signal is a flag with its evidence and a score.

Scores are on one scale (roughly 0-1, higher is more urgent) so one queue can sort them:

- ``review_overdue``: today is past ``reviewed + review_every``; grows with the days overdue.
- ``low_helpfulness``: even the optimistic end of the 95% Wilson interval of the helpful share (one minus
  the lower bound of the unhelpful share) is under 0.5, with at least
  ``min_votes`` votes; a raw ratio would flag an article for 0 of 1.
- ``failing_surge``: failing searches whose top result was this article doubled (or more) from the
  previous period to this one, with at least ``min_surge`` in this period.
- ``bounce``: at least ``min_clicks`` clicks, and ``bounce_rate`` of readers searched again within
  seconds of opening it.
- ``near_gap``: the article is the nearest one to a large failing-search cluster.
- ``agent_links_unhelpful``: support agents sent it at least 5 times and most reported outcomes are
  "did not help".
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from indexer.i18n import gettext


@dataclass(frozen=True)
class StalenessRules:
    min_votes: int = 5
    helpful_floor: float = 0.5
    min_surge: int = 5
    surge_ratio: float = 2.0
    min_clicks: int = 8
    bounce_rate: float = 0.35
    gap_volume: int = 10


@dataclass
class ArticleFlag:
    slug: str
    title: str
    path: str
    reason: str
    score: float
    evidence: dict = field(default_factory=dict)
    suggestion: str = ""

    @property
    def key(self) -> str:
        return f"article:{self.slug}:{self.reason}"


def wilson_lower_bound(positive: int, total: int, z: float = 1.96) -> float:
    """Lower bound of the 95% Wilson interval for positive/total (0 when there are no votes)."""
    if total == 0:
        return 0.0
    p = positive / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt((p * (1 - p) + z * z / (4 * total)) / total)
    return (centre - margin) / (1 + z * z / total)


def review_flags(articles: list[dict], today: dt.date) -> list[ArticleFlag]:
    """Articles whose review is overdue on `today`."""
    flags = []
    for a in articles:
        if not (a.get("reviewed") and a.get("review_every")):
            continue
        due = dt.date.fromisoformat(a["reviewed"]) + dt.timedelta(days=a["review_every"])
        if due < today:
            overdue = (today - due).days
            flags.append(ArticleFlag(a["slug"], a["title"], a["path"], "review_overdue",
                                     round(min(1.0, 0.3 + overdue / 180), 3),
                                     {"reviewed": a["reviewed"], "review_every": a["review_every"],
                                      "due": due.isoformat(), "days_overdue": overdue, "owner": a.get("owner", "")},
                                     gettext("复核文章并更新「最近审核」日期（应于 %(due)s 复核，已逾期 %(days)s 天）。",
                                             due=due.isoformat(), days=overdue)))
    return flags


def helpfulness_flags(articles: dict[str, dict], votes: dict[str, tuple[int, int]],
                      rules: StalenessRules = StalenessRules()) -> list[ArticleFlag]:
    """Articles voted unhelpful, judged by the lower confidence bound rather than the raw ratio."""
    flags = []
    for slug, (helpful, total) in votes.items():
        if slug not in articles or total < rules.min_votes:
            continue
        helpful_upper = 1 - wilson_lower_bound(total - helpful, total)  # the most helpful it could plausibly be
        if helpful_upper < rules.helpful_floor:
            a = articles[slug]
            flags.append(ArticleFlag(slug, a["title"], a["path"], "low_helpfulness",
                                     round(1 - helpful_upper, 3),
                                     {"helpful": helpful, "votes": total, "helpful_rate": round(helpful / total, 3),
                                      "helpful_upper_bound": round(helpful_upper, 3)},
                                     gettext("读者认为这篇文章没有帮助：阅读反馈和失败搜索，补充缺少的步骤或情况。")))
    return flags


def surge_flags(articles: dict[str, dict], current: dict[str, int], previous: dict[str, int],
                rules: StalenessRules = StalenessRules()) -> list[ArticleFlag]:
    """Articles whose failing searches surged this period compared with the previous one."""
    flags = []
    for slug, now in current.items():
        before = previous.get(slug, 0)
        if slug in articles and now >= rules.min_surge and now >= rules.surge_ratio * max(before, 1):
            a = articles[slug]
            ratio = now / max(before, 1)
            flags.append(ArticleFlag(slug, a["title"], a["path"], "failing_surge",
                                     round(min(1.0, 0.4 + math.log2(ratio) / 10 + now / 200), 3),
                                     {"failing_this_period": now, "failing_previous_period": before,
                                      "ratio": round(ratio, 2)},
                                     gettext("以这篇文章为首个结果的失败搜索激增：检查是否过时或缺少新出现的问题。")))
    return flags


def bounce_flags(articles: dict[str, dict], bounces: dict[str, tuple[int, int]],
                 rules: StalenessRules = StalenessRules()) -> list[ArticleFlag]:
    """Articles readers leave within seconds to search again."""
    flags = []
    for slug, (clicks, bounced) in bounces.items():
        if slug in articles and clicks >= rules.min_clicks and bounced / clicks >= rules.bounce_rate:
            a = articles[slug]
            flags.append(ArticleFlag(slug, a["title"], a["path"], "bounce", round(bounced / clicks * 0.8, 3),
                                     {"clicks": clicks, "bounced": bounced, "bounce_rate": round(bounced / clicks, 3)},
                                     gettext("读者打开后几秒内又去搜索：开头是否直接回答了问题？标题是否名不副实？")))
    return flags


def gap_flags(articles: dict[str, dict], gaps: list, rules: StalenessRules = StalenessRules()) -> list[ArticleFlag]:
    """Articles nearest to a large failing-search cluster they do not resolve."""
    flags = []
    for gap in gaps:
        if gap.action == "improve" and gap.volume >= rules.gap_volume and gap.nearest_slug in articles:
            a = articles[gap.nearest_slug]
            flags.append(ArticleFlag(a["slug"], a["title"], a["path"], "near_gap",
                                     round(min(1.0, 0.3 + gap.volume / 200), 3),
                                     {"cluster": gap.label, "volume": gap.volume, "similarity": gap.similarity,
                                      "examples": gap.examples[:5], "reasons": dict(gap.reasons)},
                                     gap.suggestion))
    return flags


def agent_link_flags(articles: dict[str, dict], unhelpful: list[dict]) -> list[ArticleFlag]:
    """Articles agents often send that mostly do not solve the ticket."""
    flags = []
    for s in unhelpful:
        if s["slug"] in articles:
            a = articles[s["slug"]]
            judged = s["solved"] + s["not_helped"]
            flags.append(ArticleFlag(a["slug"], a["title"], a["path"], "agent_links_unhelpful",
                                     round(min(1.0, 0.3 + s["not_helped"] / judged * 0.5 + s["links"] / 100), 3),
                                     {"links": s["links"], "solved": s["solved"], "not_helped": s["not_helped"],
                                      "visits": s["visits"]},
                                     gettext("客服经常发送这篇文章，但多数工单没有因此解决：看看工单里缺了什么情况。")))
    return flags
