"""The in-product help widget: CORS for exactly the configured origins, public data only, events logged with
source=widget; and in chromium, the script tag on a page of another origin (a second port)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import requests

from analytics import accounts
from analytics import report as reports
from analytics.events import insert_events
from conftest import FIXTURE_DOCS, REAL_DOCS, LiveServer, free_port
from indexer.build import build_full
from indexer.clock import iso
from indexer.errors import InvalidInput
from kbserver import create_app
from kbserver.db import open_db
from kbserver.settings import load_settings

APP_ORIGIN = "https://app.example.com"
KB_URL = "https://help.example.com"
SESSION = "widget-session-0001"
DEMO = """---
title: 小部件演示文章
summary: 只为测试面板里的文章
module: import
---
# 小部件演示文章

先看 [CSV 编码](csv-encoding.md#乱码)，再看截图 ![截图](../img/shot.png)。

<script>alert("x")</script><img src="y" onerror="alert(1)">

[坏链接](javascript:alert(1)) 和 [外部链接](https://example.org/a)。

## 准备文件

表头放在第一行。
"""


@pytest.fixture(scope="module")
def widget_app(tmp_path_factory):
    """The fixture docs (plus one article with links, an image and hostile markup), index only (no site built)."""
    root = tmp_path_factory.mktemp("widget")
    docs = root / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    (docs / "import" / "widget-demo.md").write_text(DEMO, encoding="utf-8")
    data = root / "data"
    build_full(docs, data)
    app = create_app({"docs": docs, "data": data, "semantic_model": "off", "public_url": KB_URL,
                      "widget_origins": f"{APP_ORIGIN}, http://localhost:3000",
                      "widget_pages": "/projects/*/imports=import,/me=account"})
    yield app
    app.extensions["kb_events"].close()


@pytest.fixture
def client(widget_app):
    return widget_app.test_client()


def stored(app, sql, args=()):
    app.extensions["kb_events"].flush()
    db = open_db(app.config["KB"]["database_url"])
    try:
        return db.execute(sql, list(args)).fetchall()
    finally:
        db.conn.close()


def widget_headers(origin=APP_ORIGIN, **extra):
    return {"Origin": origin, "X-KB-Session": SESSION, **extra}


# -- CORS ---------------------------------------------------------------------------------------------
def test_a_configured_origin_may_read_widget_answers_and_no_other_origin_may(client):
    allowed = client.get("/api/widget/search?q=导入Excel", headers=widget_headers())
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert "Set-Cookie" not in allowed.headers  # no cookie is given to the widget either

    for origin in ("https://evil.example.com", "https://app.example.com.evil.example.com", "http://app.example.com",
                   "null"):
        other = client.get("/api/widget/search?q=导入Excel", headers=widget_headers(origin))
        assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers, origin
        assert "Origin" in other.headers["Vary"]  # a shared cache must not hand one origin's answer to another

    # Errors answer the widget too, so it can tell the customer (and never a 500).
    missing = client.post("/api/widget/feedback", json={"slug": "no/such", "helpful": True}, headers=widget_headers())
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert missing.get_json()["error"]["message"] == "no article with slug 'no/such'"


def test_preflight_allows_the_widgets_methods_and_headers_for_configured_origins_only(client):
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-kb-session"}
    ok = client.options("/api/widget/feedback", headers={"Origin": "http://localhost:3000", **ask})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert set(ok.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert {h.strip().lower() for h in ok.headers["Access-Control-Allow-Headers"].split(",")} == {"content-type",
                                                                                                 "x-kb-session"}
    assert "Access-Control-Allow-Credentials" not in ok.headers
    refused = client.options("/api/widget/feedback", headers={"Origin": "http://localhost:3001", **ask})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers


def test_only_the_widget_routes_answer_another_origin(client):
    for path in ("/api/search?q=导入", "/api/articles/import/excel-import", "/api/flags", "/api/analytics/summary",
                 "/api/questions", "/dashboard", "/import/excel-import/"):
        answer = client.get(path, headers=widget_headers())
        assert "Access-Control-Allow-Origin" not in answer.headers, path
    preflight = client.options("/api/feedback", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"data-kb-context" in script.data
    # kb's own answers stay unframeable and same-origin only, the widget's included.
    for answer in (script, client.get("/api/widget/search?q=导入", headers=widget_headers()), client.get("/login")):
        assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_signed_in_managers_cookie_is_not_used_by_the_widget(widget_app, client):
    db = open_db(widget_app.config["KB"]["database_url"])
    _, password, _ = accounts.create_user(db, "widget-manager", "manager")
    db.conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    signed_in = client.post("/login", data={"name": "widget-manager", "password": password, "csrf_token": token})
    assert signed_in.status_code in (302, 303)
    assert client.get("/api/flags").status_code == 200  # the cookie works on kb's own routes
    client.get("/api/search?q=导入")  # and the site's anonymous session cookie is set too
    assert client.get_cookie("kb_sid") is not None

    answer = client.post("/api/widget/feedback", json={"slug": "import/csv-encoding", "helpful": False},
                         headers={"Origin": APP_ORIGIN, "X-KB-Session": "from-the-widget-header"})
    assert answer.status_code == 202 and "Set-Cookie" not in answer.headers
    rows = stored(widget_app, "SELECT session, source FROM votes WHERE slug = 'import/csv-encoding'")
    assert rows == [("from-the-widget-header", "widget")]  # the header's session, not the cookie's
    for path in ("/api/widget/flags", "/api/widget/me"):
        assert client.get(path, headers=widget_headers()).status_code == 404

    # The manager tells the sources apart: the dashboard's 按来源 table and its CSV, the questions page.
    client.post("/api/widget/questions", json={"question": "小部件里问的问题"}, headers=widget_headers())
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "按来源" in dashboard and '<tr data-source="widget"><td>应用内帮助</td>' in dashboard
    csv_rows = client.get("/dashboard/export/sources.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv_rows[0].startswith("source,searches,sessions,self_served_sessions,self_service_rate")
    page = client.get("/questions").get_data(as_text=True)
    assert re.search(r"小部件里问的问题</td>\s*<td>—</td>\s*<td>—</td>\s*<td class=\"source\">应用内帮助</td>", page)


def test_a_widget_answer_sets_no_cookie_even_when_an_ended_sign_in_arrives(widget_app):
    """A manager signed out elsewhere (password reset) still has kb's session cookie in the browser: the site's
    pages clear it, the widget's answers leave it alone (they never set a cookie, not even to clear one)."""
    client = widget_app.test_client()
    db = open_db(widget_app.config["KB"]["database_url"])
    user, password, _ = accounts.create_user(db, "widget-ended", "manager")
    db.conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "widget-ended", "password": password, "csrf_token": token})
    db = open_db(widget_app.config["KB"]["database_url"])
    accounts.reset_password(db, user["id"], hash_cost=1)  # signs the account out everywhere
    db.conn.close()
    for answer in (client.get("/api/widget/search?q=导入", headers=widget_headers()),
                   client.post("/api/widget/questions", json={"question": "退出登录后在小部件里问的问题"},
                               headers=widget_headers())):
        assert answer.status_code in (200, 201) and "Set-Cookie" not in answer.headers, answer.headers


# -- what the widget shows and logs -------------------------------------------------------------------
def test_widget_events_are_logged_with_source_widget_in_one_session(widget_app, client):
    found = client.get("/api/widget/search?q=Excel 导入", headers=widget_headers()).get_json()
    first = found["results"][0]
    assert first["url"].startswith(KB_URL + "/") and first["slug"] == "import/excel-import"
    assert client.post("/api/widget/click", json={"query_id": found["query_id"], "slug": first["slug"], "position": 1},
                       headers=widget_headers()).status_code == 202
    assert client.post("/api/widget/feedback", json={"slug": first["slug"], "helpful": True},
                       headers=widget_headers()).status_code == 202
    asked = client.post("/api/widget/questions", json={"question": "导入后日期是空的", "query": "Excel 导入"},
                        headers=widget_headers())
    assert asked.status_code == 201 and asked.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    # The site's own events say where they come from too.
    client.post("/api/feedback", json={"slug": first["slug"], "helpful": False}, headers={"X-KB-Source": "site"})

    assert stored(widget_app, "SELECT source, session FROM searches WHERE query_id = ?", [found["query_id"]]) == [
        ("widget", SESSION)]
    assert stored(widget_app, "SELECT slug, session FROM clicks WHERE query_id = ?", [found["query_id"]]) == [
        ("import/excel-import", SESSION)]
    assert stored(widget_app, "SELECT source, helpful FROM votes WHERE slug = 'import/excel-import' ORDER BY id") == [
        ("widget", 1), ("site", 0)]
    assert stored(widget_app, "SELECT source, session, query FROM questions WHERE id = ?", [asked.get_json()["id"]]) == [
        ("widget", SESSION, "Excel 导入")]


def test_bad_input_is_a_clear_4xx(client):
    assert client.get("/api/widget/search", headers=widget_headers()).status_code == 400
    long_path = client.get("/api/widget/suggestions?path=/" + "a" * 3000, headers=widget_headers())
    assert long_path.status_code == 400 and "path" in long_path.get_json()["error"]["message"]
    assert client.post("/api/widget/questions", json={"question": "  "}, headers=widget_headers()).status_code == 400
    assert client.post("/api/widget/click", json={"query_id": "x", "slug": "import/excel-import", "position": 1},
                       headers=widget_headers()).status_code == 400
    assert client.get("/api/widget/articles/no/such", headers=widget_headers()).status_code == 404


def test_suggestions_follow_the_page_context_then_the_path(client):
    def module(query):
        return client.get("/api/widget/suggestions?" + query, headers=widget_headers()).get_json()

    by_context = module("context=import&path=/whatever")
    assert by_context["module"] == "import"
    assert {a["slug"] for a in by_context["articles"]} == {"import/excel-import", "import/csv-encoding",
                                                          "import/widget-demo"}
    assert all(a["url"].startswith(KB_URL + "/import/") for a in by_context["articles"])
    assert module("path=/projects/42/imports/history")["module"] == "import"  # --widget-pages
    assert module("context=nope&path=/me")["module"] == "account"  # an unknown context falls back to the path
    assert module("path=/app/integrations/slack")["module"] == "integrations"  # a segment naming a module
    assert module("path=/settings/profile") == {"module": "", "articles": []}


def test_an_article_in_the_panel_is_sanitized_with_absolute_links_and_images(widget_app, client):
    article = client.get("/api/widget/articles/import/widget-demo", headers=widget_headers()).get_json()
    assert article["title"] == "小部件演示文章" and article["url"] == KB_URL + "/import/widget-demo/"
    html = article["html"]
    assert '<a href="https://help.example.com/import/csv-encoding/#乱码"' in html
    assert re.search(r'<h2 id="[^"]+">准备文件</h2>', html)  # sections keep their anchors (answers link to them)
    assert '<img alt="截图" src="https://help.example.com/img/shot.png"' in html
    assert 'href="https://example.org/a"' in html and 'target="_blank"' in html
    for bad in ("<script", "alert", "onerror", "javascript:", "<h1", "小部件演示文章"):
        assert bad not in html, bad

    # Rendered articles are kept, but an edited file is shown as edited.
    demo = widget_app.config["KB"]["docs"] / "import" / "widget-demo.md"
    demo.write_text(DEMO.replace("先看", "请先看"), encoding="utf-8")
    again = client.get("/api/widget/articles/import/widget-demo", headers=widget_headers()).get_json()
    assert "请先看" in again["html"]


def test_the_widgets_chinese_and_english_strings_have_the_same_keys():
    from kbserver.widget import STATIC

    script = (STATIC / "widget.js").read_text(encoding="utf-8")
    table = script[script.index("var STRINGS = {"):script.index("function t(key)")]
    zh, en = table.split("\n    en: {")
    keys = [set(re.findall(r"(\w+): \"", part)) for part in (zh.split("zh: {")[1], en)]
    assert len(keys[0]) > 30 and keys[0] == keys[1], keys[0] ^ keys[1]
    used = set(re.findall(r'\bt\("(\w+)"\)', script))
    assert used <= keys[0], used - keys[0]  # every string the widget shows is in the table


def test_widget_settings_are_checked_at_start():
    assert load_settings({"widget_origins": "https://a.example.com/, http://127.0.0.1:8080"}, environ={})
    from kbserver.widget import widget_origins

    assert widget_origins(" HTTPS://App.Example.com:443/ ,http://[::1]:80,http://x.example.com:8080") == {
        "https://app.example.com", "http://[::1]", "http://x.example.com:8080"}  # as browsers send Origin
    for value in ("app.example.com", "https://a.example.com/path", "*", "https://*.example.com"):
        with pytest.raises(InvalidInput, match="KB_WIDGET_ORIGINS"):
            load_settings({"widget_origins": value}, environ={})
    with pytest.raises(InvalidInput, match="KB_WIDGET_PAGES"):
        load_settings({"widget_pages": "gantt"}, environ={})
    with pytest.raises(InvalidInput, match="KB_WIDGET_ORIGINS"):
        load_settings(environ={"KB_WIDGET_ORIGINS": "ftp://x.example.com"})


def test_kb_serve_refuses_a_widget_origin_that_is_not_one_in_one_line(tmp_path):
    from click.testing import CliRunner

    from kbserver.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path / "data"), "--docs", str(FIXTURE_DOCS),
                                      "--widget-origins", "app.example.com"], env={"KB_LANGUAGE": "en"})
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "Error: widget_origins (KB_WIDGET_ORIGINS): 'app.example.com' is not an origin; write scheme://host[:port] "
        "without a path, e.g. https://app.example.com")
    assert "Traceback" not in result.output


def test_the_report_counts_widget_sessions_and_tells_the_sources_apart(tmp_path):
    zone = ZoneInfo("Asia/Shanghai")
    day = dt.datetime.now(dt.timezone.utc).astimezone(zone).date() - dt.timedelta(days=2)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=zone).astimezone(dt.timezone.utc)
    db = open_db(f"sqlite:///{tmp_path}/kb.db")

    def search(n, session, source):
        return {"query_id": f"{n:016x}", "ts": iso(noon + dt.timedelta(minutes=n)), "session": session, "query": "导入",
                "normalized": "导入", "results": 2, "top_slugs": ["import/excel-import"], "took_ms": 1.0, "module": "",
                "tag": "", "page": 1, "source": source, "answer": ""}

    insert_events(db, "searches", [search(1, "w1", "widget"), search(2, "w2", "widget"), search(3, "s1", "site")])
    # w1: a kept click → self-served; w2: nothing → not; s1: a 👍 → self-served.
    insert_events(db, "clicks", [{"ts": iso(noon + dt.timedelta(minutes=1, seconds=5)), "query_id": f"{1:016x}",
                                  "slug": "import/excel-import", "position": 1, "session": "w1"}])
    insert_events(db, "votes", [{"ts": iso(noon + dt.timedelta(minutes=3, seconds=5)), "slug": "import/excel-import",
                                 "helpful": 1, "comment": "", "session": "s1", "source": "site"}])
    data = reports.report(db, reports.resolve_range(zone, days=7))
    assert data["summary"]["sessions"] == 3 and data["summary"]["self_served_sessions"] == 2
    by_source = {row["source"]: row for row in reports.table(data, "sources")}
    assert by_source["widget"] == {"source": "widget", "searches": 2, "sessions": 2, "self_served_sessions": 1,
                                   "self_service_rate": 0.5, "votes": 0, "helpful_rate": None}
    assert by_source["site"]["sessions"] == 1 and by_source["site"]["self_service_rate"] == 1.0
    assert by_source["site"]["votes"] == 1 and by_source["api"]["searches"] == 0


# -- in a real browser, on a page of another origin -------------------------------------------------------
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

HOST_CSS = "button { background: rgb(255, 0, 0) !important; font-size: 40px !important; } * { color: rgb(0, 128, 0); }"


class HostApp:
    """A company's web app on its own port: pages that embed the widget under a strict CSP."""

    def __init__(self, port: int):
        self.port, self.kb = port, None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path, _, _ = self.path.partition("?")
                if path == "/host.css":
                    body, kind = HOST_CSS.encode(), "text/css"
                else:
                    body, kind = outer.page(path).encode("utf-8"), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if path != "/plain":
                    self.send_header("Content-Security-Policy", outer.csp())
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def csp(self) -> str:
        """What the README tells a company to add for the widget, and nothing more."""
        return (f"default-src 'self'; script-src 'self' {self.kb}; connect-src 'self' {self.kb}; "
                f"img-src 'self' {self.kb}; style-src 'self'")

    def page(self, path: str) -> str:
        lang = ' data-kb-lang="en"' if path.startswith("/en") else ""
        context = ' data-kb-context="gantt"' if "gantt" in path else ""
        return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>云帆项目 · 甘特图</title>'
                f'<link rel="stylesheet" href="/host.css"></head><body><h1>项目甘特图</h1>'
                f'<button id="host-button">宿主按钮</button>'
                f'<script src="{self.kb}/widget.js"{context}{lang} async></script></body></html>')

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def widget_site(tmp_path_factory):
    """`kb serve` on the starter docs answering the host app's origin, once every article is embedded."""
    host = HostApp(free_port())
    root = tmp_path_factory.mktemp("widget-live")
    docs = root / "docs"
    shutil.copytree(REAL_DOCS, docs)
    server = LiveServer(docs, root / "data", extra_env={"KB_WIDGET_ORIGINS": f"http://127.0.0.1:{host.port}"})
    server.data, server.host = root / "data", host
    host.kb = server.url
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if requests.get(server.url + "/api/health", timeout=5).json()["semantic"].get("complete"):
                break
            time.sleep(1)
        yield server
    finally:
        server.stop()
        host.stop()


@pytest.fixture
def host_page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()


def query(server, sql, args=()):
    con = sqlite3.connect(server.data / "kb.db")
    try:
        return con.execute(sql, list(args)).fetchall()
    finally:
        con.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_widget_on_another_origin_searches_answers_shows_an_article_votes_and_asks(host_page, widget_site):
    page, host = host_page, widget_site.host
    page.goto(f"http://127.0.0.1:{host.port}/projects/7/gantt")
    button = page.locator("kb-help-widget .kb-button")
    expect(button).to_have_text("? 帮助")
    # Neither side's CSS reaches the other: the host's red buttons stay red, the widget's stays indigo.
    expect(button).to_have_css("background-color", "rgb(63, 81, 181)")
    expect(page.locator("#host-button")).to_have_css("background-color", "rgb(255, 0, 0)")

    # Keyboard: Tab from the host's button reaches the help button; Enter opens the panel on the search box.
    page.locator("#host-button").focus()
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    panel = page.locator("kb-help-widget .kb-panel")
    expect(panel).to_be_visible()
    box = page.locator("kb-help-widget input.kb-input")
    expect(box).to_be_focused()
    # data-kb-context="gantt": the Gantt articles are suggested before anything is typed.
    suggestions = page.locator("kb-help-widget .kb-suggestions .kb-item strong")
    expect(suggestions).to_have_count(3)
    expect(suggestions).to_contain_text(["保存基线并对比计划偏差"])

    # A question: the answer box above the results, and a 👍 on it.
    box.press_sequentially("忘记密码怎么办", delay=20)
    box.press("Enter")
    answer = page.locator("kb-help-widget .kb-answer")
    expect(answer).to_be_visible(timeout=20_000)
    expect(answer.locator(".kb-answer__label")).to_contain_text("忘记密码与重置密码")
    expect(answer.locator(".kb-answer__passage li").first).to_contain_text("忘记密码")
    expect(page.locator("kb-help-widget .kb-results .kb-item").first).to_be_visible()
    answer.locator("button.kb-vote[data-helpful=true]").click()
    expect(answer.locator(".kb-status")).to_have_text("感谢您的反馈！")

    # The first result opens in the panel: its text, links absolute to kb, and the article vote.
    # 查看全文 opens the answer's article in the panel at the answer's section.
    answer.locator(".kb-answer__more").click()
    expect(page.locator("kb-help-widget .kb-article .kb-target")).to_have_text("操作步骤")
    expect(page.locator("kb-help-widget .kb-article .kb-target")).to_be_in_viewport()
    page.locator("kb-help-widget .kb-back").click()

    page.locator("kb-help-widget .kb-results .kb-item").first.click()
    article = page.locator("kb-help-widget .kb-article")
    expect(article.locator(".kb-article__title")).to_have_text("忘记密码与重置密码")
    expect(article.locator(".kb-article__content ol li").first).to_be_visible()
    expect(page.locator("kb-help-widget .kb-article__open")).to_have_attribute(
        "href", widget_site.url + "/account/reset-password/")
    hrefs = article.locator(".kb-article__content a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), hrefs
    page.locator("kb-help-widget .kb-body > .kb-votes button[data-helpful=true]").click()
    expect(page.locator("kb-help-widget .kb-body > .kb-votes .kb-status")).to_have_text("感谢您的反馈！")

    # 联系客服: the question reaches the support team.
    page.locator("kb-help-widget .kb-ask-open").click()
    question = page.locator("kb-help-widget .kb-ask__question")
    expect(question).to_have_value("忘记密码怎么办")
    question.fill("手机号换了，收不到重置密码的短信")
    page.locator("kb-help-widget .kb-ask__email").fill("li@example.com")
    page.locator("kb-help-widget .kb-ask__send").click()
    expect(page.locator("kb-help-widget .kb-ask__done")).to_contain_text("已提交")

    # Escape closes the panel and gives the focus back to the button.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(button).to_be_focused()
    assert not [m for m in page.console_errors if "Content Security Policy" in m or "CORS" in m], page.console_errors

    # Everything is stored with source=widget, in one anonymous session.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not query(widget_site, "SELECT 1 FROM votes WHERE source = 'widget'"):
        time.sleep(0.2)
    searches = query(widget_site, "SELECT query_id, session, source FROM searches WHERE query = '忘记密码怎么办'")
    assert searches and {row[2] for row in searches} == {"widget"}
    (session,) = {row[1] for row in searches}
    ids = [row[0] for row in searches]
    marks = ",".join("?" * len(ids))
    assert query(widget_site, f"SELECT slug, session FROM clicks WHERE query_id IN ({marks})", ids) == [
        ("account/reset-password", session)]
    assert query(widget_site, f"SELECT slug, helpful FROM answer_votes WHERE query_id IN ({marks})", ids) == [
        ("account/reset-password", 1)]
    assert query(widget_site, "SELECT slug, helpful, session, source FROM votes") == [
        ("account/reset-password", 1, session, "widget")]
    assert query(widget_site, "SELECT question, email, query, session, source FROM questions") == [
        ("手机号换了，收不到重置密码的短信", "li@example.com", "忘记密码怎么办", session, "widget")]
    assert requests.get(widget_site.url + "/widget.js", timeout=5).ok


@pytest.mark.browser
@pytest.mark.slow
def test_english_strings_and_no_access_from_an_origin_that_is_not_configured(host_page, widget_site):
    page, host = host_page, widget_site.host
    page.goto(f"http://127.0.0.1:{host.port}/en/settings")
    expect(page.locator("kb-help-widget .kb-button")).to_have_text("? Help")
    page.locator("kb-help-widget .kb-button").click()
    expect(page.locator("kb-help-widget input.kb-input")).to_have_attribute("placeholder",
                                                                            "Ask a question, e.g. how to import Excel")
    expect(page.locator("kb-help-widget .kb-ask-open")).to_have_text("Ask the support team")
    # /en/settings names no module: nothing suggested, until the app says what the page is about.
    expect(page.locator("kb-help-widget .kb-suggestions")).to_have_count(0)
    page.evaluate("kbHelpWidget.setContext('budget')")
    expect(page.locator("kb-help-widget .kb-suggestions .kb-item")).to_have_count(2)
    expect(page.locator("kb-help-widget .kb-body h3")).to_have_text("Articles for this page")

    probe = """async (url) => {
        try { const r = await fetch(url, {credentials: "omit", headers: {"X-KB-Session": "probe"}});
              return "read " + r.status; }
        catch (e) { return "blocked"; } }"""
    url = widget_site.url + "/api/widget/search?q=甘特图"
    assert page.evaluate(probe, url) == "read 200"  # the configured origin reads it

    # The same server under another name is another origin, not configured: the browser blocks the answer.
    page.goto(f"http://localhost:{host.port}/plain")
    assert page.evaluate(probe, url) == "blocked"
    page.locator("kb-help-widget .kb-button").click()
    expect(page.locator("kb-help-widget .kb-body .kb-error")).to_have_text("出错了，请稍后再试。")
