"""Score kb's query clustering against labelled real queries (Banking77: 3,080 customer-support
queries in 77 intents), the way `kb cluster FILE` clusters an export.

    python tests/bench/cluster_quality.py [--threshold 0.85] [--min-size 3]

Prints NMI, ARI, homogeneity, completeness, clusters found and the share left unclustered, and writes
them to tests/bench/results/cluster_quality.txt. Reads the dataset from ../shared/datasets at run time.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sklearn import metrics  # noqa: E402

from analytics.gaps import EMBEDDING_THRESHOLD, MIN_SIZE, THRESHOLD, cluster_texts, dedupe, near_identical_key  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "banking77" / "test.csv"
TRAIN = DATASET.with_name("train.csv")
RESULTS = ROOT / "tests" / "bench" / "results" / "cluster_quality.txt"


def score(texts: list[str], labels: list[str], threshold: float, min_size: int) -> dict:
    """Cluster texts without labels, then compare with the labels (noise counted as its own group)."""
    distinct, counts, position = dedupe(texts)
    result = cluster_texts(distinct, counts, threshold=threshold, min_size=min_size)
    assigned = [result.labels[position[near_identical_key(t) or t.strip()]] for t in texts]
    clustered = [i for i, a in enumerate(assigned) if a >= 0]
    return {
        "queries": len(texts), "intents": len(set(labels)), "clusters": len(result.cluster_ids),
        "unclustered": 1 - len(clustered) / len(texts),
        # On clustered queries only (noise is "not sure", not a wrong cluster) ...
        "nmi": metrics.normalized_mutual_info_score([labels[i] for i in clustered], [assigned[i] for i in clustered]),
        "ari": metrics.adjusted_rand_score([labels[i] for i in clustered], [assigned[i] for i in clustered]),
        "homogeneity": metrics.homogeneity_score([labels[i] for i in clustered], [assigned[i] for i in clustered]),
        # ... and over everything, each unclustered query a singleton.
        "nmi_all": metrics.normalized_mutual_info_score(labels, [a if a >= 0 else -(i + 1)
                                                                 for i, a in enumerate(assigned)]),
    }


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def scale_run(n: int) -> str:
    """Cluster n queries (train set; beyond it, sampled with repeats from all 13,083) in this process."""
    import random

    from analyze_scale import peak_mb  # the same VmHWM reading as the analysis benchmark

    rows = _rows(TRAIN) if n <= 10_003 else _rows(TRAIN) + _rows(DATASET)
    rng = random.Random(n)
    picked = rows[:n] if n <= len(rows) else [rng.choice(rows) for _ in range(n)]
    started = time.perf_counter()
    s = score([r["text"] for r in picked], [r["category"] for r in picked], None, 3)
    return (f"{n:,} queries ({'train set' if n <= 10_003 else 'sampled with repeats'}): {s['clusters']} clusters, "
            f"{s['unclustered']:.0%} unclustered, NMI {s['nmi_all']:.3f}, ARI {s['ari']:.3f}; "
            f"{time.perf_counter() - started:.0f}s, peak {peak_mb():.0f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"override both distance thresholds (default: {EMBEDDING_THRESHOLD} English, {THRESHOLD} Chinese)")
    parser.add_argument("--min-size", type=int, default=MIN_SIZE)
    parser.add_argument("--scale", action="store_true", help="also time 10,000 and 100,000 queries (slow)")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_one:
        print(scale_run(args.scale_one))
        return 0
    if not DATASET.exists():
        print(f"dataset not found: {DATASET}", file=sys.stderr)
        return 1
    with DATASET.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    started = time.perf_counter()
    s = score([r["text"] for r in rows], [r["category"] for r in rows], args.threshold, args.min_size)
    line = (f"banking77 test: {s['queries']} queries, {s['intents']} intents → {s['clusters']} clusters, "
            f"{s['unclustered']:.0%} unclustered; clustered: NMI {s['nmi']:.3f}, ARI {s['ari']:.3f}, "
            f"homogeneity {s['homogeneity']:.3f}; all (noise as singletons): NMI {s['nmi_all']:.3f}; "
            f"{time.perf_counter() - started:.1f}s (threshold {args.threshold or 'default'}, min size {args.min_size})")
    print(line)
    lines = [line]
    if args.scale:
        import subprocess

        for n in (10_000, 100_000):  # each in a fresh process, so peak memory is its own
            out = subprocess.run([sys.executable, __file__, "--scale-one", str(n)], capture_output=True, text=True,
                                 check=True).stdout.strip()
            print(out)
            lines.append(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
