"""没有找到完全匹配的文章 and 提交问题 in a real browser: the banner over weak results, the form, the manager's page."""

import time

import pytest
import requests

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.fixture(scope="module")
def site(live_site):
    """The live site once its passages are embedded (the weak-match rule is for the full search)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        semantic = requests.get(live_site.url + "/api/health", timeout=5).json()["semantic"]
        if not semantic.get("available") or semantic.get("complete"):
            break
        time.sleep(0.5)
    return live_site


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()


def search(page, site, query):
    page.goto(site.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.fill(query)
    box.press("End")
    expect(page.locator(".md-search-result")).to_have_attribute("data-kb-query", query, timeout=15_000)


def test_a_weak_query_shows_the_banner_above_its_results_and_the_question_reaches_a_manager(page, browser, site):
    search(page, site, "员工考勤打卡")
    banner = page.locator(".md-search-result .kb-ask")
    expect(banner).to_contain_text("没有找到完全匹配的文章")
    expect(page.locator(".md-search-result__item").first).to_be_visible()  # the weak matches are still listed
    page.click(".kb-ask__open")
    question = page.locator("#kb-ask-question")
    expect(question).to_have_value("员工考勤打卡")  # the search is the starting point of the question
    question.fill("")
    question.press_sequentially("我们想记录员工考勤打卡，<b>能</b>在项目里设置吗？")  # keys stay in the form
    page.locator("#kb-ask-email").press_sequentially("okr@example.com")
    page.click(".kb-ask__send")
    expect(page.locator(".kb-ask__done")).to_contain_text("已提交")
    assert page.csp_errors == []

    from analytics import accounts
    from kbserver.db import open_db

    db = open_db(f"sqlite:///{site.data}/kb.db")
    _, password, _ = accounts.create_user(db, "赵雪", "manager")
    manager = browser.new_context(locale="zh-CN").new_page()
    manager.goto(site.url + "/login")
    manager.fill("#name", "赵雪")
    manager.fill("#password", password)
    manager.click("button[type=submit]")
    manager.goto(site.url + "/questions")
    row = manager.locator("#questions tbody tr").first
    expect(row.locator(".question")).to_have_text("我们想记录员工考勤打卡，<b>能</b>在项目里设置吗？")  # shown as text
    expect(row).to_contain_text("okr@example.com")
    expect(row).to_contain_text("员工考勤打卡")
    expect(row.locator(".source")).to_have_text("帮助中心网站")  # asked on the site, not in the in-product widget
    assert manager.locator("#questions b").count() == 0
    manager.context.close()


def test_a_good_match_shows_no_banner(page, site):
    search(page, site, "如何导入Excel数据")
    expect(page.locator(".md-search-result__item").first).to_contain_text("Excel")
    expect(page.locator(".md-search-result .kb-ask")).to_have_count(0)


def test_a_refused_question_says_why_in_chinese(page, site):
    search(page, site, "员工考勤打卡")
    page.click(".kb-ask__open")
    page.locator("#kb-ask-email").fill("not-an-address")
    page.click(".kb-ask__send")
    expect(page.locator(".kb-ask__status")).to_contain_text("邮箱格式不正确")
