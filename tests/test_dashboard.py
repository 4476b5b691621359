"""Accounts, sign-in, CSRF, roles, the manager's dashboard and the flags API."""

import re
import time

import pytest

from analytics import accounts
from analytics import flags as queue
from analytics.analyze import analyze
from analytics.simulate import simulate
from kbserver.cli import cli
from kbserver.db import open_db


@pytest.fixture
def db(app):
    return open_db(app.config["KB"]["database_url"])


@pytest.fixture
def users(db):
    made = {}
    for name, role in (("wang", "manager"), ("li", "manager"), ("vipco", "vip"), ("agent1", "agent")):
        user, password, token = accounts.create_user(db, name, role)
        made[name] = {"password": password, "token": token, **user}
    return made


@pytest.fixture
def queued(db, docs_dir):
    from indexer.articles import load_articles

    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs_dir)]
    report = analyze(db, articles)
    assert queue.list_flags(db), "fixture docs should have an overdue article"
    return report


def csrf(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, users, name):
    token = csrf(client)
    return client.post("/login", data={"name": name, "password": users[name]["password"], "csrf_token": token})


def test_anonymous_visitors_are_sent_to_sign_in(client):
    r = client.get("/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/api/flags").status_code == 401


def test_wrong_password_is_refused(client, users):
    token = csrf(client)
    r = client.post("/login", data={"name": "wang", "password": "nope", "csrf_token": token})
    assert r.status_code == 401 and "不正确" in r.get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(client, users):
    r = client.post("/login", data={"name": "wang", "password": users["wang"]["password"]})
    assert r.status_code == 400


def test_vip_and_agent_accounts_are_refused_the_dashboard(client, users):
    login(client, users, "vipco")
    r = client.get("/dashboard")
    assert r.status_code == 403
    r = client.get("/api/flags", headers={"Authorization": f"Bearer {users['agent1']['token']}"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_manager_sees_charts_gaps_and_flags(client, users, queued):
    login(client, users, "wang")
    html = client.get("/dashboard").get_data(as_text=True)
    assert html.count("<svg") == 6 and "零结果率" in html and "自助解决率" in html and "点击率" in html
    assert "已验证关闭的缺口" in html
    assert "复核逾期" in html and "import/" in html  # review_overdue by its name; the source path of a flagged article


def test_manager_resolves_a_flag_and_a_stale_page_cannot_overwrite_it(client, users, queued, db):
    flag = queue.list_flags(db)[0]
    login(client, users, "wang")
    token = csrf(client, "/dashboard")
    r = client.post(f"/dashboard/flags/{flag['id']}", data={"action": "resolve", "version": flag["version"],
                                                            "csrf_token": token})
    assert r.status_code == 302
    after = queue.get_flag(db, flag["id"])
    assert after["state"] == "resolved" and after["state_by"] == "wang"
    # li's page still shows the old version: her "dismiss" must not silently win
    other = client.application.test_client()
    login(other, users, "li")
    token = csrf(other, "/dashboard")
    r = other.post(f"/dashboard/flags/{flag['id']}", data={"action": "dismiss", "version": flag["version"],
                                                           "csrf_token": token}, follow_redirects=True)
    assert "没有保存" in r.get_data(as_text=True)
    assert queue.get_flag(db, flag["id"])["state"] == "resolved"


def test_flags_api_with_a_manager_token(client, users, queued, db):
    auth = {"Authorization": f"Bearer {users['wang']['token']}"}
    flags = client.get("/api/flags?state=open", headers=auth).get_json()["flags"]
    assert flags and all(f["state"] == "open" for f in flags)
    flag = flags[0]
    r = client.post(f"/api/flags/{flag['id']}", headers=auth, json={"state": "acknowledged", "version": flag["version"]})
    assert r.status_code == 200 and r.get_json()["state"] == "acknowledged"
    r = client.post(f"/api/flags/{flag['id']}", headers=auth, json={"state": "dismissed", "version": flag["version"]})
    assert r.status_code == 409
    assert client.post(f"/api/flags/{flag['id']}", headers=auth, json={"state": "x", "version": 1}).status_code in (400, 409)
    assert client.get("/api/flags", headers={"Authorization": "Bearer kb_wrong"}).status_code == 401
    assert client.get("/api/flags/999999", headers=auth).status_code == 404


def test_login_redirects_only_to_local_pages(client, users):
    token = csrf(client)
    r = client.post("/login?next=https://evil.example/", data={"name": "wang", "password": users["wang"]["password"],
                                                               "csrf_token": token})
    assert r.headers["Location"].endswith("/dashboard")


def test_kb_users_add_prints_credentials_once_and_they_work(runner, built, app):
    result = runner.invoke(cli, ["users", "add", "赵雪", "--role", "manager", "--data", str(built)])
    assert result.exit_code == 0, result.output
    password = re.search(r"密码：(\S+)", result.output).group(1)
    token = re.search(r"API 令牌：(\S+)", result.output).group(1)
    db = open_db(app.config["KB"]["database_url"])
    assert accounts.authenticate(db, "赵雪", password)["role"] == "manager"
    assert accounts.user_for_token(db, token)["name"] == "赵雪"
    assert password not in str(list(db["users"].rows))  # only hashes are stored
    again = runner.invoke(cli, ["users", "add", "赵雪", "--role", "vip", "--data", str(built)])
    assert again.exit_code == 1 and "已有名为 '赵雪' 的用户" in again.output, again.output
    bad = runner.invoke(cli, ["users", "add", "x", "--role", "admin", "--data", str(built)])
    assert bad.exit_code == 2 and "manager" in bad.output


def test_the_schedule_runs_the_analysis(app, db, real_index):
    from kbserver.jobs import start_schedule

    thread = start_schedule(app, 0.002)  # minutes: every 0.12 s
    try:
        for _ in range(100):
            if db["flags"].count:
                break
            time.sleep(0.1)
    finally:
        thread.stop.set()
    assert db["flags"].count > 0


def test_large_logs_are_sampled_and_say_so(db, monkeypatch, docs_dir, real_index):
    import datetime as dt

    from analytics import analyze as analyze_module
    from indexer.articles import load_articles
    from indexer.query import open_index

    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs_dir)]
    now = dt.datetime.now(dt.timezone.utc)
    simulate(db, open_index(real_index), articles, days=14, sessions_per_day=40, end=now)
    monkeypatch.setattr(analyze_module, "MAX_FAILED", 50)
    report = analyze(db, articles, now=now)
    assert report.sampled and report.failed > 50 and "（抽样）" in report.summary()
