"""The site's search box in a real browser: text that arrives without key-ups, IME, did-you-mean, stale answers, 👎 reason.

Material's search UI reads the box on key-up only; kb's theme (kb-search-box.js) makes every way text
arrives search, and the worker's answers carry their query (shown as data-kb-query on the result list).
"""

import functools
import http.server
import json
import sqlite3
import threading
import time

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESULT_LIST = ".md-search-result"
GANTT_HIT = {"slug": "gantt/baseline", "title": "甘特图基线", "url": "/gantt/baseline/", "path": "gantt/baseline.md",
             "summary": "", "module": "gantt", "snippet": "甘特图", "score": 1.0, "position": 1}


def open_search(page, url):
    page.goto(url)
    box = page.locator("input.md-search__input")
    box.click()
    return box


def shown_query(page, query, timeout=15_000):
    """Wait until the result list shows the answer to `query` (data-kb-query), then return the result items."""
    # expect() polls without eval: the site's Content-Security-Policy forbids eval (wait_for_function's way).
    playwright_api.expect(page.locator(RESULT_LIST)).to_have_attribute("data-kb-query", query, timeout=timeout)
    page.wait_for_selector(".md-search-result__item", timeout=timeout)
    return page.locator(".md-search-result__item")


def logged_queries(live_site, like):
    """Queries the site logged whose text matches the SQL LIKE pattern (waits for the writer's batch)."""
    for _ in range(40):
        con = sqlite3.connect(live_site.data / "kb.db")
        found = [q for (q,) in con.execute("SELECT query FROM searches WHERE source = 'site' AND query LIKE ?",
                                           [like])]
        con.close()
        if found:
            return found
        time.sleep(0.25)
    return []


def test_pasted_chinese_query_searches_without_any_key_event(page, live_site):
    box = open_search(page, live_site.url + "/")
    page.keyboard.insert_text("批量导入任务")  # what a right-click paste or autofill does: input only, no key events
    items = shown_query(page, "批量导入任务")
    assert "导入" in items.first.inner_text()
    assert box.input_value() == "批量导入任务"
    assert "批量导入任务" in logged_queries(live_site, "批量导入任务")


def test_words_committed_by_an_ime_are_searched(page, live_site):
    box = open_search(page, live_site.url + "/")
    box.type("甘特图 ")  # 甘特图 arrives as text, the space as a real key (whose key-up Material sees)
    shown_query(page, "甘特图 ")
    cdp = page.context.new_cdp_session(page)
    # Pinyin composed, then 依赖 committed: compositionstart/update/end and input, but no key-up.
    cdp.send("Input.imeSetComposition", {"text": "yi", "selectionStart": 2, "selectionEnd": 2})
    cdp.send("Input.imeSetComposition", {"text": "yilai", "selectionStart": 5, "selectionEnd": 5})
    # Chrome sends key-ups while composing (key "Process"); Material would search the box's "甘特图 yilai".
    box.evaluate("b => b.dispatchEvent(new KeyboardEvent('keyup', {key: 'Process', isComposing: true, bubbles: true}))")
    page.wait_for_timeout(600)  # longer than the worker's debounce: a pinyin query would have been sent
    cdp.send("Input.insertText", {"text": "依赖"})
    assert box.input_value() == "甘特图 依赖"
    items = shown_query(page, "甘特图 依赖")
    assert "依赖" in items.first.inner_text()
    assert "甘特图 依赖" in logged_queries(live_site, "甘特图%依赖")
    # Logged in order, so a pinyin search would be in by now: the half-typed pinyin was never searched.
    con = sqlite3.connect(live_site.data / "kb.db")
    assert con.execute("SELECT query FROM searches WHERE query LIKE '%yi%'").fetchall() == []
    con.close()


def test_did_you_mean_is_shown_and_clicking_it_searches_the_suggestion(page, live_site):
    open_search(page, live_site.url + "/")
    page.keyboard.insert_text("reset pasword")
    shown_query(page, "reset pasword")
    suggestion = page.locator(".kb-did-you-mean")
    assert suggestion.inner_text().startswith("你是不是要找")
    assert suggestion.locator("a").inner_text() == "reset password"
    suggestion.locator("a").click()
    items = shown_query(page, "reset password")
    assert page.locator("input.md-search__input").input_value() == "reset password"
    assert page.locator(".kb-did-you-mean").count() == 0  # the corrected query needs no suggestion
    assert "/account/reset-password/" in items.first.locator("a").first.get_attribute("href")


def test_fast_typing_shows_the_last_query_not_a_slower_earlier_answer(page, live_site):
    """The answer to 甘特图 is held back until after 重置密码 is answered: it must never replace it."""
    held = []

    def hold_first_query(route):
        if "q=%E7%94%98%E7%89%B9%E5%9B%BE&" in route.request.url:  # 甘特图: answered later, below
            held.append(route)
        else:
            route.continue_()

    page.context.route("**/api/search?*", hold_first_query)
    box = open_search(page, live_site.url + "/")
    page.keyboard.insert_text("甘特图")
    page.wait_for_timeout(800)  # past the worker's debounce: the request for 甘特图 is out, and held
    assert held, "the first query never reached the network"
    box.fill("重置密码")
    items = shown_query(page, "重置密码")
    try:
        held[0].fulfill(status=200, content_type="application/json", body=json.dumps(
            {"query": "甘特图", "query_id": "0" * 32, "total": 1, "results": [GANTT_HIT], "did_you_mean": None}))
    except playwright_api.Error:
        pass  # the worker gave up on it already
    page.wait_for_timeout(1500)  # the slow answer has had every chance to arrive
    assert page.locator(RESULT_LIST).get_attribute("data-kb-query") == "重置密码"
    assert "密码" in items.first.inner_text()
    assert "甘特图" not in page.locator(RESULT_LIST).inner_text()


def test_a_reason_after_thumbs_down_lands_in_the_votes_table(page, live_site):
    page.goto(live_site.url + "/gantt/dependencies/")
    page.locator("form.md-feedback button[data-md-value='0']").click()
    reason = page.locator(".kb-reason textarea")
    assert reason.is_visible() and reason.is_enabled()  # outside the fieldset Material disables after a vote
    reason.fill("截图是旧版本的，找不到“依赖类型”按钮")
    page.locator(".kb-reason button").click()
    page.wait_for_selector(".kb-reason__done")
    for _ in range(40):
        con = sqlite3.connect(live_site.data / "kb.db")
        votes = con.execute("SELECT helpful, comment FROM votes WHERE slug = 'gantt/dependencies'").fetchall()
        con.close()
        if (0, "截图是旧版本的，找不到“依赖类型”按钮") in votes:
            break
        time.sleep(0.25)
    assert (0, "截图是旧版本的，找不到“依赖类型”按钮") in votes, votes


def test_static_files_search_pasted_text_with_lunr(page, live_site):
    """Opened from a plain file server, the worker falls back to Material's lunr; pasting still searches."""
    from indexer.site import site_dir

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site_dir(live_site.data)))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        open_search(page, f"http://127.0.0.1:{server.server_port}/")
        page.keyboard.insert_text("关键路径")
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        texts = page.locator(".md-search-result__item").all_inner_texts()
        assert any("关键路径" in t or "Critical path" in t for t in texts)
        assert page.locator(".kb-did-you-mean").count() == 0
    finally:
        server.shutdown()
