"""Article health: one 0-100 score per article from every signal, shown with its reasons, sorting the list."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from analytics import accounts
from analytics.analyze import analyze
from analytics.answers import votes_by_article
from analytics.health import article_health, score_articles
from analytics.simulate import simulate
from conftest import REAL_DOCS
from indexer.articles import load_articles
from indexer.build import build_full
from indexer.query import open_index
from kbserver import create_app
from kbserver.db import open_db

TODAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def _article(slug, reviewed="2026-11-01", every=180):
    return {"slug": slug, "title": slug, "path": f"{slug}.md", "reviewed": reviewed, "review_every": every}


def test_each_signal_lowers_the_score_and_says_so():
    articles = [_article("fresh"), _article("old", reviewed="2025-01-01"), _article("voted"), _article("bounced"),
                _article("sent")]
    scores = {h["slug"]: h for h in score_articles(
        articles, TODAY, votes={"voted": (2, 20)}, bounces={"bounced": (30, 20)},
        link_stats=[{"slug": "sent", "links": 10, "solved": 1, "not_helped": 9, "visits": 4}])}
    assert scores["fresh"]["score"] == 100 and scores["fresh"]["signals"] == []
    for slug, signal in [("old", "review"), ("voted", "votes"), ("bounced", "bounces"), ("sent", "agent_links")]:
        assert scores[slug]["score"] < 100
        assert scores[slug]["signals"][0]["signal"] == signal and scores[slug]["signals"][0]["detail"]


def test_votes_are_judged_by_the_wilson_bound_not_the_raw_share():
    articles = [_article("one-bad-vote"), _article("many-bad-votes")]
    scores = {h["slug"]: h["score"] for h in score_articles(
        articles, TODAY, votes={"one-bad-vote": (0, 1), "many-bad-votes": (2, 40)})}
    assert scores["one-bad-vote"] > 90 > 85 > scores["many-bad-votes"]


def test_answers_voted_down_lower_the_health_of_the_article_they_cited(tmp_path):
    db = open_db(f"sqlite:///{tmp_path / 'kb.db'}")
    db["answer_votes"].insert_all([{"query_id": f"{i:016x}", "ts": f"2026-11-20T10:00:{i:02d}.000Z", "slug": "a",
                                    "helpful": int(i == 0), "session": f"s{i}"} for i in range(13)])
    counted = votes_by_article(db, "2026-11-01", "2026-12-01")
    assert counted == {"a": (1, 13)} and votes_by_article(db, "2026-12-01", "2026-12-31") == {}
    scores = score_articles([_article("a")], TODAY, answer_votes=counted)
    assert scores[0]["signals"][0]["signal"] == "answer_votes" and scores[0]["score"] < 95


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("health")
    build_full(REAL_DOCS, root / "data")
    url = f"sqlite:///{root / 'kb.db'}"
    db = open_db(url)
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(REAL_DOCS)]
    truth = simulate(db, open_index(root / "data", semantic="off"), articles, days=14, end=NOW)
    analyze(db, articles, now=NOW)
    _, _, token = accounts.create_user(db, "王敏", "manager")
    app = create_app({"docs": REAL_DOCS, "data": root / "data", "semantic_model": "off", "database_url": url})
    yield app, db, truth, {"Authorization": f"Bearer {token}"}
    app.extensions["kb_events"].close()
    db.conn.close()


@pytest.mark.slow
def test_the_simulated_problems_are_the_least_healthy_articles(simulated):
    app, db, truth, auth = simulated
    answer = app.test_client().get("/api/article-health?limit=100", headers=auth)
    assert answer.status_code == 200
    ranked = answer.get_json()["articles"]
    assert len(ranked) == 44 and ranked == sorted(ranked, key=lambda h: (h["score"], h["slug"]))
    by_slug = {h["slug"]: h for h in ranked}
    voted_down, bounced = truth["unhelpful_article"], truth["bounce_article"]
    assert "votes" in {s["signal"] for s in by_slug[voted_down]["signals"]}
    assert "bounces" in {s["signal"] for s in by_slug[bounced]["signals"]}
    worst = [h["slug"] for h in ranked[:8]]
    assert voted_down in worst and bounced in worst
    assert by_slug[truth["healthy_article"]]["score"] > by_slug[voted_down]["score"] + 20
    one = app.test_client().get(f"/api/article-health?slug={voted_down}", headers=auth).get_json()["articles"]
    assert [h["slug"] for h in one] == [voted_down]


def test_the_dashboard_sorts_the_stale_unhelpful_list_by_health(simulated):
    app, db, _, auth = simulated
    client = app.test_client()
    html = client.get("/dashboard", headers=auth).get_data(as_text=True)
    section = html.split('id="articles"')[1].split('id="health"')[0]
    rows = re.findall(r'data-slug="([^"]+)">\s*<td class="score health">(\d+)</td>', section)
    assert len(rows) >= 3
    healths = [int(h) for _, h in rows]
    assert healths == sorted(healths)
    stored = {h["slug"]: round(h["score"]) for h in article_health(db)}
    assert all(stored[slug] == int(h) for slug, h in rows)
    assert "文章健康度" in html


def test_bad_health_queries_are_400_and_need_a_manager(simulated):
    app, _, _, auth = simulated
    client = app.test_client()
    assert client.get("/api/article-health?limit=abc", headers=auth).status_code == 400
    assert client.get("/api/article-health?limit=0", headers=auth).status_code == 400
    assert client.get("/api/article-health").status_code == 401
