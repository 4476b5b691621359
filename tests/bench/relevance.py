"""Score search quality on tests/data/relevance*.yml: MRR@10, nDCG@10 and recall@3.

    python tests/bench/relevance.py [--docs docs] [--show-misses]

Builds a fresh index of the docs folder (passage vectors are cached in --work between runs), runs
every query (result cache off) and prints the metrics for the tuning set (relevance.yml, which synonyms were tuned against) and
the held-out set (relevance_holdout.yml, never tuned against); also writes tests/bench/results/relevance.txt.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from indexer.build import build_full, current_index_dir  # noqa: E402
from indexer.dense import fill_vectors  # noqa: E402
from indexer.query import open_index  # noqa: E402
from indexer.semantic import model_state  # noqa: E402
from indexer.vectors import VectorStore  # noqa: E402

SETS = {"tuning": ROOT / "tests" / "data" / "relevance.yml", "holdout": ROOT / "tests" / "data" / "relevance_holdout.yml"}
RESULTS = ROOT / "tests" / "bench" / "results" / "relevance.txt"


def load_cases(path: Path = SETS["tuning"]) -> list[dict]:
    """The (query, slug) cases of the relevance set."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def evaluate(docs: Path, cases: list[dict], data_dir: Path, semantic: str = "use") -> dict:
    """Metrics over cases, plus the misses (expected article not first) for inspection."""
    build_full(docs, data_dir)
    encoder = model_state(semantic).get()
    if encoder is not None:
        fill_vectors(current_index_dir(data_dir), VectorStore(data_dir), encoder)
    index = open_index(data_dir, cache_size=0, semantic=semantic)
    rr, ndcg, hit3, misses = [], [], [], []
    for case in cases:
        slugs = [r["slug"] for r in index.search(case["query"], limit=10)["results"]]
        rank = slugs.index(case["slug"]) + 1 if case["slug"] in slugs else None
        rr.append(1 / rank if rank else 0.0)
        ndcg.append(1 / math.log2(rank + 1) if rank else 0.0)  # one relevant article: ideal DCG is 1
        hit3.append(1.0 if rank and rank <= 3 else 0.0)
        if rank != 1:
            misses.append({"query": case["query"], "expected": case["slug"], "rank": rank, "got": slugs[:3]})
    n = len(cases)
    return {"queries": n, "mrr@10": sum(rr) / n, "ndcg@10": sum(ndcg) / n, "recall@3": sum(hit3) / n,
            "misses": misses}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default=str(ROOT / "docs"))
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--semantic-model", default="use", help="sentence-embedding model (use, off)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "kb-relevance"),
                        help="folder for the index and its vector cache, kept between runs")
    args = parser.parse_args(argv)
    lines = []
    for name, path in SETS.items():
        result = evaluate(Path(args.docs), load_cases(path), Path(args.work), args.semantic_model)
        lines.append(f"{name:<8} queries {result['queries']:>3}  MRR@10 {result['mrr@10']:.3f}  "
                     f"nDCG@10 {result['ndcg@10']:.3f}  recall@3 {result['recall@3']:.3f}")
        print(lines[-1])
        if args.show_misses:
            for m in result["misses"]:
                print(f"  rank {m['rank']}: {m['query']!r} expected {m['expected']} got {m['got']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
