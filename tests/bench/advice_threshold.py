"""Calibrate when an article "answers" a query (gap advice: improve it, or write a new one) on the
third-party dev set, never on our own starter docs.

    python tests/bench/advice_threshold.py

For every dev-set query, a positive is its grade-2 article and a negative is the article kb's search
would put first if the query's labelled articles did not exist (the first result that is not
labelled): that is exactly the choice the advice faces for a topic no article covers. The score is
the cosine between the query and the article's most similar passage (the multilingual model).
Prints the accuracy of each threshold and writes tests/bench/results/advice_threshold.txt.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from devset import corpus_docs, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "advice_threshold.txt"


def pairs(name: str, work: Path) -> tuple[list[float], list[float]]:
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.query import open_index
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    data = work / name
    build_full(corpus_docs(name), data)
    fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    index = open_index(data, cache_size=0)
    by_path = {}
    positives, negatives = [], []
    for item in load_items(name):
        results = index.search(item["q"], limit=20)["results"]
        by_path.update({r["path"]: r["slug"] for r in results})
        relevant = item["relevant"]
        best = next((p for p, g in relevant.items() if g == 2), None)
        slug = by_path.get(best)
        if slug is None:
            hit = index.search(item["q"], limit=50)["results"]
            by_path.update({r["path"]: r["slug"] for r in hit})
            slug = by_path.get(best)
        other = next((r["slug"] for r in results if r["path"] not in relevant), None)
        sims = index.passage_similarity(item["q"], [s for s in (slug, other) if s])
        if slug in sims:
            positives.append(sims[slug])
        if other in sims:
            negatives.append(sims[other])
    return positives, negatives


def main() -> int:
    lines = []
    pos, neg = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("nocobase-zh", "plane-en"):
            p, n = pairs(name, Path(tmp))
            pos += p
            neg += n
            lines.append(f"{name}: {len(p)} answering articles (median cosine {sorted(p)[len(p) // 2]:.3f}), "
                         f"{len(n)} best non-answers (median {sorted(n)[len(n) // 2]:.3f})")
    best = None
    for t in [x / 100 for x in range(20, 71, 2)]:
        tp = sum(1 for v in pos if v >= t)
        tn = sum(1 for v in neg if v < t)
        acc = (tp + tn) / (len(pos) + len(neg))
        lines.append(f"threshold {t:.2f}: answers kept {tp / len(pos):.2f}, non-answers refused {tn / len(neg):.2f}, "
                     f"accuracy {acc:.3f}")
        if best is None or acc > best[1]:
            best = (t, acc)
    lines.append(f"best threshold {best[0]:.2f} (accuracy {best[1]:.3f})")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
