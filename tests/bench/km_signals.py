"""Learned synonyms and click re-ranking on a simulated month over a third-party corpus.

    python tests/bench/km_signals.py [--corpus nocobase-zh] [--semantic-model use|off] [--seed 1]

Builds a kb index of the dev set's docs (``../shared/datasets/relevance``, read in place), writes a
month of traffic with ``tests/km_traffic.py`` into a fresh SQLite file and runs the real code:

- **Learned synonyms** (``analytics.synonyms.mine``, as ``kb analyze`` runs it): injected vocabulary
  mismatches (customers' words that no article uses, rewritten by 3-6 sessions into the word the
  article uses) must be proposed; unrelated pairs must not: topic switches between words the
  articles use, customers of a missing topic leaving for various other topics, reformulations that
  bounced or were voted down, refinements that only add words, and background traffic (every dev-set
  query searched and its article kept, and one session per article rewriting one of its queries into
  another). Prints precision and recall of the proposals.
- **Click re-ranking** (``analytics.clicks``, through ``ArticleIndex.search`` boosts as the API applies
  them): for every dev-set query whose grade-2 article kb ranks 2nd-5th, 5 clients click and keep
  that article; does it move up? For the same queries, an irrelevant article (unlabelled, ranked
  below the right one) gets 20 clicks from one client, 5 clients who bounce, and an article the
  query does not match gets kept clicks from 10 clients: none of them may move up or appear.

Writes ``tests/bench/results/km_signals.txt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from km_traffic import Traffic  # noqa: E402

from devset import corpus_docs, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
TEMPLATES = [("{}怎么设置", "{}怎么设置"), ("{}在哪里", "{}在哪里"), ("如何配置{}", "如何配置{}"), ("{} 不会用", "{} 不会用")]
# Customers' words → the word the corpus uses (the customers' words occur in no article; checked below).
MISMATCHES = [("批条子", "审批"), ("栏位", "字段"), ("扩展包", "插件"), ("任务墙", "看板"), ("日程表", "日历"),
              ("导成表格", "导出"), ("岗位", "角色"), ("皮肤", "主题"), ("登陆方式", "认证"), ("消息推送", "通知"),
              ("定时跑", "定时任务"), ("外观配色", "主题")]
COMMON_SWITCHES = [("工作流", "日历"), ("权限", "插件"), ("数据表", "看板"), ("区块", "审批"), ("字段", "通知")]
GAP_WORDS = ["发票", "合同", "工资条", "报销单", "考勤"]
SCATTER = ["角色", "日历", "导出", "通知", "看板"]
FAILED_KINDS = [("签到机", "用户", "bounce"), ("收款码", "字段", "down_vote")]


def build(corpus: str, work: Path, semantic: str):
    from indexer.articles import load_articles
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.query import open_index
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    docs = corpus_docs(corpus)
    build_full(docs, work / "data")
    encoder = model_state(semantic).get()
    if encoder is not None:
        fill_vectors(current_index_dir(work / "data"), VectorStore(work / "data"), encoder)
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs)]
    return open_index(work / "data", cache_size=0, semantic=semantic), articles


def _text(article: dict) -> str:
    from indexer.analysis import normalize

    return normalize(" ".join(str(article.get(k) or "") for k in ("title", "summary", "body", "tags")))


def synonym_month(index, articles: list[dict], items: list[dict], db, rng: random.Random) -> dict:
    """Inject the patterns, mine, and score the proposals."""
    from analytics.synonyms import mine
    from indexer.clock import iso

    texts = {a["slug"]: _text(a) for a in articles}
    by_path = {a["path"]: a["slug"] for a in articles}

    def article_with(word: str) -> str | None:
        titled = sorted(s for s in texts if word in (next(a for a in articles if a["slug"] == s)["title"] or ""))
        holding = sorted(s for s in texts if word in texts[s])
        return (titled or holding or [None])[0]

    from indexer.analysis import expand_synonyms

    # Pairs whose customers' words some article uses, or that kb's synonym list already knows, are not injected.
    known = [(c, w) for c, w in MISMATCHES if w in expand_synonyms(c)]
    injected = [(c, w) for c, w in MISMATCHES if not any(c in t for t in texts.values()) and article_with(w)
                and (c, w) not in known]
    t = Traffic(seed=rng.randrange(1 << 30))
    for customer, word in injected:
        slug = article_with(word)
        for _ in range(rng.randint(3, 6)):
            before, after = rng.choice(TEMPLATES)
            t.reformulation(before.format(customer), after.format(word), slug)
    for a, b in COMMON_SWITCHES:
        slug = article_with(b)
        for _ in range(4):
            t.reformulation(a, b, slug)
    for gap in GAP_WORDS:
        for topic in SCATTER:
            for _ in range(2):
                t.reformulation(f"{gap}怎么弄", f"{topic}怎么弄", article_with(topic))
    for customer, word, kind in FAILED_KINDS:
        for _ in range(4):
            t.reformulation(f"{customer}怎么设置", f"{word}怎么设置", article_with(word), kept=False,
                            bounce=kind == "bounce", down_vote=kind == "down_vote")
    for word in ("审批", "工作流", "权限"):
        for _ in range(4):
            t.reformulation(word, f"{word} 常见问题", article_with(word))
    queries_by_article: dict[str, list[str]] = {}
    for item in items:
        best = next(p for p, g in item["relevant"].items() if g == 2)
        slug = by_path.get(best)
        if slug is None:
            continue
        queries_by_article.setdefault(slug, []).append(item["q"])
        for _ in range(3):
            t.visit(item["q"], slug, client=t.session())
    for slug, queries in queries_by_article.items():
        if len(queries) >= 2:
            t.reformulation(queries[0], queries[1], slug)
    t.write(db)
    start, end = iso(t.now - dt.timedelta(days=30)), iso(t.now + dt.timedelta(seconds=1))
    started = time.perf_counter()
    proposals = mine(db, {a["slug"]: a for a in articles}, start, end)
    took = time.perf_counter() - started
    proposed = {(p["customer"], p["article"]) for p in proposals}
    expected = set(injected)
    hits = proposed & expected
    return {"injected": len(expected), "known": known, "proposed": len(proposed), "correct": len(hits),
            "precision": len(hits) / len(proposed) if proposed else 1.0, "recall": len(hits) / len(expected),
            "missed": sorted(expected - proposed), "unexpected": sorted(proposed - expected), "mine_seconds": took,
            "events": {"searches": len(t.searches), "clicks": len(t.clicks), "votes": len(t.votes)}}


def _all_results(index, q: str) -> list[str]:
    """Every article the query finds (all pages): the rest it does not match at all."""
    out, page = [], 1
    while True:
        answer = index.search(q, limit=50, page=page)
        out += [r["slug"] for r in answer["results"]]
        if len(out) >= answer["total"] or not answer["results"] or page >= 100:
            return out
        page += 1


def rank_in_all(index, q: str, slug: str, boosts: dict) -> int | None:
    """slug's rank among everything the query finds (None: not found at all)."""
    page = 1
    while page <= 100:
        answer = index.search(q, limit=50, page=page, boosts=boosts)
        slugs = [r["slug"] for r in answer["results"]]
        if slug in slugs:
            return (page - 1) * 50 + slugs.index(slug) + 1
        if (page * 50) >= answer["total"] or not slugs:
            return None
        page += 1
    return None


def click_month(index, articles: list[dict], items: list[dict], db_factory, rng: random.Random) -> dict:
    """Right article ranked 2nd-5th: kept clicks of 5 clients; irrelevant ones: one client, bouncers, unmatched."""
    from analytics.clicks import click_weights, factor

    by_path = {a["path"]: a["slug"] for a in articles}
    cases = []
    for item in items:
        best = by_path.get(next(p for p, g in item["relevant"].items() if g == 2))
        ranked = [r["slug"] for r in index.search(item["q"], limit=50)["results"]]
        if best in ranked and 2 <= ranked.index(best) + 1 <= 5:
            labelled = {by_path.get(p) for p in item["relevant"]}
            below = [s for s in ranked[ranked.index(best) + 1 : 10] if s not in labelled]
            found = set(_all_results(index, item["q"]))
            unmatched = [a["slug"] for a in articles if a["slug"] not in found]
            cases.append({"q": item["q"], "best": best, "rank": ranked.index(best) + 1,
                          "irrelevant": below[0] if below else None, "unmatched": rng.choice(unmatched) if unmatched else None,
                          "before": ranked})

    def rank_after(db, case, slug, everywhere=False):
        weights = click_weights(db)
        from indexer.analysis import normalize

        boosts = {s: (factor(w), "clicks") for s, w in weights.get(normalize(case["q"]), {}).items()}
        if everywhere:
            return rank_in_all(index, case["q"], slug, boosts)
        ranked = [r["slug"] for r in index.search(case["q"], limit=50, boosts=boosts)["results"]]
        return ranked.index(slug) + 1 if slug in ranked else None

    out = {"cases": len(cases), "moved_up": 0, "to_first": 0, "rank_before": 0.0, "rank_after": 0.0,
           "one_client_moved": 0, "bouncers_moved": 0, "unmatched_appeared": 0, "irrelevant_cases": 0}
    for case in cases:
        db = db_factory()
        t = Traffic(seed=rng.randrange(1 << 30))
        for i in range(5):
            t.visit(case["q"], case["best"], client=f"good-{i}")
        t.write(db)
        after = rank_after(db, case, case["best"])
        out["rank_before"] += case["rank"]
        out["rank_after"] += after
        out["moved_up"] += after < case["rank"]
        out["to_first"] += after == 1
        db.conn.close()
        if case["irrelevant"]:
            out["irrelevant_cases"] += 1
            db = db_factory()
            t = Traffic(seed=rng.randrange(1 << 30))
            before = case["before"].index(case["irrelevant"]) + 1
            for _ in range(20):
                t.visit(case["q"], case["irrelevant"], client="one-client")
            t.write(db)
            out["one_client_moved"] += (rank_after(db, case, case["irrelevant"]) or 99) < before
            db.conn.close()
            db = db_factory()
            t = Traffic(seed=rng.randrange(1 << 30))
            for i in range(5):
                t.visit(case["q"], case["irrelevant"], client=f"bouncer-{i}", bounce=True)
            t.write(db)
            out["bouncers_moved"] += (rank_after(db, case, case["irrelevant"]) or 99) < before
            db.conn.close()
        if case["unmatched"]:
            db = db_factory()
            t = Traffic(seed=rng.randrange(1 << 30))
            for i in range(10):
                t.visit(case["q"], case["unmatched"], client=f"crafted-{i}")
            t.write(db)
            out["unmatched_appeared"] += rank_after(db, case, case["unmatched"], everywhere=True) is not None
            db.conn.close()
    if cases:
        out["rank_before"] /= len(cases)
        out["rank_after"] /= len(cases)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="nocobase-zh")
    parser.add_argument("--semantic-model", default="use", help="use (hybrid search, as served) or off (keywords)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from kbserver.db import open_db

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kb-km-"))
    index, articles = build(args.corpus, work, args.semantic_model)
    items = load_items(args.corpus, "queries")
    syn = synonym_month(index, articles, items, open_db(f"sqlite:///{work / 'synonyms.db'}"), rng)
    counter = iter(range(10**6))
    clicks = click_month(index, articles, items, lambda: open_db(f"sqlite:///{work / f'clicks-{next(counter)}.db'}"), rng)
    lines = [
        f"# km_signals on {args.corpus} ({len(articles)} articles, {len(items)} dev-set queries), "
        f"semantic={args.semantic_model}, seed={args.seed}, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"command: python tests/bench/km_signals.py --corpus {args.corpus} --semantic-model {args.semantic_model}",
        "",
        "learned synonyms (simulated month: "
        f"{syn['events']['searches']} searches, {syn['events']['clicks']} clicks, {syn['events']['votes']} votes)",
        f"  injected vocabulary mismatches: {syn['injected']}, proposed pairs: {syn['proposed']}, correct: {syn['correct']}",
        f"  precision {syn['precision']:.2f}  recall {syn['recall']:.2f}  (mining took {syn['mine_seconds']:.2f} s)",
        f"  missed: {syn['missed']}  (not injected, kb's synonym list already has them: {syn['known']})",
        f"  unexpected: {syn['unexpected']}",
        "",
        f"click re-ranking ({clicks['cases']} dev-set queries whose right article kb ranks 2nd-5th)",
        f"  5 clients click and keep the right article: moved up {clicks['moved_up']}/{clicks['cases']}, "
        f"to first {clicks['to_first']}/{clicks['cases']}, mean rank {clicks['rank_before']:.2f} → {clicks['rank_after']:.2f}",
        f"  an irrelevant article below it, 20 clicks from one client: moved up {clicks['one_client_moved']}/"
        f"{clicks['irrelevant_cases']}",
        f"  the same, 5 clients who bounce: moved up {clicks['bouncers_moved']}/{clicks['irrelevant_cases']}",
        f"  an unmatched article kept by 10 clients: in the results {clicks['unmatched_appeared']}/{clicks['cases']}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "km_signals.txt").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
