"""The help site in a real browser (Debian's chromium driven by Playwright), as a customer uses it."""

import functools
import http.server
import re
import sqlite3
import threading
import time

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def search_in_site(page, query):
    box = page.locator("input.md-search__input")
    box.click()
    box.fill(query)
    box.press("End")  # Material listens to keyup
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    return page.locator(".md-search-result__item")


def rows(live_site, sql):
    # The server writes in batches every 0.25 s; wait a little for the batch that holds our event.
    for _ in range(40):
        con = sqlite3.connect(live_site.data / "kb.db")
        found = con.execute(sql).fetchall()
        con.close()
        if found:
            return found
        time.sleep(0.25)
    return []


def test_chinese_query_in_the_search_box_finds_the_right_article(page, live_site):
    page.goto(live_site.url + "/")
    results = search_in_site(page, "如何导入Excel数据")
    first = results.first
    assert "从 Excel 导入任务" in first.inner_text()
    assert first.locator("mark").count() >= 1  # highlighted snippet from the service
    page.screenshot(path=str(live_site.data.parent / "search.png"))

    first.locator("a").first.click()
    page.wait_for_url("**/import/excel-import/**")
    assert "kbq=" not in page.url  # the click reference is logged, then removed from the address bar
    assert rows(live_site, "SELECT slug, position FROM clicks WHERE slug='import/excel-import'") == [
        ("import/excel-import", 1)]
    searches = rows(live_site, "SELECT source FROM searches WHERE query='如何导入Excel数据'")
    assert ("site",) in searches


def test_was_this_helpful_vote_reaches_the_service(page, live_site):
    page.goto(live_site.url + "/account/reset-password/")
    page.locator("form.md-feedback button[data-md-value='0']").click()
    assert page.locator(".md-feedback__note [data-md-value='0']").is_visible()
    assert rows(live_site, "SELECT helpful, source FROM votes WHERE slug='account/reset-password'") == [(0, "site")]
    assert "最近审核" in page.inner_text("article")


def test_static_files_without_the_service_still_search_chinese(page, live_site, tmp_path):
    """Opened from a plain file server, the worker falls back to Material's lunr search."""
    from indexer.site import site_dir

    root = site_dir(live_site.data)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        text = search_in_site(page, "关键路径").all_inner_texts()
        assert any("关键路径" in t or "Critical path" in t for t in text)
    finally:
        server.shutdown()


def test_typing_logs_the_settled_query_not_every_keystroke(page, live_site):
    page.goto(live_site.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.type("reset password", delay=60)
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    page.wait_for_timeout(800)
    logged = [q for (q,) in rows(live_site, "SELECT query FROM searches WHERE source = 'site' AND query LIKE 're%'")]
    assert "reset password" in logged and len(logged) <= 3, logged
    assert "Reset" in page.locator(".md-search-result__item").first.inner_text() or \
        "密码" in page.locator(".md-search-result__item").first.inner_text()


def test_article_urls_without_trailing_slash_redirect_so_links_work(page, live_site):
    page.goto(live_site.url + "/gantt/critical-path")
    assert page.url.endswith("/gantt/critical-path/")
    page.locator("article a[href*='dependencies']").first.click()
    page.wait_for_load_state()
    assert "/gantt/dependencies/" in page.url and "404" not in page.title()


@pytest.fixture(scope="module")
def manager_setup(live_site):
    from analytics import accounts
    from analytics.analyze import analyze
    from analytics.simulate import simulate
    from conftest import REAL_DOCS
    from indexer.articles import load_articles
    from indexer.query import open_index
    from kbserver.db import open_db

    db = open_db(f"sqlite:///{live_site.data}/kb.db")
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(REAL_DOCS)]
    simulate(db, open_index(live_site.data), articles, days=14)
    analyze(db, articles)
    _, manager_password, _ = accounts.create_user(db, "王敏", "manager")
    _, vip_password, _ = accounts.create_user(db, "acme-vip", "vip")
    return {"manager": manager_password, "vip": vip_password, "db": db}


def sign_in(page, live_site, name, password):
    page.goto(live_site.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_manager_signs_in_sees_health_and_queue_and_resolves_a_flag(page, live_site, manager_setup):
    sign_in(page, live_site, "王敏", manager_setup["manager"])
    page.wait_for_url("**/dashboard")
    assert page.locator("svg.kb-chart").count() == 6  # 5 search-health charts (self-service rate too), closures
    assert page.locator("#gaps + table tbody tr").count() >= 3
    row = page.locator("#articles + table tbody tr").first
    flag_id = int(row.get_attribute("id").split("-")[1])
    row.locator("button[value=resolve]").click()
    page.wait_for_selector(".flash")
    assert "已解决" in page.inner_text(".flash")
    from analytics.flags import get_flag

    flag = get_flag(manager_setup["db"], flag_id)
    assert flag["state"] == "resolved" and flag["state_by"] == "王敏"
    page.screenshot(path=str(live_site.data.parent / "dashboard.png"), full_page=True)


def test_manager_links_a_fix_from_a_gap_and_sees_its_verification(page, live_site, manager_setup):
    from analytics.flags import list_flags

    expect = playwright_api.expect
    gap = next(f for f in list_flags(manager_setup["db"], kind="gap") if f["state"] == "open")
    sign_in(page, live_site, "王敏", manager_setup["manager"])
    page.wait_for_url("**/dashboard")
    page.goto(f"{live_site.url}/dashboard/flags/{gap['id']}")
    page.fill("form.link-fix input[name=slug]", "import/excel-import")
    page.click("form.link-fix button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已关联修复：import/excel-import")
    expect(page.locator("#fixes + table .fix-status")).to_contain_text("修复前失败率")
    expect(page.locator("h1 .tag.resolved")).to_have_text("已解决")  # the state reads in Chinese; the class keeps the id
    page.goto(f"{live_site.url}/dashboard?show=all")
    expect(page.locator("#fixes + table")).to_contain_text("import/excel-import")


def test_anonymous_and_vip_visitors_are_refused_the_dashboard(page, live_site, manager_setup):
    page.goto(live_site.url + "/dashboard")
    assert "/login" in page.url and page.locator("#password").is_visible()
    sign_in(page, live_site, "acme-vip", manager_setup["vip"])
    response = page.goto(live_site.url + "/dashboard")
    body = page.inner_text("body")  # the refusal names the roles as people call them, not their codes
    assert response.status == 403 and "知识库管理员" in body and "manager" not in body


def test_vip_practice_from_submission_to_search_with_an_inert_xss_payload(browser, live_site, manager_setup):
    from analytics import accounts

    db = manager_setup["db"]
    _, vip_password, _ = accounts.create_user(db, "globex-vip", "vip")
    vip = browser.new_context(locale="zh-CN").new_page()
    manager = browser.new_context(locale="zh-CN").new_page()
    dialogs = []
    for p in (vip, manager):
        p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(vip, live_site, "globex-vip", vip_password)
    vip.wait_for_url("**/contrib")
    vip.click("text=提交新的最佳实践")
    vip.fill("#title", "用看板做跨部门采购审批")
    vip.fill("#summary", "把采购审批拆到看板泳道里，每个部门一条泳道。")
    vip.fill("#tags", "看板, 审批, 采购")
    vip.fill("#module", "approvals")
    vip.fill("#organisation", "Globex 集团")
    vip.fill("#body", "## 做法\n\n按部门建泳道 <img src=x onerror=alert('xss')>\n\n<script>alert('xss')</script>")
    # (not wait_for_function: Playwright evaluates its string with eval, which the site's CSP refuses)
    playwright_api.expect(vip.locator("#preview")).to_contain_text("按部门建泳道", timeout=15_000)
    assert vip.locator("#preview img[onerror]").count() == 0
    vip.check("#consent")
    vip.click("button[value=submit]")
    vip.wait_for_selector("#state")
    assert vip.inner_text("#state") == "已提交"
    sid = int(vip.url.rstrip("/").split("/")[-1])

    sign_in(manager, live_site, "王敏", manager_setup["manager"])
    manager.goto(f"{live_site.url}/review/{sid}")
    assert manager.locator("#preview img[onerror]").count() == 0
    manager.fill("form[action$='request_changes'] input[name=note]", "请补充一个示例")
    manager.click("button[data-action=request_changes]")
    manager.wait_for_selector(".flash")
    assert manager.inner_text("#state") == "需修改"

    vip.goto(f"{live_site.url}/contrib/{sid}")
    assert "请补充一个示例" in vip.inner_text("#comments ~ div, .comment")
    vip.fill("#body", "## 做法\n\n按部门建泳道 <img src=x onerror=alert('xss')>\n\n## 示例\n\n采购部、财务部各一条泳道。")
    vip.click("button[value=submit]")
    vip.wait_for_selector("#state")
    assert vip.inner_text("#state") == "审核中"  # straight back to the reviewer who asked for the changes

    manager.goto(f"{live_site.url}/review/{sid}")
    assert manager.locator("table.diff").count() == 1  # side-by-side diff of the two revisions
    manager.click("button[data-action=approve]")
    manager.wait_for_selector(".flash")
    assert manager.inner_text("#state") == "已发布"
    # The page is rendered in the background: the review page says so, then follows it until it is live.
    status = manager.locator("#site-status")
    playwright_api.expect(status).to_contain_text(re.compile("发布中…|已上线"))
    playwright_api.expect(status).to_have_attribute("data-state", "live", timeout=60_000)
    playwright_api.expect(status).to_contain_text("已上线")

    reader = browser.new_context(locale="zh-CN").new_page()
    reader.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    reader.goto(live_site.url + "/")
    results = search_in_site(reader, "看板 跨部门采购审批")
    assert "用看板做跨部门采购审批" in results.first.inner_text()
    results.first.locator("a").first.click()
    reader.wait_for_selector(".kb-badge")
    assert "客户最佳实践 · 来自 Globex 集团" in reader.inner_text(".kb-badge")
    assert reader.locator("article img[onerror]").count() == 0 and "采购部" in reader.inner_text("article")
    reader.wait_for_timeout(300)
    assert dialogs == []  # no script ran anywhere


def test_agent_pastes_a_ticket_copies_a_markdown_link_and_the_customer_visit_counts(browser, live_site, manager_setup):
    from analytics import accounts

    db = manager_setup["db"]
    _, password, _ = accounts.create_user(db, "客服小李", "agent")
    context = browser.new_context(locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site.url)
    agent = context.new_page()
    sign_in(agent, live_site, "客服小李", password)
    agent.wait_for_url("**/agent")
    agent.fill("#ticket-id", "ZD-20261122")
    agent.fill("#subject", "导入Excel一直报错")
    agent.fill("#ticket-body",
               "您好，\n上传表格以后提示第 12 行日期格式错误，300 多条任务导不进去。\n订单号 YF-2026-10432\n--\n张伟")
    agent.click("#ticket button[type=submit]")
    agent.wait_for_selector("#suggestions li")
    assert agent.input_value("#phrases")  # the key phrases used, editable
    first = agent.locator("#suggestions li").first
    assert "导入" in first.inner_text() and first.locator("mark").count() >= 1
    first.locator("button[data-format=markdown]").click()
    playwright_api.expect(agent.locator("#copied")).to_have_value(re.compile(r"^\["), timeout=15_000)
    copied = agent.input_value("#copied")
    assert copied.startswith("[") and "?ref=" in copied
    assert agent.evaluate("navigator.clipboard.readText()") == copied
    rows_ = rows(live_site, "SELECT ticket_id, agent, ref FROM agent_links WHERE ticket_id = 'ZD-20261122'")
    assert rows_ and rows_[0][1] == "客服小李"

    customer = browser.new_context(locale="zh-CN").new_page()
    url = copied[copied.index("(") + 1 : -1]
    customer.goto(url)
    customer.wait_for_load_state("networkidle")
    assert "ref=" not in customer.url
    visits = rows(live_site, "SELECT COUNT(*) FROM link_visits v JOIN agent_links l ON v.link_id = l.id "
                             "WHERE l.ticket_id = 'ZD-20261122'")
    assert visits == [(1,)]
    context.close()


def test_agent_sees_under_each_suggestion_the_passage_that_matches_the_ticket(browser, live_site, manager_setup):
    import requests

    from analytics import accounts

    for _ in range(240):  # the server embeds the starter docs' passages in the background
        if requests.get(live_site.url + "/api/health", timeout=5).json().get("semantic", {}).get("complete"):
            break
        time.sleep(0.5)
    _, password, _ = accounts.create_user(manager_setup["db"], "客服小周", "agent")
    context = browser.new_context(locale="zh-CN")
    agent = context.new_page()
    sign_in(agent, live_site, "客服小周", password)
    agent.wait_for_url("**/agent")
    agent.fill("#ticket-id", "ZD-PASSAGE-1")
    agent.fill("#subject", "登录不上了")
    agent.fill("#ticket-body", "您好，\n早上登录时提示密码错误，可能是太久没登录忘记了。\n"
                               "登录页上也没看到找回的入口，怎么重新设置密码？\n--\n李雷 | 市场部")
    agent.click("#ticket button[type=submit]")
    items = agent.locator("#suggestions li")
    playwright_api.expect(items.first).to_contain_text("忘记密码", timeout=15_000)
    playwright_api.expect(agent.locator("#suggestions li .passage")).to_have_count(items.count())
    first = items.first.locator(".passage")
    playwright_api.expect(first.locator(".passage-text mark").first).to_be_visible()  # the key phrases marked
    heading = first.locator("a.passage-heading")
    playwright_api.expect(heading).to_have_attribute("href", re.compile(r"^/account/reset-password/#\w+"))
    href = heading.get_attribute("href")
    with context.expect_page() as opened:
        heading.click()
    section = opened.value
    section.wait_for_load_state()
    assert section.url.endswith(href)
    playwright_api.expect(section.locator(f"[id='{href.split('#')[1]}']")).to_have_count(1)  # the section exists
    context.close()


def watch_csp(page):
    """Collect CSP violations (the page's own report events and chromium's console errors) on page."""
    seen = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.expose_function("kbReportViolation", lambda text: seen.append(text))
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "e => window.kbReportViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile))")
    return seen


def test_security_headers_leave_the_site_and_the_consoles_working(browser, live_site, manager_setup):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    violations = watch_csp(page)
    response = page.goto(live_site.url + "/")
    headers = response.headers
    assert "frame-ancestors 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "SAMEORIGIN"
    assert "'unsafe-inline'" not in headers["content-security-policy"].split("script-src")[1].split(";")[0]
    results = search_in_site(page, "如何导入Excel数据")  # kb-search.js worker → /api/search, under the CSP
    assert "从 Excel 导入任务" in results.first.inner_text()
    results.first.locator("a").first.click()
    page.wait_for_url("**/import/excel-import/**")
    page.locator("form.md-feedback button[data-md-value='1']").click()  # the kb analytics partial's script
    assert page.locator(".md-feedback__note [data-md-value='1']").is_visible()
    page.goto(live_site.url + "/no/such/page/")  # the site's 404 page is a built page too
    assert page.locator("input.md-search__input").count() == 1
    page.wait_for_timeout(300)
    assert violations == []

    sign_in(page, live_site, "王敏", manager_setup["manager"])  # server-rendered pages: scripts carry the nonce
    page.wait_for_url("**/dashboard")
    page.goto(live_site.url + "/agent")
    page.fill("#ticket-id", "ZD-CSP-1")
    page.fill("#subject", "导入Excel一直报错")
    page.fill("#ticket-body", "上传表格以后提示第 12 行日期格式错误")
    page.click("#ticket button[type=submit]")
    page.wait_for_selector("#suggestions li")
    page.wait_for_timeout(300)
    assert violations == []

    context.close()


def test_another_site_cannot_frame_kb_pages(page, live_site):
    """frame-ancestors 'self': a page on another origin gets no kb page in its iframe (clickjacking)."""
    html = f'<iframe id="f" src="{live_site.url}/login"></iframe>'.encode()

    class Framer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    console = []
    page.on("console", lambda m: console.append(m.text))
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.wait_for_timeout(1500)
        assert page.frame_locator("#f").locator("#password").count() == 0
        assert any("frame-ancestors" in text for text in console), console
    finally:
        server.shutdown()
