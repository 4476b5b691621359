"""A manager approves a learned synonym in a real browser; the customer's word then finds the article."""

from __future__ import annotations

import re

import pytest
import requests

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402
from test_browser import search_in_site, sign_in  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_manager_approves_a_learned_synonym_and_the_customer_word_finds_the_article(browser, live_site):
    from km_traffic import Traffic

    from analytics import accounts
    from kbserver.db import open_db

    db = open_db(f"sqlite:///{live_site.data}/kb.db")
    traffic = Traffic(seed=11)
    for _ in range(4):
        traffic.reformulation("批条子怎么走", "审批怎么走", "approvals/multi-level-flows")
    traffic.write(db)
    _, password, _ = accounts.create_user(db, "赵敏", "manager")
    db.conn.close()
    before = requests.get(live_site.url + "/api/search", params={"q": "批条子"}, timeout=10).json()["results"]
    assert not any(r["slug"].startswith("approvals/") for r in before)

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_site, "赵敏", password)
    page.wait_for_url("**/dashboard")
    page.click("text=立即分析")
    expect(page.locator(".flash")).to_contain_text("分析完成")
    page.click("a[href='/synonyms']")
    row = page.locator("tr[data-customer='批条子']")
    expect(row).to_contain_text("批条子 → 审批")
    expect(row).to_contain_text("批条子怎么走 → 审批怎么走")
    row.locator("button[value=approve]").click()
    expect(page.locator(".flash")).to_contain_text("已采纳：批条子 → 审批")
    expect(page.locator("tr[data-customer='批条子']")).to_contain_text("赵敏")

    page.goto(live_site.url + "/")
    search_in_site(page, "批条子")
    expect(page.locator(".md-search-result__item").first.locator("a").first).to_have_attribute(
        "href", re.compile(r"approvals/"))
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
