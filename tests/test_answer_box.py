"""The answer box in a real browser: a question typed into the site's search box gets the passage that
answers it above the results, linked to its section, and 👍 on it lands in answer_votes."""

import sqlite3
import time

import pytest
import requests

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.fixture(scope="module")
def embedded_site(live_site):
    """The live site once the background job has embedded every article (answers need the vectors)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        semantic = requests.get(live_site.url + "/api/health", timeout=5).json()["semantic"]
        if semantic.get("complete"):
            return live_site
        time.sleep(1)
    pytest.fail(f"passage vectors not filled in time: {semantic}")


def test_a_typed_question_shows_the_answer_with_its_section_link_and_a_vote_is_stored(page, embedded_site):
    page.goto(embedded_site.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.type("忘记密码怎么办", delay=20)
    answer = page.locator(".md-search-result .kb-answer")
    playwright_api.expect(answer).to_be_visible(timeout=20_000)
    playwright_api.expect(answer.locator(".kb-answer__title")).to_have_text("忘记密码与重置密码")
    playwright_api.expect(answer.locator(".kb-answer__heading")).to_have_text("操作步骤")
    playwright_api.expect(answer.locator(".kb-answer__passage ol li").first).to_contain_text("忘记密码")
    link = answer.locator("a.kb-answer__more")
    href = link.get_attribute("href")
    assert href.startswith(embedded_site.url + "/account/reset-password/#"), href
    # The results are still listed below the answer.
    playwright_api.expect(page.locator(".md-search-result__item").first).to_be_visible()

    answer.locator("button.kb-answer__vote", has_text="有帮助").click()
    playwright_api.expect(answer.locator(".kb-answer__status")).to_have_text("感谢您的反馈！")
    con = sqlite3.connect(embedded_site.data / "kb.db")
    votes = con.execute("SELECT slug, helpful FROM answer_votes").fetchall()
    con.close()
    assert ("account/reset-password", 1) in votes

    # The link opens the article at that section.
    link.click()
    page.wait_for_url(href)
    anchor = href.partition("#")[2]
    playwright_api.expect(page.locator(f"h2[id='{anchor}']")).to_have_text("操作步骤¶")


def test_a_keyword_search_shows_no_answer_box(page, embedded_site):
    page.goto(embedded_site.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.type("甘特图", delay=20)
    playwright_api.expect(page.locator(".md-search-result")).to_have_attribute("data-kb-query", "甘特图", timeout=20_000)
    playwright_api.expect(page.locator(".md-search-result .kb-answer")).to_have_count(0)
