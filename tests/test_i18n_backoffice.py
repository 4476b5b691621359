"""The back office's and the analytics' errors in the company's language (issue 13): a page or a banner says
the error in the language the person reads, the JSON API keeps the English message programs read."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest

from analytics import accounts
from analytics.report import resolve_range
from indexer.errors import InvalidInput
from indexer.i18n import LANGUAGES
from kbserver import create_app
from kbserver.db import open_db


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """A zh and an en app over one built index, each with its own database and a signed-in manager."""
    from conftest import FIXTURE_DOCS
    from indexer.build import build_full

    root = tmp_path_factory.mktemp("backoffice")
    build_full(FIXTURE_DOCS, root / "data")
    made = {}
    for lang in LANGUAGES:
        url = f"sqlite:///{root / lang}.db"
        app = create_app({"docs": FIXTURE_DOCS, "data": root / "data", "language": lang, "database_url": url,
                          "password_hash_cost": 1})
        made[lang] = {"app": app}
        for name, role in (("wang", "manager"), ("vipco", "vip")):
            user, password, token = accounts.create_user(open_db(url), name, role, hash_cost=1)
            client = app.test_client()
            csrf = _form_token(client, "/login")
            assert client.post("/login", data={"name": name, "password": password, "csrf_token": csrf}).status_code == 302
            made[lang][role] = {"client": client, "user": user, "token": token}
    yield made
    for lang in made.values():
        lang["app"].extensions["kb_events"].close()


def _form_token(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_dashboards_bad_custom_range_is_said_in_the_company_language(apps):
    """A hand-edited range (from after to): the dashboard says why in the company's language, not the API's."""
    with pytest.raises(InvalidInput) as bad:
        resolve_range(ZoneInfo("UTC"), "2026-01-10", "2026-01-05", now=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc))
    assert bad.value.message == "from (2026-01-10) must not be after to (2026-01-05)"
    pages = {lang: apps[lang]["manager"]["client"].get("/dashboard?from=2026-01-10&to=2026-01-05") for lang in LANGUAGES}
    for lang, page in pages.items():
        assert page.status_code == 200, lang
        assert html.escape(bad.value.said_in(lang)) in page.get_data(as_text=True), lang
    assert bad.value.message in pages["en"].get_data(as_text=True)
    zh = pages["zh"].get_data(as_text=True)
    assert "开始日期 from（2026-01-10）不能晚于结束日期 to（2026-01-05）" in zh and bad.value.message not in zh


def test_an_error_page_says_a_back_office_error_in_the_company_language(apps):
    """Removing an account without ticking the box: a 400 page whose details a Chinese team can read."""
    said = {"zh": "请先勾选确认框，再删除账号", "en": "tick the box to confirm removing the account"}
    for lang in LANGUAGES:
        client, user = apps[lang]["manager"]["client"], apps[lang]["manager"]["user"]
        answer = client.post(f"/users/{user['id']}", data={"action": "remove", "csrf_token": _form_token(client, "/users")},
                             headers={"Accept-Language": "en" if lang == "zh" else "zh-CN"})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400 and said[lang] in page, (lang, page[-800:])
        assert said["en" if lang == "zh" else "zh"] not in page
    assert accounts.find_user(open_db(apps["zh"]["app"].config["KB"]["database_url"]), "wang")  # nothing removed


def test_the_api_keeps_the_english_message_and_its_values_as_details(apps):
    for lang in LANGUAGES:
        client, token = apps[lang]["manager"]["client"], apps[lang]["manager"]["token"]
        answer = client.get("/api/flags?state=later", headers={"Authorization": f"Bearer {token}",
                                                                "Accept-Language": "zh-CN"})
        assert answer.status_code == 400, lang
        error = answer.json["error"]
        assert error["message"] == "state must be one of open, acknowledged, resolved, dismissed", error
        assert error["code"] == "invalid_input" and error["choices"] == "open, acknowledged, resolved, dismissed"


def test_the_public_sites_error_page_follows_the_readers_language(apps):
    """The site is not built in this fixture: kb's own 503 says what to run, in the reader's language."""
    client = apps["zh"]["app"].test_client()
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert "The help site has not been built yet: run `kb build`." in english
    chinese = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "帮助中心网站还没有生成，请运行 `kb build`" in chinese and "has not been built" not in chinese


def test_werkzeugs_english_descriptions_stay_off_a_chinese_page(apps):
    """A page sent a PUT (405): the page's headline and advice in Chinese, no English under them."""
    answer = apps["zh"]["manager"]["client"].put("/dashboard")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 405 and "不支持这种操作" in page and "not allowed" not in page


def test_a_refused_role_is_named_as_the_page_names_it_and_the_api_keeps_the_identifier(apps):
    """A VIP opening the dashboard: the 403 page names the roles (VIP 客户, 知识库管理员), not `vip`, `manager`
    (an English page says them as the API's message does)."""
    said = {"zh": "「VIP 客户」不能打开这个页面，只有这些角色可以：知识库管理员",
            "en": "the vip role cannot open this page; it is for: manager"}  # English: the identifiers, as the API
    for lang in LANGUAGES:
        vip = apps[lang]["vip"]
        page = vip["client"].get("/dashboard")
        assert page.status_code == 403 and said[lang] in page.get_data(as_text=True), (lang, page.get_data(as_text=True)[-900:])
        api = vip["client"].get("/api/flags", headers={"Authorization": f"Bearer {vip['token']}"})
        assert api.status_code == 403
        assert api.json["error"]["message"] == "the vip role cannot open this page; it is for: manager"
        assert api.json["error"]["role"] == "vip"


def test_a_refused_flag_decision_is_a_banner_naming_the_states(apps):
    """Resolving a flag another manager has just dismissed: the banner names both states as the dashboard does."""
    from analytics import flags as queue

    said = {"zh": "「已忽略」的问题不能改为「已解决」", "en": "a dismissed flag cannot become resolved"}
    for lang in LANGUAGES:
        db = open_db(apps[lang]["app"].config["KB"]["database_url"])
        queue.sync(db, [{"key": "gap:发票+抬头", "kind": "gap", "slug": "", "reason": "write", "title": "发票 / 抬头",
                         "path": "", "score": 0.6, "suggestion": "写新文章", "evidence": {"examples": ["发票抬头"]}}])
        flag = queue.list_flags(db, kind="gap")[0]
        flag = queue.transition(db, flag["id"], "dismissed", "li", flag["version"])
        client = apps[lang]["manager"]["client"]
        answer = client.post(f"/dashboard/flags/{flag['id']}", follow_redirects=True, data={
            "action": "resolve", "version": flag["version"], "csrf_token": _form_token(client, "/dashboard")})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200 and 'class="flash error"' in page, lang
        assert said[lang] in page, (lang, re.findall(r'class="flash error"[^>]*>([^<]*)', page))
        assert queue.get_flag(db, flag["id"])["state"] == "dismissed"  # nothing changed


def test_an_api_refusal_carries_english_for_programs_and_the_readers_language_for_pages(apps):
    """kb's own pages (editor, agent desk, ask form) show an API error to a person: they read error.text."""
    client = apps["zh"]["app"].test_client()
    query = "查" * 501
    zh = client.get("/api/search", query_string={"q": query}, headers={"Accept-Language": "zh-CN"}).get_json()
    en = client.get("/api/search", query_string={"q": query}, headers={"Accept-Language": "en-US"}).get_json()
    assert zh["error"]["message"] == en["error"]["message"] == en["error"]["text"]
    assert zh["error"]["message"].startswith("query is too long")
    assert re.search(r"[\u4e00-\u9fff]", zh["error"]["text"]) and "501" in zh["error"]["text"]


def test_a_back_office_page_calling_the_api_reads_its_refusals_in_the_company_language(apps):
    """The editor or the agent desk (a signed-in browser) shows error.text: the page's language, not the browser's."""
    signed_in = apps["zh"]["manager"]["client"]
    error = signed_in.get("/api/search", query_string={"q": "查" * 501},
                          headers={"Accept-Language": "en-US"}).get_json()["error"]
    assert error["message"].startswith("query is too long") and re.search(r"[\u4e00-\u9fff]", error["text"])
    anonymous = apps["zh"]["app"].test_client()
    error = anonymous.get("/api/search", query_string={"q": "查" * 501},
                          headers={"Accept-Language": "en-US"}).get_json()["error"]
    assert error["text"] == error["message"]  # a customer's browser: the reader's language
