"""Editing in kb in a real browser (Debian's chromium via Playwright) against a real `kb serve`: a manager
opens a gap from the dashboard, edits the article with the gap's queries beside it, saves, finds the new text
by searching the site, sees the revision and its diff in the history and restores the old text; two managers
editing the same article: the second save is refused with the diff."""

from __future__ import annotations

import shutil
import time

import pytest

from conftest import REAL_DOCS, LiveServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "import/excel-import"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from analytics import accounts, flags
    from kbserver.db import open_db

    root = tmp_path_factory.mktemp("edit-live")
    docs, data = root / "docs", root / "data"
    shutil.copytree(REAL_DOCS, docs)
    live = LiveServer(docs, data, {"KB_SEMANTIC_MODEL": "off", "KB_ANALYZE_EVERY": "0"})
    live.docs = docs
    db = open_db(f"sqlite:///{data / 'kb.db'}")
    live.passwords = {name: accounts.create_user(db, name, "manager")[1] for name in ("王敏", "李雷")}
    flags.sync(db, [{"key": "gap:导进来+日期", "kind": "gap", "reason": "improve", "title": "导进来 / 日期", "score": 5.0,
                     "evidence": {"examples": ["excel导进来日期全空了", "表格导进来日期没了"], "terms": ["导进来", "日期"],
                                  "missing_words": ["导进来"], "representative": "excel导进来日期全空了",
                                  "volume": 12, "sessions": 9, "trend": 1.0, "nearest_slug": SLUG,
                                  "nearest_title": "从 Excel 导入任务", "similarity": 0.41},
                     "suggestion": "「从 Excel 导入任务」覆盖这个主题，但读者没找到：把这些词加进文章：导进来"}])
    live.gap_id = flags.list_flags(db, kind="gap")[0]["id"]
    db.conn.close()
    yield live
    live.stop()


def signed_in(browser, server, name):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    page.goto(server.url + "/login")
    page.fill("#name", name)
    page.fill("#password", server.passwords[name])
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    return page


def test_manager_edits_from_a_gap_finds_the_text_sees_the_diff_and_restores(browser, server):
    page = signed_in(browser, server, "王敏")
    original = (server.docs / "import/excel-import.md").read_text(encoding="utf-8")
    page.locator(f"#flag-{server.gap_id} a.kb-edit").click()
    page.wait_for_url(f"**/edit/{SLUG}?gap={server.gap_id}")
    expect(page.locator("#gap-queries")).to_contain_text("excel导进来日期全空了")
    expect(page.locator("#gap")).to_contain_text("导进来")
    expect(page.locator("#preview h2").first).to_be_visible()  # the live preview of the current body

    body = page.locator("#body")
    body.fill(body.input_value() + "\n\n## 表格导进来以后日期是空的\n\n把日期列设成文本格式，再用紫藤校验单核对一遍。\n")
    expect(page.locator("#preview")).to_contain_text("紫藤校验单")
    page.fill("#message", "加上读者的说法：导进来")
    page.click("#save")
    expect(page.locator("#status")).to_contain_text("已保存")

    # Search on the site finds the new words as soon as the save has answered.
    page.goto(server.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.fill("紫藤校验单")
    box.press("End")
    expect(page.locator(".md-search-result__item").first).to_contain_text("从 Excel 导入任务", timeout=15_000)
    # The article's page is refreshed (a background site build without a per-article updater) and offers
    # "编辑文章" to the signed-in manager.
    for _ in range(120):  # the build runs in the background: reload until the page has the new text
        page.goto(server.url + f"/{SLUG}/")
        if "紫藤校验单" in page.locator("article").inner_text():
            break
        time.sleep(0.5)
    expect(page.locator("article")).to_contain_text("紫藤校验单")
    expect(page.locator("a.kb-edit-link")).to_have_attribute("href", f"/edit/{SLUG}")

    page.goto(server.url + f"/history/{SLUG}")
    rows = page.locator("#revisions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("王敏")
    expect(rows.first).to_contain_text("加上读者的说法")
    expect(page.locator("table.diff")).to_contain_text("紫藤校验单")  # side by side: the newest against the one before
    page.locator("#revisions tbody tr").last.get_by_role("button", name="恢复此版本").click()
    expect(page.locator(".flash")).to_contain_text("已恢复")
    expect(page.locator("#revisions tbody tr")).to_have_count(3)
    assert (server.docs / "import/excel-import.md").read_text(encoding="utf-8") == original
    assert page.csp_errors == []
    page.context.close()


def test_article_page_has_no_edit_link_for_visitors(browser, server):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/account/reset-password/")
    expect(page.locator("article h1").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator("a.kb-edit-link")).to_have_count(0)
    context.close()


def test_two_managers_editing_at_once_the_second_is_refused_with_the_diff(browser, server):
    first, second = signed_in(browser, server, "王敏"), signed_in(browser, server, "李雷")
    for page in (first, second):
        page.goto(server.url + "/edit/account/reset-password")
        expect(page.locator("#body")).not_to_be_empty()
    first.locator("#body").fill(first.locator("#body").input_value() + "\n王敏加的一句话。\n")
    first.click("#save")
    expect(first.locator("#status")).to_contain_text("已保存")
    second.locator("#body").fill(second.locator("#body").input_value() + "\n李雷加的一句话。\n")
    second.click("#save")
    expect(second.locator("#conflict")).to_be_visible()
    expect(second.locator("#conflict-message")).to_contain_text("没有保存")
    expect(second.locator("#conflict-diff")).to_contain_text("-王敏加的一句话。")
    expect(second.locator("#conflict-diff")).to_contain_text("+李雷加的一句话。")
    text = (server.docs / "account/reset-password.md").read_text(encoding="utf-8")
    assert "王敏加的一句话。" in text and "李雷加的一句话。" not in text
    assert first.csp_errors == [] and second.csp_errors == []
    first.context.close()
    second.context.close()
