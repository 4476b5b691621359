"""The head of support's dashboard in a real browser (Debian's chromium via Playwright) against a real
`kb serve`: choosing "最近 30 天" changes the figures, and a downloaded CSV holds the numbers the page shows."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from test_report import build

from conftest import REAL_DOCS, LiveServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from analytics import accounts
    from kbserver.db import open_db

    root = tmp_path_factory.mktemp("report-live")
    docs, data = root / "docs", root / "data"
    shutil.copytree(REAL_DOCS, docs)
    live = LiveServer(docs, data, {"KB_SEMANTIC_MODEL": "off", "KB_ANALYZE_EVERY": "0", "KB_TIME_ZONE": "Asia/Shanghai"})
    db = open_db(f"sqlite:///{data / 'kb.db'}")
    build(db)  # the hand-counted sessions of tests/test_report.py
    live.password = accounts.create_user(db, "赵雪", "manager")[1]
    db.conn.close()
    yield live
    live.stop()


def test_choosing_30_days_changes_the_figures_and_the_csv_equals_the_page(server, tmp_path, browser):
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(server.url + "/login")
        page.fill("#name", "赵雪")
        page.fill("#password", server.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
        sessions = page.locator('tr[data-metric="sessions"] td.score')
        rate = page.locator('tr[data-metric="self_service_rate"] td.score')
        expect(sessions).to_have_text("11")  # last 7 days: the eleven hand-counted sessions
        expect(rate).to_have_text("45.5%")
        expect(page.locator("#kb-today")).to_contain_text("今天（截至 ")

        page.get_by_role("link", name="最近 30 天").click()
        expect(page.locator("nav.kb-range strong")).to_have_text("最近 30 天")
        expect(sessions).to_have_text("13")  # two more sessions 20 days earlier
        expect(rate).to_have_text("46.2%")
        page.screenshot(path=str(tmp_path / "dashboard-30-days.png"), full_page=True)

        with page.expect_download() as info:
            page.locator("#kb-range-shown a.kb-csv").click()
        download = info.value
        assert download.suggested_filename.startswith("kb-summary-") and download.suggested_filename.endswith(".csv")
        text = open(download.path(), encoding="utf-8-sig").read()
        rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(text))}
        assert rows["sessions"]["value"] == sessions.inner_text()
        assert f"{float(rows['self_service_rate']['value']) * 100:.1f}%" == rate.inner_text()
    finally:
        context.close()
