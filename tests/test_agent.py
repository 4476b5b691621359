"""Support agents: suggestions for tickets, tracked links, visits, outcomes, ranking boost, drafts, API."""

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from analytics import accounts, links
from analytics.analyze import analyze
from analytics.tickets import clean_ticket, suggest
from conftest import REAL_DOCS, LiveServer, store_url
from kbserver.db import open_db

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from tickets import TICKETS, evaluate  # noqa: E402


@pytest.fixture
def db(app):
    return open_db(app.config["KB"]["database_url"])


@pytest.fixture
def tokens(db):
    out = {}
    for name, role in (("agent1", "agent"), ("agent2", "agent"), ("wang", "manager"), ("acme", "vip")):
        _, _, token = accounts.create_user(db, name, role)
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


def test_right_article_is_in_the_top_3_for_at_least_80_percent_of_realistic_tickets(tmp_path):
    tickets = yaml.safe_load(TICKETS.read_text(encoding="utf-8"))
    assert len(tickets) >= 30 and sum(t["lang"] == "en" for t in tickets) >= 6
    result = evaluate(REAL_DOCS, tmp_path / "data", tickets)
    assert result["top3"] >= 0.8, result["misses"]


def test_tickets_are_cleaned_of_html_quotes_signatures_and_numbers():
    body = ("<style>p { color: red }</style><script>var tracking = 1;</script>"
            "<p>您好，</p><p>导入 Excel 报错，订单号 YF-2026-10432，电话 138 1234 5678</p>"
            "<blockquote>上次的回复：请重启</blockquote>\n--\n张伟 | 项目经理\n> 在 2026-11-03 写道: 旧内容")
    text = clean_ticket("导入失败", body)
    assert "导入 Excel 报错" in text and "<p>" not in text
    for gone in ("YF-2026-10432", "1234", "张伟", "旧内容", "请重启", "您好", "color", "tracking"):
        assert gone not in text


def test_only_greetings_give_a_clear_message(real_index):
    from indexer.query import open_index

    result = suggest(open_index(real_index), "你好", "您好！\n谢谢！")
    assert result["results"] == [] and "没有找到关键词" in result["message"]


def test_suggest_api_shows_phrases_and_lets_agents_edit_them(client, tokens):
    r = client.post("/api/agent/suggest", headers=tokens["agent1"],
                    json={"subject": "导入 Excel 一直报错", "body": "上传表格后提示日期格式错误，第 12 行。"})
    body = r.get_json()
    assert r.status_code == 200 and body["phrases"] and body["results"][0]["slug"].startswith("import/")
    assert "<mark>" in body["results"][0]["snippet"]
    r = client.post("/api/agent/suggest", headers=tokens["agent1"], json={"phrases": ["限流", "API"]})
    assert r.get_json()["results"][0]["slug"] == "account/api-rate-limit"


@pytest.mark.parametrize("payload,status", [
    ({"subject": 5}, 400), ({"body": ["x"]}, 400), ({"limit": 0}, 400), ([1], 400),
    ({"phrases": "not a list"}, 400), ({"body": "x" * 1_000_000}, 200), ({"body": "<html><body>" * 1000}, 200),
])
def test_suggest_bad_input(client, tokens, payload, status):
    assert client.post("/api/agent/suggest", headers=tokens["agent1"], json=payload).status_code == status


def test_link_visit_outcome_are_recorded_once_and_reach_the_dashboard(client, tokens, db):
    r = client.post("/api/agent/links", headers=tokens["agent1"],
                    json={"ticket_id": "ZD-1", "slug": "import/excel-import", "phrases": ["导入", "excel"]})
    link = r.get_json()
    assert r.status_code == 201 and "?ref=" in link["url"] and "ZD-1" not in link["url"] and "agent1" not in link["url"]
    assert link["formats"]["markdown"] == f"[从 Excel 导入任务]({link['url']})"
    assert link["formats"]["html"].startswith('<a href="http') and "从 Excel 导入任务" in link["formats"]["text"]
    again = client.post("/api/agent/links", headers=tokens["agent1"], json={"ticket_id": "ZD-1", "slug": "import/excel-import"})
    assert again.get_json()["ref"] == link["ref"]  # the same link, not a second one

    customer = client.application.test_client()
    visit = {"ref": link["ref"], "slug": "import/excel-import"}
    assert customer.post("/api/agent/visit", json=visit).get_json()["counted"] is True
    assert customer.post("/api/agent/visit", json=visit).get_json()["counted"] is False  # replayed: once
    assert customer.post("/api/agent/visit", json={**visit, "ref": "forged-token-123"}).status_code == 404
    assert customer.post("/api/agent/visit", json={**visit, "slug": "account/reset-password"}).status_code == 400

    assert client.post("/api/agent/outcome", headers=tokens["agent2"],
                       json={"ref": link["ref"], "outcome": "solved"}).status_code == 403  # not agent2's link
    for _ in range(2):  # a retried webhook
        r = client.post("/api/agent/outcome", headers=tokens["agent1"], json={"ref": link["ref"], "outcome": "solved"})
        assert r.status_code == 200 and r.get_json()["outcome"] == "solved"
    stats = links.article_stats(db)
    assert stats == [{"slug": "import/excel-import", "links": 1, "solved": 1, "not_helped": 0, "visits": 1}]
    page = client.get("/agent", headers=tokens["agent1"]).get_data(as_text=True)
    mine = page.split('id="my-links"')[1].split("</table>")[0]
    assert ">从 Excel 导入任务</a>" in mine and ">import/excel-import</a>" not in mine  # "我发出的链接" by title


def test_agent_tokens_cannot_use_manager_endpoints(client, tokens):
    assert client.get("/api/flags", headers=tokens["agent1"]).status_code == 403
    assert client.post("/api/contrib/submissions/1/approve", headers=tokens["agent1"]).status_code == 403
    assert client.post("/api/agent/suggest", headers=tokens["acme"], json={}).status_code == 403
    assert client.post("/api/agent/links", headers=tokens["agent1"],
                       json={"ticket_id": "1", "slug": "nope"}).status_code == 404
    r = client.post("/api/agent/links", headers=tokens["agent1"],
                    json={"ticket_id": "1", "slug": "import/excel-import", "agent": "agent2"})
    assert r.status_code == 403  # no recording links in someone else's name


def test_agent_links_boost_a_relevant_article_but_never_an_irrelevant_one(client, tokens, app):
    index = app.extensions["kb_index"]
    before = {r["slug"]: r for r in index.search("导入")["results"]}
    assert list(before)[:2] == ["import/excel-import", "import/csv-encoding"]
    for i in range(6):  # agents keep sending the CSV article for tickets about 导入
        link = client.post("/api/agent/links", headers=tokens["agent1"], json={
            "ticket_id": f"T{i}", "slug": "import/csv-encoding", "phrases": ["导入"]}).get_json()
        client.post("/api/agent/outcome", headers=tokens["agent1"], json={"ref": link["ref"], "outcome": "solved"})
        client.post("/api/agent/links", headers=tokens["agent1"], json={  # and an unrelated one, just as often
            "ticket_id": f"T{i}", "slug": "account/reset-password", "phrases": ["导入"]})
    r = client.get("/api/search", query_string={"q": "导入"}).get_json()
    after = [x["slug"] for x in r["results"]]
    boosted = next(x for x in r["results"] if x["slug"] == "import/csv-encoding")
    assert 1.0 < boosted["boost"]["factor"] <= 1.3
    assert boosted["score"] == pytest.approx(before["import/csv-encoding"]["score"] * boosted["boost"]["factor"], rel=1e-3)
    assert after.index("import/csv-encoding") <= list(before).index("import/csv-encoding")
    assert "account/reset-password" not in after  # it does not match 导入: no boost can lift it in


def test_link_weight_decays_and_did_not_help_counts_against(db, tokens):
    agent = {"id": 1, "name": "agent1", "role": "agent"}
    good = links.record_link(db, agent["name"], "A", "import/excel-import", ["导入"])
    bad = links.record_link(db, agent["name"], "B", "import/csv-encoding", ["导入"])
    links.set_outcome(db, links.find_link(db, ref=bad["ref"]), "not_helped", agent["name"])
    now = links.phrase_weights(db, now=dt.datetime.now(dt.timezone.utc))["导入"]
    later = links.phrase_weights(db, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60))["导入"]
    assert now["import/excel-import"] > 0 > now["import/csv-encoding"]
    assert later["import/excel-import"] == pytest.approx(now["import/excel-import"] / 4, rel=0.01)
    assert "import/csv-encoding" not in links.boosts_for(db, ["导入"])
    assert good["ref"] != bad["ref"]


def test_a_ticket_answered_by_hand_becomes_a_draft_in_the_review_queue(client, tokens):
    r = client.post("/api/agent/draft", headers=tokens["agent1"], json={
        "ticket_id": "ZD-77", "question": "怎么把项目归档？\n归档后还能恢复吗？", "answer": "在「项目 > 设置」点击「归档」……"})
    sub = r.get_json()
    assert r.status_code == 201 and sub["state"] == "submitted" and sub["author_name"] == "agent1"
    assert sub["title"] == "怎么把项目归档？" and "## 解答" in sub["body"]
    queue_ = client.get("/api/contrib/submissions?state=submitted", headers=tokens["wang"]).get_json()["submissions"]
    assert [s["id"] for s in queue_] == [sub["id"]]
    assert client.post("/api/agent/draft", headers=tokens["agent1"], json={"question": "", "answer": "x"}).status_code == 400


def test_an_article_often_linked_but_not_helping_is_flagged(db, docs_dir):
    from indexer.articles import load_articles

    agent = {"id": 1, "name": "agent1", "role": "agent"}
    for i in range(6):
        link = links.record_link(db, agent["name"], f"T{i}", "import/csv-encoding", ["乱码"])
        links.set_outcome(db, link, "not_helped" if i else "solved", agent["name"])
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs_dir)]
    report = analyze(db, articles)
    flag = next(f for f in report.article_flags if f.reason == "agent_links_unhelpful")
    assert flag.slug == "import/csv-encoding" and flag.evidence["not_helped"] == 5


def test_openapi_is_served_and_readable(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/agent/suggest" in spec["paths"]
    page = client.get("/api/docs").get_data(as_text=True)
    assert "POST /api/agent/links" in page


def test_every_api_route_is_in_the_spec_with_its_own_declaration(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    routes = set()
    for rule in app.url_map.iter_rules():  # walked here independently of kbserver/openapi.py
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower(), rule.endpoint) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) >= 21
    for path, method, endpoint in sorted(routes):
        op = spec["paths"].get(path, {}).get(method)
        assert op is not None, f"{method.upper()} {path} is not in /api/openapi.json"
        assert not op.get("x-undeclared"), f"{method.upper()} {path}: declare view {endpoint} in kbserver/openapi.py"
        declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert declared == re.findall(r"{(\w+)}", path), (path, declared)
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == {(path, method) for path, method, _ in routes}
    from kbserver.openapi import declared_endpoints

    assert declared_endpoints() <= {endpoint for _, _, endpoint in routes}, "a declaration names a view that is gone"


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_anywhere_in_the_api(tmp_path, docs_dir):
    """The whole spec (every /api/ operation), as a manager (who may call all but the VIP's own writes), then
    the contribution API as a VIP customer; a few submissions exist so review actions reach their checks."""
    import schemathesis  # noqa: F401 - in the dev extras; if it is missing the install is broken: fail
    # The console script's entry point, run with this interpreter (no PATH lookups).
    runner = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"
    data = tmp_path / "data"
    server = LiveServer(docs_dir, data)
    try:
        db = open_db(store_url(data))
        vip, _, vip_token = accounts.create_user(db, "fuzz-vip", "vip")
        _, _, manager_token = accounts.create_user(db, "fuzz-manager", "manager")
        from contrib import queue

        for i, submit in enumerate((True, True, False)):
            queue.create(db, vip, {"title": f"实践 {i}", "summary": "摘要", "body": "正文", "tags": ["看板"],
                                   "module": "kanban", "organisation": "Fuzz", "consent": True}, submit=submit)
        spec = requests.get(f"{server.url}/api/openapi.json", timeout=10).json()
        assert sum(len(ops) for ops in spec["paths"].values()) >= 21
        results = []
        for token, extra in ((manager_token, []), (vip_token, ["--include-path-regex", "^/api/contrib"])):
            results.append(subprocess.run(
                [sys.executable, "-c", runner, "run", f"{server.url}/api/openapi.json", "--checks", "not_a_server_error",
                 "-H", f"Authorization: Bearer {token}", "--max-examples", "15", "--no-color", "--seed", "9", *extra],
                capture_output=True, text=True, cwd=tmp_path, timeout=600))  # its .schemathesis cache stays out of the repo
    finally:
        server.stop()
    log = server.log.read_text()
    for result in results:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "unexpected error" not in log, log[-4000:]


def test_link_stats_appear_on_the_managers_dashboard(client, tokens, db):
    import re

    link = client.post("/api/agent/links", headers=tokens["agent1"],
                       json={"ticket_id": "ZD-9", "slug": "import/csv-encoding"}).get_json()
    client.post("/api/agent/outcome", headers=tokens["agent1"], json={"ref": link["ref"], "outcome": "not_helped"})
    password = "pw-" + "y" * 12
    db["users"].update(accounts.user_for_token(db, tokens["wang"]["Authorization"][7:])["id"],
                       {"password_hash": accounts._hasher.hash(password)})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": token})
    html = client.get("/dashboard").get_data(as_text=True)
    section = html.split('id="links"', 1)[1]
    assert "import/csv-encoding" in section and re.search(r"<td class=\"score\">1</td>", section)


@pytest.mark.parametrize("payload", [{"link_id": 81215333842743017472, "outcome": "not_helped"},
                                     {"link_id": -1, "outcome": "solved"}])
def test_outcome_with_an_impossible_link_id_is_a_clear_error(client, tokens, payload):
    # found by schemathesis: an integer too large for SQLite used to give a 500
    r = client.post("/api/agent/outcome", headers=tokens["agent1"], json=payload)
    assert r.status_code == 400 and r.get_json()["error"]["message"]


def test_versions_too_large_for_sqlite_are_a_clear_error(client, tokens):
    r = client.post("/api/flags/1", headers=tokens["wang"], json={"state": "resolved", "version": 2**70})
    assert r.status_code == 400


def test_ids_too_large_for_sqlite_in_urls_are_not_found(client, tokens):
    for path in ("/api/flags/99999999999999999999999", "/api/contrib/submissions/99999999999999999999999"):
        assert client.get(path, headers=tokens["wang"]).status_code == 404


@pytest.mark.parametrize("paste", ["a" * 1_000_000, "1" * 1_000_000, "AB" + "1-" * 500_000, "x@" * 500_000])
def test_a_megabyte_ticket_of_one_long_word_is_cleaned_in_linear_time(paste):
    """The noise patterns once backtracked over long runs (~12 s of CPU for 100 KB): now bounded, cut first."""
    import time

    from analytics.tickets import clean_ticket

    started = time.process_time()
    clean_ticket("导入失败", paste)
    assert time.process_time() - started < 2.0  # was over 10 s; linear now takes milliseconds


def test_noise_is_still_removed_from_a_ticket():
    from analytics.tickets import clean_ticket

    text = clean_ticket("订单 YF-2026-10432", "您好，\n电话 138 0013 8000，邮箱 li.na@example.com，https://a.b/c?d=1\n导入失败\n谢谢！")
    assert "导入失败" in text
    assert not any(noise in text for noise in ("YF-2026", "138 0013", "li.na@", "https://", "您好", "谢谢"))
