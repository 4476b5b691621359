"""Search quality floors (README, "Search quality"): CI fails if ranking regresses below them."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from conftest import REAL_DOCS  # noqa: E402
from relevance import SETS, evaluate, load_cases  # noqa: E402

FLOORS = {
    "tuning": {"mrr@10": 0.90, "ndcg@10": 0.90, "recall@3": 0.95},
    "holdout": {"mrr@10": 0.72, "ndcg@10": 0.75, "recall@3": 0.78},
}


@pytest.mark.parametrize("name", list(SETS))
def test_relevance_stays_above_the_floor(name, tmp_path):
    cases = load_cases(SETS[name])
    assert len(cases) >= 44 and len({c["slug"] for c in cases}) >= 40
    result = evaluate(REAL_DOCS, cases, tmp_path / "data")
    for metric, floor in FLOORS[name].items():
        assert result[metric] >= floor, (metric, result[metric], result["misses"])


def test_relevance_set_is_large_and_realistic():
    cases = load_cases(SETS["tuning"])
    assert len(cases) >= 80
    english = [c for c in cases if c["query"].isascii()]
    assert 6 <= len(english) < len(cases) / 2
    assert all(len(c["query"]) <= 30 for c in cases)
    for case in cases:
        assert (REAL_DOCS / (case["slug"] + ".md")).is_file(), case
