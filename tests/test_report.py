"""The head of support's report: self-service rate by hand count, date ranges, CSV = page = API, bad dates."""

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest

from analytics import accounts, links, questions
from analytics import report as reports
from analytics.events import insert_events
from indexer.clock import iso
from kbserver.db import open_db

ZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime.now(dt.timezone.utc)
# A complete local day three days ago, at 12:00 Shanghai time: inside "last 7 days", not today.
DAY = NOW.astimezone(ZONE).date() - dt.timedelta(days=3)
NOON = dt.datetime.combine(DAY, dt.time(12), tzinfo=ZONE).astimezone(dt.timezone.utc)
OLD = NOON - dt.timedelta(days=20)  # inside "last 30 days", outside "last 7 days"


def at(base, seconds):
    return iso(base + dt.timedelta(seconds=seconds))


class Log:
    """Hand-built events, stored through the event log's own bulk insert."""

    def __init__(self):
        self.searches, self.clicks, self.votes, self.n = [], [], [], 0

    def search(self, session, base, seconds, query="导入", results=3, slug="import/excel-import", answer=""):
        self.n += 1
        qid = f"{self.n:016x}"
        self.searches.append({"query_id": qid, "ts": at(base, seconds), "session": session, "query": query,
                              "normalized": query, "results": results, "top_slugs": [slug] if results else [],
                              "took_ms": 1.0, "module": "", "tag": "", "page": 1, "source": "site", "answer": answer})
        return qid

    def click(self, session, base, seconds, qid, slug="import/excel-import"):
        self.clicks.append({"ts": at(base, seconds), "query_id": qid, "slug": slug, "position": 1, "session": session})

    def vote(self, session, base, seconds, helpful, slug="import/excel-import"):
        self.votes.append({"ts": at(base, seconds), "slug": slug, "helpful": int(helpful), "comment": "",
                           "session": session})

    def store(self, db):
        for table in ("searches", "clicks", "votes"):
            insert_events(db, table, getattr(self, table))


def build(db):
    """Eleven sessions on DAY (hand-counted below) and two on a day 20 days earlier."""
    log = Log()
    # s1: a click, nothing after it → kept click → SELF-SERVED
    log.click("s1", NOON, 10, log.search("s1", NOON, 0))
    # s2: a click, then a new search 30 s later (a bounce, within reformulation_window 120 s) → not
    log.click("s2", NOON, 10, log.search("s2", NOON, 0))
    log.search("s2", NOON, 40, query="导入 日期")
    # s3: a click, then 👎 on that article 60 s later (within vote_window 1800 s) → not
    log.click("s3", NOON, 10, log.search("s3", NOON, 0))
    log.vote("s3", NOON, 70, False)
    # s4: no click on a result, but 👍 on an article 100 s later (reached through the menu) → SELF-SERVED
    log.search("s4", NOON, 0)
    log.vote("s4", NOON, 100, True, slug="account/reset-password")
    # s5: a kept click, but a question to support 10 minutes later (within escalation_window 86400 s) → not
    log.click("s5", NOON, 10, log.search("s5", NOON, 0))
    # s6: a kept click, but a visit through an agent's ticket link 2 hours later → not
    log.click("s6", NOON, 10, log.search("s6", NOON, 0))
    # s7: a kept click; a question two days later is outside the window → SELF-SERVED
    log.click("s7", NOON, 10, log.search("s7", NOON, 0))
    # s8: nothing found, nothing else → not
    log.search("s8", NOON, 0, query="甘特图打印", results=0)
    # s9: nothing found, searches again 20 s later and keeps a click → SELF-SERVED
    log.search("s9", NOON, 0, query="甘特图打印", results=0)
    log.click("s9", NOON, 30, log.search("s9", NOON, 20, query="甘特图 打印", slug="guides/gantt"),
              slug="guides/gantt")
    # s10: the answer box answered; 👎 on the answer, nothing else → not
    answer = '{"slug": "guides/archive", "anchor": "", "heading": "归档", "score": 0.9}'
    s10 = log.search("s10", NOON, 0, query="归档项目", slug="guides/archive", answer=answer)
    # s11: the answer box answered; 👍 on the answer (an accepted answer), no click → SELF-SERVED
    s11 = log.search("s11", NOON, 0, query="归档项目", slug="guides/archive", answer=answer)
    # 20 days earlier: o1 kept click (served), o2 no result (not)
    log.click("o1", OLD, 10, log.search("o1", OLD, 0))
    log.search("o2", OLD, 0, query="发票", results=0)
    log.store(db)
    questions.add_question(db, "导入后日期不对", session="s5", address="a", now=(NOON + dt.timedelta(minutes=10)).timestamp())
    questions.add_question(db, "还是不行", session="s7", address="b", now=(NOON + dt.timedelta(days=2)).timestamp())
    agent = {"name": "agent1", "role": "agent"}
    link = links.record_link(db, agent["name"], "ZD-1", "import/excel-import")
    for qid, session, helpful in ((s10, "s10", 0), (s11, "s11", 1)):
        db["answer_votes"].insert({"query_id": qid, "ts": at(NOON, 30), "slug": "guides/archive", "anchor": "",
                                   "heading": "归档", "helpful": helpful, "comment": "", "session": session})
    db["link_visits"].insert({"link_id": link["id"], "ts": at(NOON, 7200), "session": "visitor-key",
                              "search_session": "s6"})


SERVED_ON_DAY = 5  # s1, s4, s7, s9, s11
SESSIONS_ON_DAY = 11


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A real app and SQLite file holding the hand-built events, a manager and a token."""
    import shutil

    from conftest import FIXTURE_DOCS
    from indexer.build import build_full
    from kbserver import create_app

    root = tmp_path_factory.mktemp("report")
    docs, data = root / "docs", root / "data"
    shutil.copytree(FIXTURE_DOCS, docs)
    build_full(docs, data)
    app = create_app({"docs": docs, "data": data})
    app.config["TESTING"] = True
    db = open_db(app.config["KB"]["database_url"])
    build(db)
    user, password, token = accounts.create_user(db, "wang", "manager")
    yield app, db, password, token
    app.extensions["kb_events"].close()


@pytest.fixture
def manager(setup):
    app, _, password, _ = setup
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": csrf})
    return client


def test_self_service_rate_equals_the_hand_count(setup):
    _, db, _, _ = setup
    data = reports.report(db, reports.DateRange(DAY, DAY, ZONE))
    assert data["summary"]["sessions"] == SESSIONS_ON_DAY
    assert data["summary"]["self_served_sessions"] == SERVED_ON_DAY
    assert data["summary"]["self_service_rate"] == round(SERVED_ON_DAY / SESSIONS_ON_DAY, 4)
    assert data["summary"]["searches"] == 13 and data["summary"]["zero_result_rate"] == round(2 / 13, 4)
    # the answer box answered 2 of 13 searches; 1 of its 2 votes was 👍
    assert data["summary"]["answer_coverage"] == round(2 / 13, 4) and data["summary"]["answer_helpful_rate"] == 0.5
    # the daily series agrees with the headline, and the day is attributed in the company's time zone
    (day,) = data["daily"]
    assert day["day"] == DAY.isoformat() and day["self_service_rate"] == round(5 / 11, 4)


def test_a_shorter_escalation_window_lets_the_late_visit_count_as_served(setup):
    _, db, _, _ = setup
    data = reports.report(db, reports.DateRange(DAY, DAY, ZONE), escalation_window=3600)
    assert data["summary"]["self_served_sessions"] == SERVED_ON_DAY + 1  # s6's visit came after 2 hours


def test_the_date_range_changes_the_figures_and_the_trend(manager):
    week = manager.get("/dashboard?days=7").get_data(as_text=True)
    month = manager.get("/dashboard?days=30").get_data(as_text=True)
    assert _cell(week, "sessions") == "11" and _cell(month, "sessions") == "13"
    assert _cell(week, "self_service_rate") == "45.5%" and _cell(month, "self_service_rate") == "46.2%"  # 6/13
    assert _cell(week, "answer_coverage") == "15.4%"  # 2/13
    assert "今天（截至 " in week and "<strong>最近 30 天</strong>" in month
    # the chart's last point is yesterday, a complete day, not today
    yesterday = (NOW.astimezone(ZONE).date() - dt.timedelta(days=1)).isoformat()
    assert f"<title>{yesterday}:" in month and f"<title>{NOW.astimezone(ZONE).date().isoformat()}:" not in month
    custom = manager.get(f"/dashboard?from={OLD.astimezone(ZONE).date()}&to={OLD.astimezone(ZONE).date()}")
    assert _cell(custom.get_data(as_text=True), "sessions") == "2"


def _cell(html, metric):
    row = re.search(rf'<tr data-metric="{metric}">.*?<td class="score">([^<]*)</td>', html, re.S)
    return row.group(1).strip()


def test_csv_numbers_equal_the_page_and_the_api(setup, manager):
    _, _, _, token = setup
    html = manager.get("/dashboard?days=7").get_data(as_text=True)
    r = manager.get("/dashboard/export/summary.csv?days=7")
    assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")))}
    assert f"{float(rows['self_service_rate']['value']) * 100:.1f}%" == _cell(html, "self_service_rate")
    assert rows["sessions"]["value"] == _cell(html, "sessions") == "11"
    api = manager.application.test_client().get("/api/analytics/summary?days=7",
                                                 headers={"Authorization": f"Bearer {token}"}).get_json()
    assert api["summary"]["self_service_rate"] == float(rows["self_service_rate"]["value"])
    # a table: top searches, in the CSV, on the page and through the API
    r = manager.get("/dashboard/export/top-searches.csv?days=7")
    top = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    # "导入": searched by s1-s7 (7), a result clicked by s1, s2, s3, s5, s6, s7 (6/7)
    assert top[0] == {"query": "导入", "searches": "7", "zero_results": "0", "click_through_rate": "0.8571"}
    assert '<td>导入</td><td class="score">7</td><td class="score">0</td><td class="score">85.7%</td>' in html
    rows = manager.application.test_client().get("/api/analytics/top-searches?days=7", headers={
        "Authorization": f"Bearer {token}"}).get_json()["rows"]
    assert rows[0] == {"query": "导入", "searches": 7, "zero_results": 0, "click_through_rate": 0.8571}


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=yesterday", "days=abc", "days=0", "days=9999",
                                   "from=2020-01-05&to=2020-01-01", "to=2026-01-01", "from=1900-01-01&to=1900-01-02",
                                   "from=2999-01-01"])
def test_bad_dates_are_a_400_with_a_message(setup, query):
    app, _, _, token = setup
    r = app.test_client().get(f"/api/analytics/summary?{query}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.get_json()["error"]["message"]


def test_the_analytics_api_is_for_managers_only(setup):
    app, db, _, _ = setup
    _, _, agent_token = accounts.create_user(db, "agent9", "agent")
    client = app.test_client()
    assert client.get("/api/analytics/summary").status_code == 401
    assert client.get("/api/analytics/modules", headers={"Authorization": f"Bearer {agent_token}"}).status_code == 403


def test_a_bad_range_on_the_page_says_so_and_shows_the_default(manager):
    r = manager.get("/dashboard?from=2026-02-30")
    assert r.status_code == 200 and "日期范围无效" in r.get_data(as_text=True)
    assert manager.get("/dashboard/export/nope.csv").status_code == 404


def test_kb_report_prints_the_figures_and_a_readable_line_for_a_bad_date(setup):
    from click.testing import CliRunner

    from kbserver.cli import cli

    app, _, _, _ = setup
    data = str(app.config["KB"]["data"])
    runner = CliRunner()
    result = runner.invoke(cli, ["report", "--data", data, "--from", DAY.isoformat(), "--to", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "自助解决率：45.5%（11 个搜索会话中的 5 个）" in result.output
    english = runner.invoke(cli, ["report", "--data", data, "--from", DAY.isoformat(), "--to", DAY.isoformat()],
                            env={"KB_LANGUAGE": "en"})
    assert "self-service rate: 45.5% (5 of 11 search sessions)" in english.output
    result = runner.invoke(cli, ["report", "--data", data, "--days", "7", "--csv", "--table", "top-searches"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "导入,7,0,0.8571"
    bad = runner.invoke(cli, ["report", "--data", data, "--from", "2026-02-30"])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "from 必须是 YYYY-MM-DD 格式的日期" in bad.output
    bad = runner.invoke(cli, ["report", "--data", data, "--from", "2026-02-30"], env={"KB_LANGUAGE": "en"})
    assert bad.exit_code == 1 and "from must be a date as YYYY-MM-DD, got '2026-02-30'" in bad.output


def test_a_visit_through_an_agents_link_in_the_searching_session_is_not_self_service(tmp_path, docs_dir, built):
    """Through HTTP: a customer searches and keeps a click, then opens the link an agent sent on a ticket."""
    from kbserver import create_app

    app = create_app({"docs": docs_dir, "data": built})
    try:
        db = open_db(app.config["KB"]["database_url"])
        link = links.record_link(db, "agent1", "ZD-7", "import/excel-import")
        client = app.test_client()
        for sid, visits in (("cust-a", False), ("cust-b", True)):
            headers = {"X-KB-Session": sid}
            found = client.get("/api/search?q=Excel 导入", headers=headers).get_json()
            r = client.post("/api/events/click", headers=headers, json={
                "query_id": found["query_id"], "slug": found["results"][0]["slug"], "position": 1})
            assert r.status_code == 202
            if visits:
                r = client.post("/api/agent/visit", headers=headers,
                                json={"ref": link["ref"], "slug": "import/excel-import"})
                assert r.status_code == 202, r.get_json()
        app.extensions["kb_events"].flush()
        data = reports.today(db, ZONE)
        assert data["sessions"] == 2 and data["self_served_sessions"] == 1  # cust-a only
    finally:
        app.extensions["kb_events"].close()


def test_module_health_splits_the_sessions_by_their_first_searchs_module(setup):
    _, db, _, _ = setup
    modules = {row["module"]: row for row in reports.report(db, reports.DateRange(DAY, DAY, ZONE))["modules"]}
    # import: s1-s7 (top result import/excel-import), served s1, s4, s7
    assert (modules["import"]["sessions"], modules["import"]["self_service_rate"]) == (7, round(3 / 7, 4))
    # guides: s10, s11 (guides/archive) and s9's second search; s9 counts where it started (no results: "")
    assert (modules["guides"]["sessions"], modules["guides"]["searches"]) == (2, 3)
    assert (modules[""]["sessions"], modules[""]["self_service_rate"]) == (2, 0.5)  # s8 (not), s9 (served)
    assert sum(m["sessions"] for m in modules.values()) == SESSIONS_ON_DAY


def test_a_search_typed_as_a_spreadsheet_formula_stays_text_in_the_csv():
    text = reports.to_csv([{"query": '=HYPERLINK("http://evil.example","点我")', "searches": 3, "rate": -0.5}])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row == {"query": '\'=HYPERLINK("http://evil.example","点我")', "searches": "3", "rate": "-0.5"}
