"""Chinese query clustering on the dev set's labelled queries: TF-IDF alone vs the multilingual model.

    python tests/bench/cluster_zh.py

The NocoBase (Chinese) corpus's customer queries, each labelled with the article that answers it
(its grade-2 article: the topic). Chinese and mixed queries are clustered as kb clusters failing
searches (analytics.gaps.cluster_texts, min size 1 so that every query is placed), once by their
words and characters (TF-IDF) and once with kb's multilingual model joined, at several thresholds;
NMI and ARI against the topics, and the share of topics whose queries end in one cluster with no other
topic's. Writes tests/bench/results/cluster_zh.txt.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from advice_threshold import open_corpus  # noqa: E402
from sklearn import metrics  # noqa: E402

from devset import load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "cluster_zh.txt"


def main() -> int:
    from analytics.gaps import THRESHOLD, ZH_EMBEDDING_THRESHOLD, cluster_texts
    from indexer.analysis import has_cjk

    work = Path(os.environ.get("KB_BENCH_WORK") or tempfile.mkdtemp(prefix="kb-advice-"))
    index = open_corpus("nocobase-zh", work)
    items = [(it["q"], it["relevant"]) for it in load_items("nocobase-zh")]
    items += [(it["subject"], it["relevant"]) for it in load_items("nocobase-zh", "tickets")]
    items = [(q, rel) for q, rel in items if has_cjk(q) and 2 in rel.values()]
    texts = [q for q, _ in items]
    labels = [next(p for p, g in rel.items() if g == 2) for _, rel in items]
    same = [(i, j) for i in range(len(texts)) for j in range(i) if labels[i] == labels[j]]
    lines = [f"nocobase-zh: {len(texts)} Chinese or mixed queries and ticket subjects, {len(set(labels))} topics, "
             f"{len(same)} pairs of one topic"]
    runs = [("tf-idf", t, None) for t in (0.75, 0.8, 0.85, 0.9)]
    runs += [("model+tf-idf", t, index.embed) for t in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)]
    for name, threshold, embed in runs:
        found = cluster_texts(texts, threshold=threshold, min_size=1, embed=embed, model_threshold=threshold).labels
        clusters = {}
        for label, c in zip(labels, found, strict=True):
            clusters.setdefault(c, set()).add(label)
        pure = sum(1 for members in clusters.values() if len(members) == 1)
        together = sum(1 for i, j in same if found[i] == found[j])
        wrong = sum(1 for i in range(len(texts)) for j in range(i) if found[i] == found[j] and labels[i] != labels[j])
        lines.append(f"{name} {threshold:.2f}: NMI {metrics.normalized_mutual_info_score(labels, found):.3f}, "
                     f"ARI {metrics.adjusted_rand_score(labels, found):.3f}, {len(clusters)} clusters "
                     f"({pure} with one topic only); same-topic pairs together {together}/{len(same)}, "
                     f"different-topic pairs together {wrong}")
    lines.append(f"kb uses tf-idf {THRESHOLD} without the model, model+tf-idf {ZH_EMBEDDING_THRESHOLD} with it")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
