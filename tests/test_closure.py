"""Verified closure: a fix linked to a gap is judged by the failure rate of the gap's searches after it."""

import datetime as dt
import re

import pytest

from analytics import accounts
from analytics import closure as fixes
from analytics import flags as queue
from analytics.analyze import analyze
from analytics.closure import ClosureRules
from analytics.events import insert_events
from indexer.clock import iso
from indexer.errors import Conflict, InvalidInput
from kbserver.db import open_db

FIX_DAY = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc)
QUERIES = ["重置密码", "忘记密码怎么办", "pasword reset"]


def traffic(db, start: dt.datetime, searches: int, failing: int, queries=QUERIES, slug="accounts/password") -> None:
    """`searches` searches of the gap's queries from `start`, one per session; the first `failing` are not clicked."""
    rows, clicks = [], []
    for n in range(searches):
        when = start + dt.timedelta(hours=n)
        qid = f"q{start:%m%d%H}{n:04d}"
        rows.append({"query_id": qid, "ts": iso(when), "session": f"s{qid}", "query": queries[n % len(queries)],
                     "normalized": queries[n % len(queries)].lower(), "results": 2,
                     "top_slugs": f'["{slug}"]', "took_ms": 1.0, "module": "", "tag": "", "page": 1,
                     "source": "test"})
        if n >= failing:
            clicks.append({"ts": iso(when + dt.timedelta(seconds=5)), "query_id": qid, "slug": slug, "position": 1,
                           "session": f"s{qid}"})
    insert_events(db, "searches", rows)
    insert_events(db, "clicks", clicks)


def gap_flag(db) -> dict:
    queue.sync(db, [{"key": "gap:密码+重置", "kind": "gap", "slug": "accounts/password", "reason": "improve",
                     "title": "密码 / 重置", "path": "", "score": 0.6, "suggestion": "改进文章",
                     "evidence": {"examples": QUERIES[:2], "queries": QUERIES}}])
    return queue.list_flags(db, kind="gap")[0]


@pytest.fixture
def db(tmp_path):
    return open_db(f"sqlite:///{tmp_path}/kb.db")


def test_link_fix_records_the_failure_rate_before_and_resolves_the_flag(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=20, failing=16)  # 80% fail before the fix
    flag = gap_flag(db)
    fix = fixes.link_fix(db, flag["id"], "accounts/password", "王敏", now=FIX_DAY)
    assert (fix["before_searches"], fix["before_failed"], fix["before_rate"]) == (20, 16, 0.8)
    assert fix["state"] == "measuring" and "修复前失败率 80%" in fix["status"]
    after = queue.get_flag(db, flag["id"])
    assert after["state"] == "resolved" and after["state_by"] == "王敏"
    assert after["history"][-1]["note"] == "修复：accounts/password"
    with pytest.raises(Conflict):  # one fix verified at a time per flag
        fixes.link_fix(db, flag["id"], "accounts/other", "李娜", now=FIX_DAY)


def test_a_fix_that_works_is_verified_after_enough_searches(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=20, failing=16)
    flag = gap_flag(db)
    fixes.link_fix(db, flag["id"], "accounts/password", "王敏", now=FIX_DAY)
    traffic(db, FIX_DAY + dt.timedelta(hours=1), searches=10, failing=1)
    rules = ClosureRules(after_searches=30, after_days=14)
    # 10 searches after 2 days: not enough evidence yet, still measuring
    assert fixes.verify_fixes(db, now=FIX_DAY + dt.timedelta(days=2), closure=rules)["measuring"] == 1
    traffic(db, FIX_DAY + dt.timedelta(days=2), searches=30, failing=3)
    assert fixes.verify_fixes(db, now=FIX_DAY + dt.timedelta(days=4), closure=rules)["verified"] == 1
    fix = fixes.fixes_for_flag(db, flag["id"])[0]
    assert (fix["after_searches"], fix["after_failed"]) == (40, 4)
    assert fix["status"].startswith("已验证关闭: 失败率 80% → 10%")
    assert queue.get_flag(db, flag["id"])["state"] == "resolved"
    assert ("2026-11-14", 1) in fixes.verified_by_day(db, "2026-11-01", "2026-11-20")


def test_a_fix_that_did_not_work_reopens_the_gap_with_the_new_evidence(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=20, failing=16)
    flag = gap_flag(db)
    fixes.link_fix(db, flag["id"], "accounts/password", "王敏", now=FIX_DAY)
    traffic(db, FIX_DAY + dt.timedelta(hours=1), searches=30, failing=21)
    summary = fixes.verify_fixes(db, now=FIX_DAY + dt.timedelta(days=3))
    assert summary["ineffective"] == 1
    fix = fixes.fixes_for_flag(db, flag["id"])[0]
    assert fix["status"].startswith("修复未生效: 失败率 80% → 70%")
    reopened = queue.get_flag(db, flag["id"])
    assert reopened["state"] == "open" and reopened["state_by"] == fixes.VERIFIER
    note = reopened["history"][-1]["note"]
    assert "修复未生效" in note and "重置密码" in note  # the searches that still fail
    # a new fix can now be linked and measured from scratch
    assert fixes.link_fix(db, flag["id"], "accounts/password", "李娜", now=FIX_DAY + dt.timedelta(days=3))["state"] == "measuring"


def test_after_the_days_a_fix_is_judged_on_the_searches_it_has(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=20, failing=16)
    flag = gap_flag(db)
    fixes.link_fix(db, flag["id"], "accounts/password", "王敏", now=FIX_DAY)
    traffic(db, FIX_DAY + dt.timedelta(hours=1), searches=5, failing=0)
    assert fixes.verify_fixes(db, now=FIX_DAY + dt.timedelta(days=13))["measuring"] == 1
    assert fixes.verify_fixes(db, now=FIX_DAY + dt.timedelta(days=14, hours=1))["verified"] == 1


def test_an_article_flag_is_measured_on_the_searches_that_put_it_first(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=10, failing=6, queries=["通知"], slug="trouble/notify")
    queue.sync(db, [{"key": "article:trouble/notify:unhelpful", "kind": "article", "slug": "trouble/notify",
                     "reason": "unhelpful", "title": "收不到通知", "path": "trouble/notify.md", "score": 0.5,
                     "suggestion": "", "evidence": {"helpful": 2, "votes": 10}}])
    flag = queue.list_flags(db, kind="article")[0]
    fix = fixes.link_fix(db, flag["id"], "trouble/notify", "王敏", now=FIX_DAY)
    assert fix["before_rate"] == 0.6 and fix["queries"] == []


def test_bad_input_is_refused_and_nothing_is_recorded(db):
    flag = gap_flag(db)
    for slug in ("", "   ", None, 5, "x" * 301):
        with pytest.raises(InvalidInput):
            fixes.link_fix(db, flag["id"], slug, "王敏")
    assert fixes.fixes_for_flag(db, flag["id"]) == []
    assert queue.get_flag(db, flag["id"])["state"] == "open"


def test_analyze_verifies_fixes_and_the_reopened_gap_stays_open(db):
    traffic(db, FIX_DAY - dt.timedelta(days=3), searches=20, failing=16)
    flag = gap_flag(db)
    fixes.link_fix(db, flag["id"], "accounts/password", "王敏", now=FIX_DAY)
    traffic(db, FIX_DAY + dt.timedelta(hours=1), searches=40, failing=30)
    report = analyze(db, [], now=FIX_DAY + dt.timedelta(days=3), closure=ClosureRules(after_searches=30))
    assert report.fixes["ineffective"] == 1 and "修复的验证：" in report.summary()
    assert queue.get_flag(db, flag["id"])["state"] == "open"


# -- the pages and the API ---------------------------------------------------------------------------------
def _csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def manager(app):
    db = open_db(app.config["KB"]["database_url"])
    _, password, token = accounts.create_user(db, "wang", "manager")
    return db, password, token


def test_a_manager_links_a_fix_from_the_flag_page_and_sees_it_on_the_dashboard(app, client, manager):
    db, password, _ = manager
    traffic(db, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2), searches=10, failing=8)
    flag = gap_flag(db)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": _csrf(client, "/login")})
    slug = app.extensions["kb_index"].search("导入")["results"][0]["slug"]
    page = f"/dashboard/flags/{flag['id']}"
    r = client.post(f"{page}/fix", data={"slug": slug, "csrf_token": _csrf(client, page)}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "已关联修复" in html and "修复前失败率 80%" in html
    assert queue.get_flag(db, flag["id"])["state"] == "resolved"
    dashboard = client.get("/dashboard?show=all").get_data(as_text=True)
    assert "修复验证" in dashboard and slug in dashboard and "已验证关闭的缺口" in dashboard
    # an article that does not exist: a readable refusal, nothing recorded
    r = client.post(f"{page}/fix", data={"slug": "no/such", "csrf_token": _csrf(client, page)}, follow_redirects=True)
    assert "没有保存" in r.get_data(as_text=True) and len(fixes.fixes_for_flag(db, flag["id"])) == 1


def test_the_fix_api_answers_4xx_json_for_bad_input(app, client, manager):
    db, _, token = manager
    flag = gap_flag(db)
    auth = {"Authorization": f"Bearer {token}"}
    slug = app.extensions["kb_index"].search("导入")["results"][0]["slug"]
    for body, status in (([], 400), ({"slug": 3}, 400), ({"slug": ""}, 400), ({"slug": "no/such"}, 404)):
        r = client.post(f"/api/flags/{flag['id']}/fix", json=body, headers=auth)
        assert r.status_code == status and r.get_json()["error"]["message"], (body, r.get_json())
    assert client.post("/api/flags/99999/fix", json={"slug": slug}, headers=auth).status_code == 404
    r = client.post(f"/api/flags/{flag['id']}/fix", json={"slug": slug}, headers=auth)
    assert r.status_code == 201 and r.get_json()["state"] == "measuring"
    assert client.post(f"/api/flags/{flag['id']}/fix", json={"slug": slug}, headers=auth).status_code == 409
    listed = client.get(f"/api/flags/{flag['id']}/fixes", headers=auth).get_json()["fixes"]
    assert [f["slug"] for f in listed] == [slug]


def test_an_edit_started_from_a_flag_links_the_fix_with_the_rate_before(db, tmp_path):
    import shutil

    from conftest import FIXTURE_DOCS
    from contrib import editing

    docs = tmp_path / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    now = dt.datetime.now(dt.timezone.utc)
    traffic(db, now - dt.timedelta(days=3), searches=10, failing=7)
    flag = gap_flag(db)
    article = editing.read_article(docs, "import/csv-encoding")
    saved = editing.save_article(docs, db, tmp_path, "import/csv-encoding", article["fields"],
                                 article["body"] + "\n## 忘记密码\n\n读者的说法。\n", article["hash"], "王敏", flag_id=flag["id"])
    fix = fixes.fixes_for_flag(db, flag["id"])[0]
    assert saved["flag_linked"]["id"] == fix["id"] and fix["slug"] == "import/csv-encoding"
    assert fix["before_rate"] == 0.7 and fix["actor"] == "王敏"
    assert queue.get_flag(db, flag["id"])["state"] == "resolved"
