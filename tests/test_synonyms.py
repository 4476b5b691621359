"""Learned synonyms: proposed from reformulations, approved or rejected (audited), effective for search at once."""

from __future__ import annotations

import pytest
from km_traffic import Traffic

from analytics import accounts
from analytics import synonyms as learned
from analytics.analyze import analyze
from conftest import REAL_DOCS
from indexer.articles import load_articles
from indexer.build import build_full
from kbserver import create_app
from kbserver.cli import cli
from kbserver.db import open_db


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("synonyms") / "data"
    build_full(REAL_DOCS, data)
    return data


@pytest.fixture(scope="module")
def articles():
    return [a.to_dict() | {"body": a.body} for a in load_articles(REAL_DOCS)]


@pytest.fixture
def app(index_dir, tmp_path):
    app = create_app({"docs": REAL_DOCS, "data": index_dir, "semantic_model": "off",
                      "database_url": f"sqlite:///{tmp_path / 'kb.db'}"})
    yield app
    app.extensions["kb_events"].close()


@pytest.fixture
def db(app):
    db = open_db(app.config["KB"]["database_url"])
    yield db
    db.conn.close()


def _month(db) -> None:
    t = Traffic(seed=3)
    for _ in range(4):  # customers' word for approval, rewritten into the articles' word
        t.reformulation("批条子怎么走", "审批怎么走", "approvals/multi-level-flows")
    for _ in range(3):
        t.reformulation("logon 两步验证", "登录 两步验证", "account/two-factor-login")
    for _ in range(4):  # a change of topic between words the articles both use: not a synonym
        t.reformulation("甘特图", "发票", "billing/invoices-seats")
    for topic, slug in [("发票", "billing/invoices-seats"), ("工时", "tasks/log-time"), ("看板", "kanban/board-setup"),
                        ("预算", "budget/set-budget"), ("风险", "risks/risk-register")]:
        for _ in range(2):  # a missing topic (no article about clocking in) left for various others
            t.reformulation("打卡", topic, slug)
    for _ in range(2):  # too few sessions
        t.reformulation("签呈", "审批", "approvals/countersign")
    for _ in range(4):  # bounced or voted down: the second search did not really answer either
        t.reformulation("排程图", "甘特图", "gantt/dependencies", kept=False, bounce=True)
        t.reformulation("白条", "发票", "billing/invoices-seats", kept=False, down_vote=True)
    t.write(db)


def _pairs(proposals) -> set[tuple[str, str]]:
    return {(p["customer"], p["article"]) for p in proposals}


def test_vocabulary_mismatches_are_proposed_with_counts_and_examples_and_nothing_else(db, articles):
    _month(db)
    report = analyze(db, articles)
    assert _pairs(report.synonyms) == {("批条子", "审批"), ("logon", "登录")}
    stored = {(p["customer"], p["article"]): p for p in learned.list_synonyms(db, "proposed")}
    assert set(stored) == {("批条子", "审批"), ("logon", "登录")}
    pair = stored[("批条子", "审批")]
    assert pair["sessions"] == 4 and ["批条子怎么走", "审批怎么走"] in pair["examples"]
    assert pair["slugs"] == ["approvals/multi-level-flows"]
    assert learned.get_synonym(db, pair["id"])["history"][0]["action"] == "proposed"
    # Re-running refreshes the evidence without duplicating or resetting a decision.
    learned.decide(db, pair["id"], "reject", "王敏")
    analyze(db, articles)
    assert len(learned.list_synonyms(db)) == 2
    assert learned.get_synonym(db, pair["id"])["state"] == "rejected"


def _manager(db, name="王敏", role="manager"):
    _, _, token = accounts.create_user(db, name, role)
    return {"Authorization": f"Bearer {token}"}


def test_approving_makes_the_customer_word_find_the_article_at_once_without_stale_cache(app, db, articles):
    _month(db)
    analyze(db, articles)
    auth = _manager(db)
    client = app.test_client()
    pair = next(p for p in client.get("/api/synonyms?state=proposed", headers=auth).get_json()["synonyms"]
                if p["customer"] == "批条子")
    before = client.get("/api/search", query_string={"q": "批条子"}).get_json()["results"]
    assert not any(r["slug"].startswith("approvals/") for r in before)  # (and this answer is now cached)
    r = client.post(f"/api/synonyms/{pair['id']}", json={"decision": "approve", "version": pair["version"],
                                                         "note": "顾客的说法"}, headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["state"] == "approved" and body["decided_by"] == "王敏" and body["decided_at"]
    assert [h["action"] for h in body["history"]] == ["proposed", "approved"]
    after = client.get("/api/search", query_string={"q": "批条子"}).get_json()["results"]
    assert after and after[0]["slug"].startswith("approvals/"), after
    # Withdrawn: the next search is back to what it was.
    client.post(f"/api/synonyms/{pair['id']}", json={"decision": "reject"}, headers=auth)
    again = client.get("/api/search", query_string={"q": "批条子"}).get_json()["results"]
    assert [r["slug"] for r in again] == [r["slug"] for r in before]


def test_bad_decisions_are_clear_4xx_and_change_nothing(app, db, articles):
    _month(db)
    analyze(db, articles)
    auth = _manager(db)
    agent = _manager(db, "小李", "agent")
    client = app.test_client()
    pair = learned.list_synonyms(db, "proposed")[0]
    url = f"/api/synonyms/{pair['id']}"
    assert client.post(url, json={"decision": "maybe"}, headers=auth).status_code == 400
    assert client.post(url, json={"decision": ["approve"]}, headers=auth).status_code == 400
    assert client.post(url, json={"decision": "approve", "version": "1"}, headers=auth).status_code == 400
    assert client.post(url, json={"decision": "approve", "note": 5}, headers=auth).status_code == 400
    assert client.post(url, json={"decision": "approve", "version": pair["version"] + 1}, headers=auth).status_code == 409
    assert client.post(url, json={"decision": "approve"}, headers=agent).status_code == 403
    assert client.post(url, json={"decision": "approve"}).status_code == 401
    assert client.post("/api/synonyms/99999", json={"decision": "approve"}, headers=auth).status_code == 404
    assert client.get("/api/synonyms?state=nonsense", headers=auth).status_code == 400
    r = client.post(url, data="not json", headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["message"]
    assert learned.get_synonym(db, pair["id"])["state"] == "proposed"
    assert len(learned.get_synonym(db, pair["id"])["history"]) == 1


def test_cli_lists_approves_and_rejects_and_a_running_app_picks_it_up(app, db, articles, runner):
    _month(db)
    analyze(db, articles)
    accounts.create_user(db, "王敏", "manager")
    opts = ["--database-url", app.config["KB"]["database_url"]]
    listed = runner.invoke(cli, ["synonyms", "list", *opts])
    assert listed.exit_code == 0, listed.output
    assert "批条子 → 审批" in listed.output and "×4" in listed.output
    pair = next(p for p in learned.list_synonyms(db) if p["customer"] == "批条子")
    client = app.test_client()
    client.get("/api/search", query_string={"q": "批条子"})
    result = runner.invoke(cli, ["synonyms", "approve", str(pair["id"]), "--by", "王敏", *opts])
    assert result.exit_code == 0, result.output
    assert "：approved，决定人 王敏；几秒内搜索就会用上" in result.output
    app.extensions["kb_learned"].check_seconds = 0  # (the server looks every 2 s)
    after = client.get("/api/search", query_string={"q": "批条子"}).get_json()["results"]
    assert after[0]["slug"].startswith("approvals/")
    found = runner.invoke(cli, ["search", "批条子", "--data", str(app.config["KB"]["data"]), "--semantic-model", "off",
                                *opts])
    assert found.exit_code == 0 and "approvals/" in found.output.splitlines()[1], found.output
    bad = runner.invoke(cli, ["synonyms", "approve", "99999", "--by", "王敏", *opts])
    assert bad.exit_code == 1 and "没有编号为 99999 的同义词建议" in bad.output and "Traceback" not in bad.output
    nobody = runner.invoke(cli, ["synonyms", "reject", str(pair["id"]), "--by", "ghost", *opts])
    assert nobody.exit_code == 1 and "必须是知识库管理员的账号" in nobody.output
    assert runner.invoke(cli, ["synonyms", "reject", str(pair["id"]), "--by", "王敏", *opts]).exit_code == 0
    assert learned.get_synonym(db, pair["id"])["state"] == "rejected"


def test_pairs_are_read_from_a_reformulation():
    assert learned.pair_of("怎么把表格导进来", "怎么导入表格") == ("导进来", "导入")
    assert learned.pair_of("logon 两步验证", "登录 两步验证") == ("logon", "登录")
    assert learned.pair_of("甘特图", "甘特图 依赖") is None  # nothing replaced, only added
