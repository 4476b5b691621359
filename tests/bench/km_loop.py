"""The knowledge manager's loop on a simulated month over a third-party corpus (the dev set's NocoBase docs).

    python tests/bench/km_loop.py [--days 30] [--after-days 14] [--sessions 60] [--seed 11 12]

1. Copies the NocoBase handbook into a work folder, leaving out two articles (their topics become
   uncovered, beside three topics no help center of this product covers: offline use, contracts, OKR),
   and marks one article overdue for review.
2. Injects covered-but-unfindable topics: three articles asked about in the dev set's own customer
   queries, with the query words the article lacks; an article readers vote down; one they bounce from.
3. Simulates a month (`kb simulate --scenario`), runs `kb analyze`, and scores the gaps and flags
   against what was injected: recall, precision and the share with the right action (write for an
   uncovered topic, improve the right article for an unfindable one), per gap and per topic.
4. Applies the advice as a knowledge manager would, through kb's editor library (contrib/editing.py,
   what the edit API calls): a new article for a write gap (its readers' queries as the draft), the
   readers' queries and missing words into the article of an improve gap, an addition to the voted-down
   article, 标记已审核 for the overdue one. Each edit names its flag, so the editor links the fix
   (`link_fix`); the index is updated incrementally, then two more weeks are simulated and the analysis
   verifies the fixes: before/after failure rates.

Prints the figures and writes tests/bench/results/km_loop.txt. KB_BENCH_WORK keeps the work folder
(vectors are cached by content hash, so a second run embeds only what changed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from devset import corpus_docs, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "km_loop.txt"
CORPUS = "nocobase-zh"
# The month ends now: the editor links a fix at the real time of the edit, as in production.
T1 = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
GENERIC_UNCOVERED = ("offline", "contracts", "okr")


def words_of(texts: list[str]) -> Counter:
    from analytics.gaps import words

    counts = Counter()
    for t in texts:
        for w in set(words(t)):
            if len(w) >= 2:
                counts[w] += 1
    return counts


def text_of(article: dict) -> str:
    return " ".join([article.get("title", ""), article.get("summary", ""), article.get("body", "")]).lower()


def speaks(article: dict, topic_words: list[str]) -> bool:
    text = text_of(article)
    return sum(1 for w in topic_words if w.lower() in text) * 2 >= len(topic_words)


def build_scenario(docs: Path, rng: random.Random) -> tuple[dict, list[str], str]:
    """Pick the injected problems from the corpus and the dev set's queries; returns (scenario, held out, overdue)."""
    from analytics.simulate import GAP_TOPICS
    from indexer.articles import load_articles

    articles = {a.path: a.to_dict() | {"body": a.body} for a in load_articles(docs)}
    by_answer = defaultdict(list)
    for item in load_items(CORPUS):
        best = next(p for p, g in item["relevant"].items() if g == 2)
        if best in articles:
            by_answer[best].append(item["q"])
    only = defaultdict(lambda: True)  # articles whose queries the dev set labels no other article useful for
    for item in load_items(CORPUS):
        best = next(p for p, g in item["relevant"].items() if g == 2)
        only[best] = only[best] and len(item["relevant"]) == 1
    candidates = sorted(p for p, qs in by_answer.items() if len(qs) >= 2)
    rng.shuffle(candidates)
    scenario = {"uncovered": {}, "unfindable": {}}
    held_out = []
    for path in candidates:  # two topics whose article is left out, and nothing else says the same
        if len(held_out) == 2:
            break
        if not only[path]:
            continue
        queries = by_answer[path]  # the dev set's customer queries (a title such as 使用手册 is no query)
        df = Counter(w for a in articles.values() if a["path"] != path for w in set(words_of([text_of(a)])))
        counts = words_of(queries)
        topic_words = sorted(counts, key=lambda w: (-counts[w] / (1 + df[w]), w))[:3]
        if any(speaks(a, topic_words) for p, a in articles.items() if p != path):
            continue
        held_out.append(path)
        scenario["uncovered"][f"held-out:{articles[path]['slug']}"] = {"queries": queries, "words": topic_words}
    df_all = Counter(w for a in articles.values() for w in set(words_of([text_of(a)])))
    for name in GENERIC_UNCOVERED:
        queries = GAP_TOPICS[name]
        counts = words_of(queries)
        topic_words = sorted([w for w, _ in counts.most_common(6)], key=lambda w: (df_all[w], -counts[w], w))[:2]
        if not any(speaks(a, topic_words) for a in articles.values()):
            scenario["uncovered"][name] = {"queries": queries, "words": topic_words}
    used = set(held_out)
    texts = [text_of(a) for a in articles.values()]
    for path in candidates:  # three articles asked about in words they lack
        if len(scenario["unfindable"]) == 3:
            break
        if path in used:
            continue
        article = articles[path]
        lacking = {}
        for q in by_answer[path]:  # per query, its words no article contains (the docs never say them)
            # as the simulated reader judges an answer (analytics.simulate._speaks): the word anywhere in the
            # text, not only as a jieba word (公司 inside 分公司 lets the reader succeed: nothing is injected)
            words = sorted(w for w in words_of([q]) if not any(w in t for t in texts))[:2]
            if words:  # a query in the docs' own words is answered: it is no unfindable reader
                lacking[q] = words
        if not lacking:
            continue
        used.add(path)
        scenario["unfindable"][f"unfindable:{article['slug']}"] = {
            "slug": article["slug"], "queries": list(lacking), "words": lacking}
    rest = [p for p in sorted(articles) if p not in used]
    # the simulated readers of the voted-down and bounced articles search their title: one that sixteen
    # articles share (概述) is never found, so nobody could vote on it and nothing would be injected
    titles = Counter(a["title"] for a in articles.values())
    findable = [p for p in rest if titles[articles[p]["title"]] == 1]
    voted, bounce, overdue = findable[len(findable) // 3], findable[len(findable) // 2], rest[2 * len(rest) // 3]
    scenario["voted_down"] = articles[voted]["slug"]
    scenario["voted_down_hash"] = articles[voted]["content_hash"]
    scenario["bounce"] = articles[bounce]["slug"]
    return scenario, held_out, overdue


def set_review(path: Path, reviewed: str, every: int = 90) -> None:
    text = path.read_text(encoding="utf-8")
    block = f"reviewed: {reviewed}\nreview_every: {every}\n"
    if text.startswith("---\n"):
        head, sep, body = text[4:].partition("\n---")
        lines = [line for line in head.splitlines() if not line.startswith(("reviewed:", "review_every:"))]
        text = "---\n" + "\n".join(lines) + ("\n" if lines else "") + block + "---" + body
    else:
        text = "---\n" + block + "---\n\n" + text
    path.write_text(text, encoding="utf-8")


def load(docs: Path) -> list[dict]:
    from indexer.articles import load_articles

    return [a.to_dict() | {"body": a.body} for a in load_articles(docs)]


def reindex(docs: Path, data: Path, full: bool = False):
    from indexer.build import build_full, current_index_dir, update_incremental
    from indexer.dense import fill_vectors
    from indexer.query import open_index
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    (build_full if full else update_incremental)(docs, data)
    fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    return open_index(data, cache_size=0)


def score(report, scenario: dict, overdue_slug: str) -> dict:
    """Gap and flag recall, precision and right action against the injected truth."""
    from analytics.gaps import near_identical_key

    topics = {}
    for name, t in scenario["uncovered"].items():
        topics[name] = ("write", None, {near_identical_key(q) for q in t["queries"]})
    for name, t in scenario["unfindable"].items():
        topics[name] = ("improve", t["slug"], {near_identical_key(q) for q in t["queries"]})
    matched = defaultdict(list)
    false_gaps, flag_gaps = [], []
    flagged_articles = {scenario["voted_down"], scenario["bounce"]}
    for g in report.gaps:
        keys = {near_identical_key(q) for q in g.queries}
        best = max(topics, key=lambda n: (len(topics[n][2] & keys), n))
        if topics[best][2] & keys:
            matched[best].append(g)
        elif g.action == "improve" and g.nearest_slug in flagged_articles:
            flag_gaps.append(g)  # the voted-down or bounced article's readers, seen as a gap on it: right
        else:
            false_gaps.append(g)

    def right(name, g):
        action, slug, _ = topics[name]
        return g.action == action and (action == "write" or g.nearest_slug == slug)

    gap_hits = [g for gs in matched.values() for g in gs]
    per_gap = sum(1 for n, gs in matched.items() for g in gs if right(n, g))
    per_topic = sum(1 for n, gs in matched.items() if all(right(n, g) for g in gs))
    expected_flags = {(scenario["voted_down"], "low_helpfulness"), (scenario["bounce"], "bounce"),
                      (overdue_slug, "review_overdue")}
    improve_targets = {t["slug"] for t in scenario["unfindable"].values()}
    flagged = {(f.slug, f.reason) for f in report.article_flags}
    # a flag on an injected problem's article, for another of its symptoms, is right too (the voted-down
    # article is also near its readers' gap; an unfindable topic's article is voted down by its readers)
    injected_articles = {slug for slug, _ in expected_flags} | improve_targets
    true_flags = [f for f in report.article_flags if f.slug in injected_articles]
    found_flags = {e for e in expected_flags if e in flagged}
    return {
        "topics": len(topics), "topics_found": len(matched), "gaps": len(report.gaps), "gaps_matched": len(gap_hits),
        "gap_recall": len(matched) / len(topics),
        "gap_precision": (len(gap_hits) + len(flag_gaps)) / max(1, len(report.gaps)),
        "right_per_gap": per_gap / max(1, len(gap_hits)), "right_per_topic": per_topic / max(1, len(matched)),
        "flags_expected": len(expected_flags), "flags_found": len(found_flags), "flags": len(report.article_flags),
        "flag_recall": len(found_flags) / len(expected_flags),
        "flag_precision": len(true_flags) / max(1, len(report.article_flags)),
        "recall": (len(matched) + len(found_flags)) / (len(topics) + len(expected_flags)),
        "precision": (len(gap_hits) + len(flag_gaps) + len(true_flags)) / max(1, len(report.gaps) + len(report.article_flags)),
        "false_gaps": [g.label for g in false_gaps],
        "false_flags": sorted(f"{f.slug}:{f.reason}" for f in report.article_flags if f not in true_flags),
        "wrong": [f"{n}: {g.action} {g.nearest_slug}" for n, gs in matched.items() for g in gs if not right(n, g)],
        "missed": sorted(set(topics) - set(matched)) + sorted(f"{s}:{r}" for s, r in expected_flags - found_flags),
    }


def apply_fixes(db, docs: Path, data: Path, articles: list[dict], now: dt.datetime) -> list[str]:
    """Do what the queue says, as a knowledge manager would in kb's editor (contrib/editing.py): each edit
    names the flag it started from, so the editor links the fix (analytics.closure.link_fix)."""
    from analytics import closure
    from analytics import flags as queue
    from contrib import editing

    by_slug = {a["slug"]: a for a in articles}
    done = []
    for n, flag in enumerate(queue.list_flags(db)):
        e = flag["evidence"]
        queries = list(e.get("queries") or e.get("examples") or [])
        if flag["kind"] == "gap" and flag["reason"] == "write":
            body = f"# {e['representative']}\n\n## 读者的问题\n\n" + "\n".join(f"- {q}" for q in queries[:20]) + "\n"
            saved = editing.new_article(docs, db, data, {"title": e["representative"]}, body, "km-loop",
                                        slug=f"kb-fixes/gap-{n}", flag_id=flag["id"])
        elif flag["kind"] == "gap" or flag["reason"] in ("low_helpfulness", "bounce", "near_gap", "failing_surge"):
            slug = flag["slug"] or e.get("nearest_slug")
            if slug not in by_slug:
                continue
            article = editing.read_article(docs, slug)
            extra = queries + list(e.get("missing_words") or [])
            addition = "\n\n## 常见问题\n\n" + ("\n".join(f"- {q}" for q in extra[:20]) or "- 补充了读者遇到的情况。") + "\n"
            saved = editing.save_article(docs, db, data, slug, article["fields"], article["body"] + addition,
                                         article["hash"], "km-loop", flag_id=flag["id"])
        elif flag["reason"] == "review_overdue":
            saved = editing.mark_reviewed(docs, db, data, flag["slug"], "km-loop", today=now.date())
            closure.link_fix(db, flag["id"], flag["slug"], "km-loop", now=now)  # 标记已审核 starts from no flag
        else:
            continue
        done.append(f"#{flag['id']} {flag['kind']}/{flag['reason']} → {saved['slug']}")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--after-days", type=int, default=14)
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seed", type=int, nargs="+", default=[11, 12],
                        help="one run per seed (each its own injected topics); all go into the results file")
    args = parser.parse_args(argv)
    texts = []
    for seed in args.seed:
        texts.append(run(args, seed))
        print(texts[-1], end="", flush=True)
    RESULTS.write_text("\n".join(texts), encoding="utf-8")
    return 0


def run(args, seed: int) -> str:
    """One simulated month, its fixes and two more weeks, for one seed: the report's text."""
    from analytics import closure
    from analytics.analyze import analyze
    from analytics.simulate import simulate
    from kbserver.db import open_db

    work = Path(os.environ.get("KB_BENCH_WORK") or tempfile.mkdtemp(prefix="kb-km-loop-")) / "km_loop"
    docs, data = work / "docs", work / "data"
    if docs.exists():
        shutil.rmtree(docs)
    for stale in data.glob("kb.db*") if data.exists() else []:
        stale.unlink()
    shutil.copytree(corpus_docs(CORPUS), docs)
    rng = random.Random(seed)
    scenario, held_out, overdue_path = build_scenario(docs, rng)
    for path in held_out:
        (docs / path).unlink()
    set_review(docs / overdue_path, (T1 - dt.timedelta(days=200)).date().isoformat())
    articles = load(docs)
    overdue_slug = next(a["slug"] for a in articles if a["path"] == overdue_path)
    index = reindex(docs, data, full=True)
    db = open_db(f"sqlite:///{data}/kb.db")
    simulate(db, index, articles, days=args.days, sessions_per_day=args.sessions, seed=seed, end=T1,
             scenario=scenario)
    report = analyze(db, articles, now=T1, index=index)
    month = score(report, scenario, overdue_slug)

    fixes = apply_fixes(db, docs, data, articles, T1)
    articles = load(docs)
    index = reindex(docs, data)
    t2 = T1 + dt.timedelta(days=args.after_days)
    simulate(db, index, articles, days=args.after_days, sessions_per_day=args.sessions, seed=seed + 1, end=t2,
             scenario=scenario)
    # judged an hour after the last simulated search: the fixes were linked at the edit's real time, a little
    # after the month's end, and are due 14 days after that
    after = analyze(db, articles, now=t2 + dt.timedelta(hours=1), index=index)
    verified = closure.list_fixes(db, limit=1000)

    lines = [f"kb's knowledge-manager loop on {CORPUS} ({len(articles)} articles; {args.days} days × {args.sessions} "
             f"sessions/day, then {args.after_days} days after the fixes; seed {seed})",
             f"injected: {len(scenario['uncovered'])} uncovered topics ({', '.join(scenario['uncovered'])}), "
             f"{len(scenario['unfindable'])} unfindable ({', '.join(t['slug'] for t in scenario['unfindable'].values())}), "
             f"voted down {scenario['voted_down']}, bounce {scenario['bounce']}, overdue {overdue_slug}",
             "",
             f"month 1: {month['gaps']} gaps, {month['flags']} article flags",
             f"  recall {month['recall']:.2f} (gaps {month['topics_found']}/{month['topics']}, flags "
             f"{month['flags_found']}/{month['flags_expected']}), precision {month['precision']:.2f} "
             f"(gaps {month['gap_precision']:.2f}, flags {month['flag_precision']:.2f})",
             f"  right action: per gap {month['right_per_gap']:.2f}, per topic {month['right_per_topic']:.2f}",
             f"  missed: {month['missed'] or 'none'}; wrong action: {month['wrong'] or 'none'}",
             f"  gaps not injected: {month['false_gaps'] or 'none'}; flags not injected: {month['false_flags'] or 'none'}",
             "", f"fixes applied and linked: {len(fixes)}"]
    lines += [f"  {f}" for f in fixes]
    lines += ["", f"after {args.after_days} days: {after.fixes}"]
    for fix in verified:
        lines.append(f"  #{fix['flag_id']} {fix['slug']}: {fix['status']}")
    judged = [f for f in verified if f["state"] != "measuring" and f["before_searches"]]
    if judged:
        before = sum(f["before_failed"] for f in judged) / max(1, sum(f["before_searches"] for f in judged))
        after_rate = sum(f["after_failed"] for f in judged) / max(1, sum(f["after_searches"] for f in judged))
        lines.append(f"  failure rate of the fixed flags' searches: {before:.0%} → {after_rate:.0%} "
                     f"({sum(1 for f in judged if f['state'] == 'verified')} verified, "
                     f"{sum(1 for f in judged if f['state'] == 'ineffective')} reopened)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
