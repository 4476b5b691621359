"""How well search says "no good match": false alarms on answerable queries, catches on unanswerable ones.

    python tests/bench/weak_match.py [--corpus nocobase-zh] [--semantic off]

For each corpus of the third-party dev set (``../shared/datasets/relevance`` or KB_DEV_SET) and for
kb's starter docs: builds an index in a temporary folder (passage vectors cached between runs), runs
the answerable queries (the dev set's ``queries.yml``; ``tests/data/relevance*.yml`` for the starter
docs) and our unanswerable ones (``tests/data/unanswerable.yml``: topics no article of that corpus
covers), and counts how many the search calls weak (``no_good_match``). A false alarm is an
answerable query called weak; a catch is an unanswerable one called weak. Prints the rates of the
rule in ``indexer/query.py`` (WEAK_WORDS, WEAK_SCORE) and a sweep of the score threshold over the
dev set (the data the threshold was chosen on; the starter docs are reported, not tuned on). Writes
``tests/bench/results/weak_match.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from devset import CORPORA, corpus_docs, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
WORK = Path(tempfile.gettempdir()) / "kb-weak-match"  # index and vector cache per corpus, kept between runs
UNANSWERABLE = ROOT / "tests" / "data" / "unanswerable.yml"
SCORES = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def matches(name: str, semantic: str) -> dict[str, list[dict]]:
    """Per kind ("answerable", "unanswerable"): the best_match of every query on the corpus."""
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.query import open_index
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    if name == "starter":
        docs = ROOT / "docs"
        answerable = [c["query"] for f in ("relevance.yml", "relevance_holdout.yml")
                      for c in yaml.safe_load((ROOT / "tests" / "data" / f).read_text(encoding="utf-8"))]
    else:
        docs = corpus_docs(name)
        answerable = [item["q"] for item in load_items(name, "queries")]
    data_dir = WORK / name
    build_full(docs, data_dir)
    encoder = model_state(semantic).get()
    if encoder is not None:
        fill_vectors(current_index_dir(data_dir), VectorStore(data_dir), encoder)
    index = open_index(data_dir, cache_size=0, semantic=semantic)
    unanswerable = yaml.safe_load(UNANSWERABLE.read_text(encoding="utf-8"))[name]
    return {kind: [index.search(q, limit=1)["best_match"] | {"q": q} for q in queries]
            for kind, queries in (("answerable", answerable), ("unanswerable", unanswerable))}


def rates(found: dict[str, list[dict]], weak) -> tuple[float, float]:
    """(false-alarm rate on answerable queries, catch rate on unanswerable ones) of a weak(match) rule."""
    fa = sum(map(weak, found["answerable"])) / max(1, len(found["answerable"]))
    catch = sum(map(weak, found["unanswerable"])) / max(1, len(found["unanswerable"]))
    return fa, catch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=(*CORPORA, "starter"))
    parser.add_argument("--semantic", default="use", choices=("use", "off"))
    parser.add_argument("--dump", type=Path, help="write every query's best_match to this JSON file")
    parser.add_argument("--show", action="store_true", help="print every weak answerable and missed unanswerable query")
    args = parser.parse_args(argv)
    from indexer.query import WEAK_SCORE, WEAK_WORDS

    names = args.corpus or [*CORPORA, "starter"]
    found = {name: matches(name, args.semantic) for name in names}
    if args.dump:
        args.dump.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    dev = [n for n in names if n != "starter"]
    pooled = {kind: [m for n in dev for m in found[n][kind]] for kind in ("answerable", "unanswerable")}
    rule = (f"best result holds < {WEAK_WORDS:.0%} of the query's words and its fused score < {WEAK_SCORE}"
            if args.semantic != "off" else "best result holds none of the query's words (keywords only)")
    lines = [f"no_good_match (semantic {args.semantic}): weak = {rule}",
             "", "| corpus | answerable | false alarms | unanswerable | caught |", "| --- | --- | --- | --- | --- |"]
    for name in [*names, "dev set (pooled)"] if dev else names:
        f = pooled if name == "dev set (pooled)" else found[name]
        fa, catch = rates(f, lambda m: m["weak"])
        lines.append(f"| {name} | {len(f['answerable'])} | {fa:.1%} | {len(f['unanswerable'])} | {catch:.1%} |")
    if dev and args.semantic != "off":
        lines += ["", f"score threshold sweep on the dev set (pooled), words < {WEAK_WORDS:.0%}:",
                  "| score < | false alarms | caught |", "| --- | --- | --- |"]
        for t in SCORES:
            fa, catch = rates(pooled, lambda m, t=t: m["words"] < WEAK_WORDS and m["score"] < t)
            lines.append(f"| {t} | {fa:.1%} | {catch:.1%} |")
        fa, catch = rates(pooled, lambda m: m["words"] < WEAK_WORDS)
        lines.append(f"| (words only) | {fa:.1%} | {catch:.1%} |")
    if args.show:
        for name in names:
            for m in found[name]["answerable"]:
                if m["weak"]:
                    lines.append(f"  false alarm [{name}] {m['q']}  score {m['score']} words {m['words']}")
            for m in found[name]["unanswerable"]:
                if not m["weak"]:
                    lines.append(f"  missed [{name}] {m['q']}  score {m['score']} words {m['words']}")
    text = "\n".join(lines)
    print(text)
    if not args.corpus and not args.show:
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "" if args.semantic == "use" else "-" + args.semantic
        (RESULTS / f"weak_match{suffix}.txt").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
