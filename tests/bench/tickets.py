"""Agent suggestions for support tickets: is the article a support lead would send in the top 3?

    python tests/bench/tickets.py [--corpus nocobase-zh] [--show-misses] [--work DIR]

For each corpus of the third-party dev set with tickets (``tickets.yml`` in nocobase-zh and
plane-en, read from ``../shared/datasets/relevance`` or KB_DEV_SET), in one run and on the same
tickets: kb's suggestions (the whole cleaned ticket through hybrid search, what the agent console
shows), kb's former way (its key phrases as a search), and the dev set's plain BM25 + jieba over the
whole ticket; recall@3 and MRR@10 of each, scored by the dev set's ``score.py``. Then the same for
our own realistic tickets on the starter docs (tests/data/tickets.yml). Prints the table and writes
tests/bench/results/tickets.txt.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from analytics.tickets import suggest  # noqa: E402
from indexer.build import build_full  # noqa: E402
from indexer.query import open_index  # noqa: E402

TICKETS = ROOT / "tests" / "data" / "tickets.yml"
RESULTS = ROOT / "tests" / "bench" / "results" / "tickets.txt"
TICKET_CORPORA = ("nocobase-zh", "plane-en")
WORK = Path(tempfile.gettempdir()) / "kb-thirdparty"  # shared with thirdparty.py: vectors embedded once


def evaluate(docs: Path, data: Path, tickets: list[dict]) -> dict:
    """Top-1 / top-3 share of our own tickets on a fresh keyword index of docs (no vectors)."""
    build_full(docs, data)
    index = open_index(data, cache_size=0)
    top1 = top3 = 0
    misses = []
    for t in tickets:
        got = suggest(index, t["subject"], t["body"], limit=3)
        slugs = [r["slug"] for r in got["results"]]
        top1 += slugs[:1] == [t["expected"]]
        top3 += t["expected"] in slugs
        if t["expected"] not in slugs:
            misses.append({"subject": t["subject"], "expected": t["expected"], "got": slugs, "phrases": got["phrases"]})
    n = len(tickets)
    return {"tickets": n, "top1": top1 / n, "top3": top3 / n, "misses": misses}


def dev_set_runs(name: str, data: Path, semantic: str = "use") -> dict[str, dict[str, list[str]]]:
    """{"kb": {ticket id: ranked paths}, "phrases": {...}} for one corpus, on an index with passage vectors."""
    from devset import corpus_docs, load_items
    from indexer.build import current_index_dir
    from indexer.dense import fill_vectors
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    build_full(corpus_docs(name), data)
    encoder = model_state(semantic).get()
    if encoder is not None:
        fill_vectors(current_index_dir(data), VectorStore(data), encoder)
    index = open_index(data, cache_size=0, semantic=semantic)
    runs: dict[str, dict[str, list[str]]] = {"kb": {}, "phrases": {}}
    for item in load_items(name, "tickets"):
        found = suggest(index, item.get("subject", ""), item.get("body", ""), limit=10)
        runs["kb"][item["id"]] = [r["path"] for r in found["results"]]
        phrases = found["phrases"]
        runs["phrases"][item["id"]] = ([r["path"] for r in index.search(" ".join(phrases)[:500], limit=10)["results"]]
                                       if phrases else [])
    return runs


def score_dev_set(corpora, work: Path = WORK, semantic: str = "use", show_misses: bool = False) -> dict:
    """{corpus: {"kb" | "phrases" | "bm25": score.py's evaluation}} of the dev set's tickets."""
    from thirdparty import baseline_runs, dev_set_modules

    from devset import load_items

    score, baseline = dev_set_modules()
    report = {}
    for name in corpora:
        items = load_items(name, "tickets")
        ours = dev_set_runs(name, work / name, semantic)
        bm25 = baseline_runs(name, baseline)["tickets"]
        report[name] = {"kb": score.evaluate(items, ours["kb"]), "phrases": score.evaluate(items, ours["phrases"]),
                        "bm25": score.evaluate(items, bm25)}
        if show_misses:
            for item in items:
                primary = next(p for p, g in item["relevant"].items() if g == 2)
                ranked = ours["kb"][item["id"]]
                if primary not in ranked[:3]:
                    print(f"  {item['id']} {item['subject'][:40]!r}: expected {primary}, got {ranked[:3]}")
    return report


def table(report: dict) -> list[str]:
    """One line per corpus: recall@3 and MRR@10 of kb, kb's key phrases and BM25 over the whole ticket."""
    lines = ["recall@3 / MRR@10 (tickets)      kb: whole ticket, hybrid   kb key phrases   bm25+jieba whole ticket"]
    for name, runs in report.items():
        cells = [f"{runs[k]['overall']['recall@3']:.3f} / {runs[k]['overall']['mrr@10']:.3f}"
                 for k in ("kb", "phrases", "bm25")]
        n = runs["kb"]["overall"]["n"]
        lines.append(f"  {name + f' ({n})':<31} {cells[0]:<26} {cells[1]:<16} {cells[2]}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=TICKET_CORPORA, help="one corpus (repeatable); default both")
    parser.add_argument("--show-misses", action="store_true", help="print tickets whose article is not in kb's top 3")
    parser.add_argument("--semantic-model", default="use", help="sentence-embedding model (use, off)")
    parser.add_argument("--work", default=str(WORK), help="folder for the corpora's indexes and vector caches")
    args = parser.parse_args(argv)
    from devset import dev_set_dir

    lines = []
    if (dev_set_dir() / "nocobase-zh").is_dir():
        lines += table(score_dev_set(args.corpus or TICKET_CORPORA, Path(args.work), args.semantic_model,
                                     args.show_misses))
    else:
        print(f"warning: the relevance dev set is not at {dev_set_dir()} (set KB_DEV_SET): own tickets only",
              file=sys.stderr)
    tickets = yaml.safe_load(TICKETS.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        own = evaluate(ROOT / "docs", Path(tmp) / "data", tickets)
    lines.append(f"own tickets on the starter docs ({own['tickets']}, no vectors)  top-1 {own['top1']:.1%}  "
                 f"top-3 {own['top3']:.1%}")
    if args.show_misses:
        for m in own["misses"]:
            print(f"  {m['subject']!r}: expected {m['expected']}, got {m['got']} from {m['phrases']}")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = f"python tests/bench/tickets.py ({stamp})"
    print("\n".join([header, *lines]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
