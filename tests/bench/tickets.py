"""How often the article a good agent would send is among the top 3 suggestions for a ticket.

    python tests/bench/tickets.py [--show-misses]

Runs every ticket of tests/data/tickets.yml (realistic, messy, Chinese and English) through the
agent console's suggestion (key phrases → search) on a fresh index of docs/; prints top-1 and top-3
accuracy and writes them to tests/bench/results/tickets.txt.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analytics.tickets import suggest  # noqa: E402
from indexer.build import build_full  # noqa: E402
from indexer.query import open_index  # noqa: E402

TICKETS = ROOT / "tests" / "data" / "tickets.yml"
RESULTS = ROOT / "tests" / "bench" / "results" / "tickets.txt"


def evaluate(docs: Path, data: Path, tickets: list[dict]) -> dict:
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    tickets = yaml.safe_load(TICKETS.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(ROOT / "docs", Path(tmp) / "data", tickets)
    line = f"tickets {result['tickets']}  top-1 {result['top1']:.1%}  top-3 {result['top3']:.1%}"
    print(line)
    if args.show_misses:
        for m in result["misses"]:
            print(f"  {m['subject']!r}: expected {m['expected']}, got {m['got']} from {m['phrases']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
