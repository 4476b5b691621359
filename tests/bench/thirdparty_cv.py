"""Cross-validation of the Chinese ranking weights on the third-party dev set: do they generalize?

    python tests/bench/thirdparty_cv.py [--splits 20] [--work DIR]

Sweeps CHINESE_BODY_WEIGHT x CHINESE_LEXICAL_WEIGHT (indexer/query.py) over every query of the dev
set's corpora (one index per corpus, passage vectors cached in --work as thirdparty.py does) and keeps
each query's nDCG@10. Then, for --splits random halvings of every corpus's queries (stratified by
style), picks the best setting on one half (mean nDCG@10 over the corpora; a setting that drops any
corpus more than 0.01 below the old weights on that half is out) and scores it on the other half, both
ways round. Prints the grid, which settings were picked, and the held-out gain over the old weights
(1.0 / 0.1) per corpus and per style; writes ``tests/bench/results/thirdparty_cv.txt``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from devset import CORPORA, corpus_docs, dev_set_dir, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
BODY = (1.0, 3.0, 4.0, 5.0)
LEXICAL = (0.1, 0.2, 0.3, 0.4)
OLD = (1.0, 0.1)
DROP = 0.01


def per_query_ndcg(work: Path) -> dict[tuple[float, float], dict[str, dict[str, float]]]:
    """{(body weight, lexical weight): {corpus: {query: nDCG@10}}} over the whole grid."""
    import indexer.query as query
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    sys.path.insert(0, str(dev_set_dir()))
    import score

    encoder = model_state("use").get()
    indexes = {}
    for name in CORPORA:
        build_full(corpus_docs(name), work / name)
        if encoder is not None:
            fill_vectors(current_index_dir(work / name), VectorStore(work / name), encoder)
        indexes[name] = query.open_index(work / name, cache_size=0)
    saved = query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT
    grid = {}
    try:
        for body, lexical in itertools.product(BODY, LEXICAL):
            query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT = body, lexical
            grid[(body, lexical)] = {}
            for name in CORPORA:
                found = {}
                for item in load_items(name):
                    ranked = [r["path"] for r in indexes[name].search(item["q"], limit=10)["results"]]
                    found[item["q"]] = score.evaluate([item], {item["q"]: ranked})["overall"]["ndcg@10"]
                grid[(body, lexical)][name] = found
    finally:
        query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT = saved
    return grid


def cross_validate(grid, splits: int) -> tuple[Counter, dict]:
    """Settings picked on one half and their held-out gain over OLD: (picks, {corpus or style: [gains]})."""
    items = {name: load_items(name) for name in CORPORA}
    style = {(name, it["q"]): it["style"] for name in CORPORA for it in items[name]}

    def mean(setting, name, queries):
        return statistics.fmean(grid[setting][name][q] for q in queries)

    def objective(setting, half):
        if any(mean(setting, n, half[n]) < mean(OLD, n, half[n]) - DROP for n in CORPORA):
            return -1.0
        return statistics.fmean(mean(setting, n, half[n]) for n in CORPORA)

    picks, gains = Counter(), {}
    for seed in range(splits):
        rnd = random.Random(seed)
        a, b = {}, {}
        for name in CORPORA:
            by_style = {}
            for it in items[name]:
                by_style.setdefault(it["style"], []).append(it["q"])
            a[name], b[name] = [], []
            for queries in by_style.values():
                rnd.shuffle(queries)
                half = len(queries) // 2 + rnd.randint(0, len(queries) % 2)
                a[name] += queries[:half]
                b[name] += queries[half:]
        for tune, check in ((a, b), (b, a)):
            best = max(grid, key=lambda s, tune=tune: objective(s, tune))
            picks[best] += 1
            for name in CORPORA:
                gains.setdefault(name, []).append(mean(best, name, check[name]) - mean(OLD, name, check[name]))
                by_style = {}
                for q in check[name]:
                    by_style.setdefault(style[(name, q)], []).append(q)
                for s, queries in by_style.items():
                    gains.setdefault(f"{name} {s}", []).append(mean(best, name, queries) - mean(OLD, name, queries))
    return picks, gains


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=20, help="random halvings (each used both ways round)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "kb-thirdparty"), help="indexes and vector caches")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    grid = per_query_ndcg(Path(args.work))
    picks, gains = cross_validate(grid, args.splits)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"python tests/bench/thirdparty_cv.py --splits {args.splits}  ({stamp}, {time.perf_counter() - started:.0f} s)",
             "", "nDCG@10 over all queries: CHINESE_BODY_WEIGHT | CHINESE_LEXICAL_WEIGHT -> " + " / ".join(CORPORA)]
    for setting, found in grid.items():
        lines.append(f"  {setting[0]:.0f} | {setting[1]:.1f} -> "
                     + " / ".join(f"{statistics.fmean(found[n].values()):.3f}" for n in CORPORA))
    lines += ["", f"picked on one half ({2 * args.splits} folds): "
              + ", ".join(f"{b:.0f}|{lw:.1f} x{k}" for (b, lw), k in picks.most_common()), "",
              f"held-out nDCG@10 gain over the old weights ({OLD[0]:.0f}|{OLD[1]:.1f}): mean [min, max]"]
    for key, values in gains.items():
        lines.append(f"  {key:<26} {statistics.fmean(values):+.3f} [{min(values):+.3f}, {max(values):+.3f}]")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "thirdparty_cv.txt").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
