"""Evidence as sentences in a real browser on a real `kb serve`: a manager reads the dashboard's sentences,
clicks a number and gets a page listing exactly that many searches."""

import datetime as dt
import re
import shutil

import pytest

from analytics import accounts
from analytics.analyze import analyze
from analytics.simulate import simulate
from conftest import REAL_DOCS, LiveServer
from indexer.articles import load_articles
from indexer.query import open_index
from kbserver.db import open_db

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    """kb serve on the starter docs with a simulated fortnight analysed (its own data: no other test's traffic)."""
    root = tmp_path_factory.mktemp("evidence-live")
    docs, data = root / "docs", root / "data"
    shutil.copytree(REAL_DOCS, docs)
    shutil.copytree(real_index, data)
    db = open_db(f"sqlite:///{data}/kb.db")
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs)]
    simulate(db, open_index(data), articles, days=14, end=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    analyze(db, articles)
    _, password, _ = accounts.create_user(db, "王敏", "manager")
    live = LiveServer(docs, data)
    live.password, live.root = password, root
    yield live
    live.stop()


def test_a_manager_reads_sentences_and_each_number_opens_exactly_those_searches(page, server):
    page.goto(server.url + "/login")
    page.fill("#name", "王敏")
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    gaps = page.locator("#gaps + table")
    expect(gaps.locator(".kb-evidence").first).to_contain_text(re.compile(r"近 14 天这些说法被搜索 \d+ 次，\d+ 次（\d+%）失败："))
    expect(page.locator("#articles + table .kb-evidence").first).to_be_visible()
    body = page.inner_text("main, body")
    for raw in ("nearest_slug", "failure_rate", "reformulated:", "helpful_upper_bound"):
        assert raw not in body

    gaps.screenshot(path=str(server.root / "evidence-gaps.png"))
    page.locator("#articles + table").screenshot(path=str(server.root / "evidence-articles.png"))
    link = gaps.locator("a.kb-evidence-count[href*='outcome=reformulated']").first
    number = link.inner_text()
    link.click()
    page.wait_for_url("**/searches?outcome=reformulated")
    expect(page.locator("#kb-search-count")).to_have_text(number)
    expect(page.locator("table.kb-flag-searches tbody tr")).to_have_count(min(int(number), 200))
    expect(page.locator("table.kb-flag-searches tbody tr").first).to_contain_text("改换说法")
    expect(page.locator("table.kb-flag-searches time").first).to_be_visible()  # local time, relative where it helps
    page.screenshot(path=str(server.root / "evidence-searches.png"))

    page.go_back()
    flag = gaps.locator("tbody tr").first.locator("a").first
    flag.click()
    page.wait_for_url(re.compile(r"/dashboard/flags/\d+$"))
    evidence = page.locator("h2:has-text('证据') + ul.kb-evidence")
    expect(evidence).to_contain_text("失败")
    total = evidence.locator("a.kb-evidence-count[href$='outcome=failed']")
    number = total.inner_text()
    total.click()
    expect(page.locator("#kb-search-count")).to_have_text(number)
