"""kb's search on the third-party relevance dev set, side by side with plain BM25 + jieba, in one run.

    python tests/bench/thirdparty.py [--corpus nocobase-zh] [--show-misses] [--no-project-vocabulary]

For each corpus of ``../shared/datasets/relevance`` (or KB_DEV_SET): builds a kb index of its docs in
a temporary folder, runs every query (result cache off) and every ticket (through the agent
suggestions), runs the dev set's own BM25+jieba baseline (``baseline_bm25.py``, bm25s) on the same
items, scores both with the dev set's ``score.py`` and prints nDCG@10, MRR@10 and recall@3 per corpus
and per style. Writes ``tests/bench/results/thirdparty.txt`` (the table) and ``thirdparty.json`` (all figures).

``--no-project-vocabulary`` runs kb without its own synonym list and project dictionary (which were
written for the starter docs), to check they do not hurt other companies' docs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from devset import CORPORA, corpus_docs, dev_set_dir, load_items  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results"
METRICS = ("ndcg@10", "mrr@10", "recall@3")
WORK = Path(tempfile.gettempdir()) / "kb-thirdparty"  # index and vector cache per corpus, kept between runs


def dev_set_modules():
    """The dev set's scorer and baseline, imported from where they live (never copied)."""
    sys.path.insert(0, str(dev_set_dir()))
    return importlib.import_module("score"), importlib.import_module("baseline_bm25")


def kb_runs(name: str, data_dir: Path, semantic: str = "use") -> dict[str, dict[str, list[str]]]:
    """kb's ranked paths for the corpus's queries and tickets: {"queries": {q: [...]}, "tickets": {id: [...]}}.

    The data folder persists between runs, so passage vectors are embedded once (as `kb build` reuses them)."""
    from analytics.tickets import suggest
    from indexer.build import build_full, current_index_dir
    from indexer.dense import fill_vectors
    from indexer.query import open_index
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    build_full(corpus_docs(name), data_dir)
    encoder = model_state(semantic).get()
    if encoder is not None:
        report = fill_vectors(current_index_dir(data_dir), VectorStore(data_dir), encoder)
        print(f"  {name}: {report.summary()}", file=sys.stderr)
    index = open_index(data_dir, cache_size=0, semantic=semantic)
    runs = {"queries": {}, "tickets": {}}
    for item in load_items(name, "queries"):
        runs["queries"][item["q"]] = [r["path"] for r in index.search(item["q"], limit=10)["results"]]
    for item in load_items(name, "tickets"):
        found = suggest(index, item.get("subject", ""), item.get("body", ""), limit=10)
        runs["tickets"][item["id"]] = [r["path"] for r in found["results"]]
    return runs


def baseline_runs(name: str, baseline) -> dict[str, dict[str, list[str]]]:
    """The dev set's BM25+jieba baseline on the same items (its run files go to a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        baseline.run_corpus(name, tmp)
        runs = {}
        for kind in ("queries", "tickets"):
            path = Path(tmp) / f"{name}.{kind}.run.jsonl"
            runs[kind] = {}
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    obj = json.loads(line)
                    runs[kind][obj.get("q", obj.get("id"))] = obj["ranked"]
    return runs


def without_project_vocabulary() -> None:
    """Run kb as if indexer/data had no project dictionary and no synonym list (stop words stay)."""
    import indexer.analysis as analysis

    empty = Path(tempfile.mkdtemp()) / "userdict.txt"
    empty.write_text("", encoding="utf-8")
    analysis.USER_DICT = empty
    analysis.synonym_groups = lambda: []


def fmt(cell: dict | None) -> str:
    if not cell:
        return "–"
    return " / ".join(f"{cell[m]:.3f}" for m in METRICS) + f" ({cell['n']})"


def run(corpora, show_misses: bool = False, semantic: str = "use", work: Path = WORK) -> dict:
    score, baseline = dev_set_modules()
    report = {}
    for name in corpora:
        started = time.perf_counter()
        ours = kb_runs(name, work / name, semantic)
        kb_seconds = time.perf_counter() - started
        theirs = baseline_runs(name, baseline)
        report[name] = {"kb_seconds": round(kb_seconds, 1)}
        for kind in ("queries", "tickets"):
            items = load_items(name, kind)
            if not items:
                continue
            report[name][kind] = {"kb": score.evaluate(items, ours[kind]), "bm25": score.evaluate(items, theirs[kind])}
            if show_misses:
                for item in items:
                    key = score.item_key(item)
                    primary = next(p for p, g in item["relevant"].items() if g == 2)
                    ranked = ours[kind].get(key, [])
                    rank = ranked.index(primary) + 1 if primary in ranked else None
                    if rank != 1:
                        print(f"  {name} {score.item_style(item):<12} rank {rank}: {key[:60]!r} "
                              f"expected {primary} got {ranked[:2]}")
    return report


def table(report: dict) -> list[str]:
    lines = ["nDCG@10 / MRR@10 / recall@3 (n)", ""]
    for name, parts in report.items():
        for kind in ("queries", "tickets"):
            if kind not in parts:
                continue
            kb, bm = parts[kind]["kb"], parts[kind]["bm25"]
            lines.append(f"{name} {kind}")
            lines.append(f"  {'overall':<14} kb {fmt(kb['overall'])}   bm25+jieba {fmt(bm['overall'])}   "
                         f"Δ nDCG {kb['overall']['ndcg@10'] - bm['overall']['ndcg@10']:+.3f}")
            for style in kb["per_style"]:
                lines.append(f"  {style:<14} kb {fmt(kb['per_style'][style])}   "
                             f"bm25+jieba {fmt(bm['per_style'].get(style))}")
        lines.append("")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=CORPORA, help="one corpus (repeatable); default all")
    parser.add_argument("--show-misses", action="store_true", help="print kb's queries whose grade-2 article is not first")
    parser.add_argument("--no-project-vocabulary", action="store_true",
                        help="run kb without its synonym list and project dictionary")
    parser.add_argument("--semantic-model", default="use", help="sentence-embedding model (use, off)")
    parser.add_argument("--work", default=str(WORK), help="folder for the corpora's indexes and vector caches")
    parser.add_argument("--out", default=str(RESULTS / "thirdparty"), help="results file stem (.txt and .json)")
    args = parser.parse_args(argv)
    if not (dev_set_dir() / "nocobase-zh").is_dir():
        print(f"error: the relevance dev set is not at {dev_set_dir()}: set KB_DEV_SET", file=sys.stderr)
        return 2
    if args.no_project_vocabulary:
        without_project_vocabulary()
    report = run(args.corpus or CORPORA, args.show_misses, args.semantic_model, Path(args.work))
    lines = table(report)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    flags = " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--") and a != "--show-misses")
    header = f"python tests/bench/thirdparty.py {flags}  ({stamp})".replace("  (", " (")
    print("\n".join([header, *lines]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".txt").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
