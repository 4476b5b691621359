"""`kb simulate`: a realistic month of help-center traffic with known, injected problems.

Customers search (Chinese and English, short, some misspelt), click results the real search index
returns, vote, and go away. On top of healthy traffic the simulator injects what the analysis must
find, and returns it as ground truth:

- topics no article covers (content gaps): offline use, contract management, OKR goals;
- an article whose readers vote it down;
- a surge of failing searches on one topic in the last week (Excel import errors);
- an article whose readers bounce (click, then search again within seconds);
- articles past their review date are whatever the docs' front matter says on `today`.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from indexer.clock import iso
from indexer.errors import InvalidInput
from indexer.i18n import N_

from .events import insert_events

GAP_TOPICS = {
    "offline": ["离线能用吗", "没网的时候能编辑吗", "断网了数据会丢吗", "离线模式", "offline mode", "work offline",
                "离线编辑任务", "没有网络怎么用", "ofline mode", "飞机上能用吗"],
    "contracts": ["合同管理", "怎么上传合同", "合同到期提醒", "contract management", "合同审批归档", "合同模版",
                  "合同金额统计", "contarct", "管理供应商合同", "合同附件在哪"],
    "okr": ["okr", "怎么设置okr", "目标管理", "okr对齐", "季度目标怎么拆", "OKR 打分", "关键结果进度", "objectives key results",
            "okr模板", "目标和任务关联"],
}
SURGE_TOPIC = ["excel导入失败", "导入报错", "excel导入一直失败", "导入提示格式错误", "excel import error", "导入失败怎么办",
               "上传表格报错", "导入excel没反应"]
SURGE_ARTICLE = "import/excel-import"
UNHELPFUL_ARTICLE = "troubleshooting/notifications"
BOUNCE_ARTICLE = "gantt/baseline"
HEALTHY_ARTICLE = "kanban/board-setup"


def _queries_for(article: dict) -> list[str]:
    tags = [t for t in article.get("tags", []) if t]
    queries = [article["title"]]
    if tags:
        queries += [tags[0], " ".join(tags[:2]), f"怎么{tags[0]}" if not tags[0].isascii() else f"how to {tags[0]}"]
    return queries


def _typo(text: str, rng: random.Random) -> str:
    if not text.isascii() or len(text) < 5:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1 :]


class _Traffic:
    def __init__(self, index, rng: random.Random):
        self.index, self.rng = index, rng
        self.searches, self.clicks, self.votes = [], [], []

    def search(self, session: str, when: dt.datetime, query: str) -> tuple[str, list[str]]:
        try:
            result = self.index.search(query, limit=10)
            slugs, total, took = [r["slug"] for r in result["results"]], result["total"], result["took_ms"]
            normalized = result["normalized"]
        except InvalidInput:  # an unusable query (empty after typos) finds nothing, as it would live
            slugs, total, took, normalized = [], 0, 0.0, query.strip().lower()
        query_id = secrets.token_hex(8)
        self.searches.append({"query_id": query_id, "ts": iso(when), "session": session, "query": query,
                              "normalized": normalized, "results": total, "top_slugs": _json(slugs),
                              "took_ms": took, "module": "", "tag": "", "page": 1, "source": "simulated"})
        return query_id, slugs

    def click(self, session, when, query_id, slug, position):
        self.clicks.append({"ts": iso(when), "query_id": query_id, "slug": slug, "position": position,
                            "session": session})

    def vote(self, session, when, slug, helpful):
        self.votes.append({"ts": iso(when), "slug": slug, "helpful": int(helpful), "comment": "", "session": session})


def _json(items) -> str:
    import json

    return json.dumps(items, ensure_ascii=False)


def check_scenario(scenario, by_slug: dict) -> dict:
    """A scenario file's content, validated: InvalidInput names what is wrong."""
    if not isinstance(scenario, dict):
        raise InvalidInput(N_("场景必须是一个映射，包含 uncovered、unfindable、voted_down、bounce"))
    unknown = set(scenario) - {"uncovered", "unfindable", "voted_down", "voted_down_hash", "bounce", "surge"}
    if unknown:
        raise InvalidInput(N_("场景里有未知的键：%(keys)s"), keys=", ".join(sorted(unknown)))
    for kind in ("uncovered", "unfindable"):
        topics = scenario.get(kind) or {}
        if not isinstance(topics, dict):
            raise InvalidInput(N_("场景的 %(kind)s 必须把主题名对应到它的查询和词语"), kind=kind)
        for name, topic in topics.items():
            if not isinstance(topic, dict) or not topic.get("queries") or not all(
                    isinstance(q, str) and q.strip() for q in topic["queries"]):
                raise InvalidInput(N_("场景的 %(kind)s.%(topic)s 需要一个查询列表"), kind=kind, topic=name)
            if not isinstance(topic.get("words", []), list | dict):
                raise InvalidInput(N_("场景的 %(kind)s.%(topic)s：words 必须是列表，或从查询到列表的映射"), kind=kind, topic=name)
            if kind == "unfindable" and topic.get("slug") not in by_slug:
                raise InvalidInput(N_("场景的 unfindable.%(topic)s：没有 slug 为 %(slug)r 的文章"), topic=name,
                                   slug=topic.get("slug"))
    for key in ("voted_down", "bounce"):
        if scenario.get(key) and scenario[key] not in by_slug:
            raise InvalidInput(N_("场景的 %(key)s：没有 slug 为 %(slug)r 的文章"), key=key, slug=scenario[key])
    return scenario


def simulate(db, index, articles: list[dict], days: int = 30, sessions_per_day: int = 60, seed: int = 7,
             end: dt.datetime | None = None, progress=None, scenario: dict | None = None) -> dict:
    """Write `days` of simulated traffic ending at `end` into db; returns the injected ground truth.

    scenario (see ``check_scenario``) replaces the built-in problems, for any docs folder: topics no
    article covers (``uncovered``), topics an article covers in words its readers do not use
    (``unfindable``: its slug, the readers' queries and the words the article lacks), an article readers
    vote down (``voted_down``, until its content hash differs from ``voted_down_hash``) and one they
    bounce from. A reader of a scenario topic succeeds when one of the first three results contains most
    of the topic's words, so writing the article (or the missing words into it) fixes the topic."""
    rng = random.Random(seed)
    end = end or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = end - dt.timedelta(days=days)
    if len(articles) < 3:
        raise InvalidInput(N_("kb simulate 需要一个至少有 3 篇文章的文档文件夹"))
    by_slug = {a["slug"]: a for a in articles}
    if scenario is not None:
        check_scenario(scenario, by_slug)
    # The starter docs have natural targets; any other docs folder gets deterministic stand-ins.
    ordered = sorted(by_slug)
    unhelpful = UNHELPFUL_ARTICLE if UNHELPFUL_ARTICLE in by_slug else ordered[0]
    bounce = BOUNCE_ARTICLE if BOUNCE_ARTICLE in by_slug else ordered[1]
    healthy_slug = HEALTHY_ARTICLE if HEALTHY_ARTICLE in by_slug else ordered[2]
    surge_article = SURGE_ARTICLE if SURGE_ARTICLE in by_slug else None
    topics = {}
    if scenario is not None:
        unhelpful = scenario.get("voted_down") or unhelpful
        bounce = scenario.get("bounce") or bounce
        topics = {**(scenario.get("uncovered") or {}), **(scenario.get("unfindable") or {})}
        surge_article = surge_article if scenario.get("surge") else None
        healthy_slug = next((s for s in ordered if s not in (unhelpful, bounce)), healthy_slug)
    unhelpful_fixed = bool(scenario and scenario.get("voted_down_hash")
                           and by_slug[unhelpful].get("content_hash") != scenario["voted_down_hash"])
    healthy = [a for a in articles if a["slug"] not in (unhelpful, bounce)]
    weights = [5.0 if a["slug"] == healthy_slug else 1.0 for a in healthy]
    traffic = _Traffic(index, rng)
    for day in range(days):
        day_start = start + dt.timedelta(days=day)
        recent = day >= days - 7
        for _ in range(sessions_per_day):
            when = day_start + dt.timedelta(seconds=rng.randrange(8 * 3600, 22 * 3600))
            session = secrets.token_hex(12)
            kind = rng.random()
            if kind < 0.12:
                if topics:
                    _topic_session(traffic, session, when, topics[rng.choice(sorted(topics))], by_slug, rng)
                else:
                    _gap_session(traffic, session, when, rng)
            elif kind < 0.20:
                _article_session(traffic, session, when, by_slug[unhelpful], rng,
                                 helpful_rate=0.92 if unhelpful_fixed else 0.15, vote_rate=0.7 if not unhelpful_fixed else 0.35)
            elif kind < 0.27:
                _bounce_session(traffic, session, when, by_slug[bounce], rng)
            else:
                article = rng.choices(healthy, weights=weights)[0]
                _article_session(traffic, session, when, article, rng, helpful_rate=0.92, vote_rate=0.35)
        surge_sessions = (14 if recent else 1) if scenario is None or scenario.get("surge") else 0
        for _ in range(surge_sessions):
            when = day_start + dt.timedelta(seconds=rng.randrange(8 * 3600, 22 * 3600))
            _surge_session(traffic, secrets.token_hex(12), when, rng)
        if progress:
            progress(day + 1, days)
    insert_events(db, "searches", traffic.searches)
    insert_events(db, "clicks", traffic.clicks)
    insert_events(db, "votes", traffic.votes)
    today = end.date()
    overdue = sorted(a["slug"] for a in articles if a.get("reviewed") and a.get("review_every")
                     and dt.date.fromisoformat(a["reviewed"]) + dt.timedelta(days=a["review_every"]) < today)
    return {
        "start": iso(start), "end": iso(end),
        "events": {"searches": len(traffic.searches), "clicks": len(traffic.clicks), "votes": len(traffic.votes)},
        "gap_topics": {k: v for k, v in GAP_TOPICS.items()} if scenario is None
        else {k: v["queries"] for k, v in (scenario.get("uncovered") or {}).items()},
        "unfindable": {k: {"slug": v["slug"], "queries": v["queries"]} for k, v in
                       ((scenario or {}).get("unfindable") or {}).items()},
        "surge": {"queries": SURGE_TOPIC, "article": surge_article},
        "unhelpful_article": unhelpful,
        "bounce_article": bounce,
        "healthy_article": healthy_slug,
        "overdue_articles": overdue,
    }


def _article_session(traffic, session, when, article, rng, helpful_rate, vote_rate):
    query = rng.choice(_queries_for(article))
    if rng.random() < 0.1:
        query = _typo(query, rng)
    query_id, slugs = traffic.search(session, when, query)
    if article["slug"] in slugs[:5] and rng.random() < 0.9:
        position = slugs.index(article["slug"]) + 1
        clicked_at = when + dt.timedelta(seconds=rng.randrange(3, 25))
        traffic.click(session, clicked_at, query_id, article["slug"], position)
        if rng.random() < vote_rate:
            traffic.vote(session, clicked_at + dt.timedelta(seconds=rng.randrange(30, 240)), article["slug"],
                         rng.random() < helpful_rate)


def _speaks(article: dict | None, words: list[str]) -> bool:
    """Whether an article holds most of a topic's words (what its readers need to recognise the answer)."""
    if not article or not words:
        return False
    text = " ".join([article.get("title", ""), article.get("summary", ""), article.get("body", "")]).lower()
    return sum(1 for w in words if w.lower() in text) * 2 >= len(words)


def _topic_session(traffic, session, when, topic: dict, by_slug: dict, rng, attempt: int = 0):
    pool = topic["queries"]
    weights = [1 / (rank + 1) for rank in range(len(pool))]
    query = rng.choices(pool, weights)[0]
    query_id, slugs = traffic.search(session, when, query)
    needed = topic.get("words", [])
    needed = needed.get(query, []) if isinstance(needed, dict) else needed  # per query: the words it lacks
    answer = next((s for s in slugs[:3] if _speaks(by_slug.get(s), needed)), None)
    if answer:
        clicked_at = when + dt.timedelta(seconds=rng.randrange(3, 25))
        traffic.click(session, clicked_at, query_id, answer, slugs.index(answer) + 1)
        if rng.random() < 0.35:
            traffic.vote(session, clicked_at + dt.timedelta(seconds=rng.randrange(30, 240)), answer, rng.random() < 0.9)
        return
    target = topic.get("slug")
    if target in slugs[:3] and rng.random() < 0.4:  # reads the article meant for them, which misses their case
        clicked_at = when + dt.timedelta(seconds=rng.randrange(3, 20))
        traffic.click(session, clicked_at, query_id, target, slugs.index(target) + 1)
        traffic.vote(session, clicked_at + dt.timedelta(seconds=rng.randrange(30, 120)), target, False)
    elif attempt == 0 and rng.random() < 0.5:  # tries again in other words
        _topic_session(traffic, session, when + dt.timedelta(seconds=rng.randrange(10, 60)), topic, by_slug, rng, 1)


def _gap_session(traffic, session, when, rng):
    topic = rng.choice(list(GAP_TOPICS))
    pool = GAP_TOPICS[topic]
    weights = [1 / (rank + 1) for rank in range(len(pool))]  # a few phrasings are much more common
    traffic.search(session, when, rng.choices(pool, weights)[0])
    if rng.random() < 0.5:  # tries again in other words, still finds nothing useful
        traffic.search(session, when + dt.timedelta(seconds=rng.randrange(10, 60)), rng.choices(pool, weights)[0])


def _surge_session(traffic, session, when, rng):
    query_id, slugs = traffic.search(session, when, rng.choice(SURGE_TOPIC))
    if slugs and rng.random() < 0.3:  # a few read the import article, and say it did not help
        clicked_at = when + dt.timedelta(seconds=rng.randrange(3, 20))
        traffic.click(session, clicked_at, query_id, slugs[0], 1)
        traffic.vote(session, clicked_at + dt.timedelta(seconds=rng.randrange(30, 120)), slugs[0], False)
    elif rng.random() < 0.5:
        traffic.search(session, when + dt.timedelta(seconds=rng.randrange(10, 60)), rng.choice(SURGE_TOPIC))


def _bounce_session(traffic, session, when, article, rng):
    query = rng.choice(_queries_for(article))
    query_id, slugs = traffic.search(session, when, query)
    if article["slug"] in slugs[:5]:
        clicked_at = when + dt.timedelta(seconds=rng.randrange(3, 15))
        traffic.click(session, clicked_at, query_id, article["slug"], slugs.index(article["slug"]) + 1)
        traffic.search(session, clicked_at + dt.timedelta(seconds=rng.randrange(4, 20)), rng.choice(_queries_for(article)))
