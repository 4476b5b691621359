"""What the Chinese ranking weights cost per search: the same queries with and without them, interleaved.

    python tests/bench/chinese_weights_latency.py [--articles 10000] [--queries 1000] [--work DIR]

Generates benchmark.py's corpus (kept in --work with its passage vectors between runs, embedding 10,000
articles takes minutes), embeds every query once (so only ranking is compared), then runs each query
with the old weights (CHINESE_BODY_WEIGHT 1, CHINESE_LEXICAL_WEIGHT = LEXICAL_WEIGHT) and the current
ones, alternating which goes first, and reports CPU time per search (process time: on a shared machine
wall-clock time mostly measures the neighbours). Writes tests/bench/results/chinese_weights_latency.txt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import benchmark  # noqa: E402
import indexer.query as query  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "chinese_weights_latency.txt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "kb-chinese-weights"))
    args = parser.parse_args(argv)
    docs, data = Path(args.work) / "docs", Path(args.work) / "data"
    if not docs.exists():
        benchmark.generate_corpus(docs, args.articles)
    benchmark.build_full(docs, data)
    benchmark.fill_vectors(benchmark.current_index_dir(data), benchmark.VectorStore(data),
                           benchmark.model_state("use").get())
    index = query.open_index(data)
    index.warm()
    distinct, _ = benchmark.query_streams(args.queries)
    for text in distinct:
        index._query_vector(query.normalize(text))
    old = (1.0, query.LEXICAL_WEIGHT)
    new = (query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT)
    times = {old: [], new: []}
    try:
        for round_ in range(2):
            for text in distinct:
                for weights in (old, new) if round_ == 0 else (new, old):
                    query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT = weights
                    started = time.process_time()
                    index.search(text, limit=10, cache=False)
                    times[weights].append((time.process_time() - started) * 1000)
    finally:
        query.CHINESE_BODY_WEIGHT, query.CHINESE_LEXICAL_WEIGHT = new
    diff = [b - a for a, b in zip(times[old], times[new], strict=True)]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"python tests/bench/chinese_weights_latency.py --articles {args.articles}  ({stamp})",
             f"CPU ms per search, {len(times[old])} searches each (queries embedded beforehand):",
             f"  old weights {old}: p50 {statistics.median(times[old]):.2f}  mean {statistics.fmean(times[old]):.2f}",
             f"  Chinese weights {new}: p50 {statistics.median(times[new]):.2f}  mean {statistics.fmean(times[new]):.2f}",
             f"  per-query difference: median {statistics.median(diff):+.3f}  mean {statistics.fmean(diff):+.3f}"]
    print("\n".join(lines))
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
