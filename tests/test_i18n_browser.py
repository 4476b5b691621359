"""Every back-office page in chromium, in Chinese and in English: no stray English on a zh page, no Chinese
on an en page (outside data: article titles, queries, names), and a public page's script strings in the
reader's language.

One month of simulated traffic, analysed, plus a submission, a question and a webhook, so the pages
show their tables and not only their empty states. The same data dir is served twice, one `kb serve`
after the other: KB_LANGUAGE=zh, then KB_LANGUAGE=en.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from analytics import accounts, notifications
from conftest import REAL_DOCS, ROOT, LiveServer, free_port
from contrib import queue
from kbserver.db import open_db

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Names and notations a Chinese support team reads as they are: products, protocols, formats, commands.
ENGLISH_IN_CHINESE = {
    "kb", "API", "Webhook", "Webhooks", "CSV", "Markdown", "HTML", "JSON", "OpenAPI", "HMAC", "SHA", "POST",
    "HTTP", "VIP", "CC", "BY", "slug", "front", "matter", "Authorization", "Bearer", "users", "add", "list",
    "disable", "enable", "set", "role", "reset", "password", "rotate", "token", "remove", "webhooks",
    "analyze", "http", "https", "ask", "webhook", "url", "Slack", "OKR", "Excel", "ZD", "approvals",
    "kanban", "faq", "offline", "use", "Event", "Signature", "Asia", "Shanghai", "KB", "Type", "Content",
    "application", "json", "contrib", "helpdesk", "py", "Sha", "sha", "reset-password", "rotate-token",
    "set-role", "HMAC-SHA", "X-KB-Event", "X-KB-Signature",
}
# Not in the list, on purpose: stored values a page once showed raw ("manager" for a commenter's role,
# "asked" for a question's reason code); a page names them in its own language.
MANAGER, VIP = "i18n经理", "i18n客户"
SECRET = "s" * 32


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The starter docs, a simulated month analysed, and one of each kind of back-office row."""
    root = tmp_path_factory.mktemp("i18n-browser")
    docs, data = root / "docs", root / "data"
    shutil.copytree(REAL_DOCS, docs)
    env = {"KB_DOCS": str(docs), "KB_DATA": str(data)}
    for args in (["simulate", "--days", "14", "--sessions-per-day", "20"], ["analyze"]):
        done = subprocess.run([sys.executable, "-m", "kbserver.cli", *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
    db = open_db(f"sqlite:///{data}/kb.db")
    passwords = {}
    for name, role in ((MANAGER, "manager"), (VIP, "vip")):
        _, passwords[name], _ = accounts.create_user(db, name, role)
    vip = next(u for u in accounts.list_users(db) if u["name"] == VIP)
    sub, _ = queue.create(db, vip, {"title": "看板泳道的用法", "summary": "按负责人分泳道", "body": "## 步骤\n\n1. 打开看板\n",
                                 "tags": ["看板"], "module": "kanban", "organisation": "示例公司", "consent": True},
                       submit=True)
    # A thread: each comment shows its author's role, which the page must name in its own language.
    manager = next(u for u in accounts.list_users(db) if u["name"] == MANAGER)
    queue.comment(db, sub["id"], manager, "请补充截图")
    queue.comment(db, sub["id"], vip, "好的，已补充")
    notifications.add_webhook(db, "http://127.0.0.1:9/hook", ["*"], SECRET)
    db.conn.close()
    return root, env, passwords


def _data_strings(data) -> list[str]:
    """Texts that are data, not interface: titles, queries, names, paths, submissions, flags' own words."""
    db = open_db(f"sqlite:///{data}/kb.db")
    found = set()
    for table, columns in (("searches", ["query"]), ("flags", ["title", "slug", "path"]),
                           ("submissions", ["title", "summary", "organisation", "module", "slug"]),
                           ("submission_comments", ["body"]),
                           ("users", ["name"]), ("questions", ["question"]), ("webhooks", ["url"]),
                           ("article_health", ["title", "slug", "path"])):
        if table in db.table_names():
            for row in db.execute(f"select {', '.join(columns)} from {table}").fetchall():
                found.update(str(v) for v in row if v)
    for row in db.execute("select title from flags where kind = 'gap'").fetchall():
        found.update(row[0].split(" / "))  # a gap is named by its searches' words, which its suggestion quotes
    from analytics.gaps import words

    for row in db.execute("select query from searches").fetchall():
        found.update(re.findall(r"[A-Za-z]{3,}", row[0] or ""))  # readers' words the suggestions quote
        found.update(w for w in words(row[0] or "") if CJK.search(w))  # ... as the analysis segments them
    for row in db.execute("select evidence from flags").fetchall():
        evidence = json.loads(row[0] or "{}")
        found.update(str(v) for v in evidence.get("examples", []))
        found.update(str(evidence.get(k)) for k in ("nearest_title", "nearest_slug") if evidence.get(k))
    db.conn.close()
    from indexer.articles import find_sources, read_source

    for path in find_sources(REAL_DOCS):
        article = read_source(path, REAL_DOCS)
        found.update(v for v in (article.title, article.slug, article.summary, article.path, article.module, article.owner) if v)
    found.add(SECRET[:4])  # the masked webhook secret
    return sorted((v for v in found if v.strip()), key=len, reverse=True)


def _visible_text(page) -> str:
    # Articles' own text (the editor, its preview, revision diffs) is data; commands in <code> are typed as written.
    text = page.locator("body").inner_text()
    for cell in page.locator("textarea, .preview, table.diff, pre, code").all_inner_texts():
        if cell.strip():
            text = text.replace(cell, " ")
    return text


def _sign_in(browser, server, name, password, locale):
    page = browser.new_context(locale=locale).new_page()
    page.goto(server.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("header form[action='/logout']")).to_be_visible()
    return page


def _pages(data) -> list[str]:
    db = open_db(f"sqlite:///{data}/kb.db")
    flag = db.execute("select id from flags order by id limit 1").fetchone()[0]
    sid = db.execute("select id from submissions order by id limit 1").fetchone()[0]
    db.conn.close()
    return ["/dashboard", f"/dashboard/flags/{flag}", f"/dashboard/flags/{flag}/searches", "/questions", "/review",
            f"/review/{sid}", "/users", "/webhooks",
            "/edit", "/edit/import/excel-import", "/new-article", "/history/import/excel-import", "/synonyms", "/agent",
            "/notifications", "/dashboard?days=30", "/review/999999"]  # the last one: the 404 page


def _check(language, text, data_strings, where):
    for value in data_strings:
        text = text.replace(value, " ")
    if language == "zh":
        words = set(re.findall(r"[A-Za-z][A-Za-z-]{2,}", text))
        leftover = sorted(words - ENGLISH_IN_CHINESE)
        assert not leftover, f"English on the zh page {where}: {leftover}"
        assert CJK.search(text), where
    else:
        lines = [line for line in text.splitlines() if CJK.search(line)]
        assert lines == [], f"Chinese on the en page {where}"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_back_office_page_speaks_the_company_language(browser, data_dir, language, tmp_path):
    root, env, passwords = data_dir
    data = root / "data"
    # The analysis writes its suggestions in the company's language (as `kb serve`'s schedule would).
    done = subprocess.run([sys.executable, "-m", "kbserver.cli", "analyze"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env, "KB_LANGUAGE": language})
    assert done.returncode == 0, done.stderr
    server = LiveServer(root / "docs", data, {**env, "KB_LANGUAGE": language})
    try:
        strings = _data_strings(data)
        # The browser asks for the other language: the back office follows the company, not the browser.
        page = _sign_in(browser, server, MANAGER, passwords[MANAGER], "en-US" if language == "zh" else "zh-CN")
        expect(page.locator("html")).to_have_attribute("lang", language)
        for path in _pages(data):
            page.goto(server.url + path)
            expect(page.locator("main")).to_be_visible()
            page.screenshot(path=str(tmp_path / f"{language}{path.replace('/', '_').replace('?', '_')}.png"), full_page=True)
            _check(language, _visible_text(page), strings, path)
        expect(page.locator("h1")).to_have_text("Page not found" if language == "en" else "找不到这个页面")
        page.goto(server.url + _pages(data)[5])  # the review page's thread: the VIP's comment
        expect(page.locator(".comment .muted").nth(1)).to_contain_text("VIP customer" if language == "en" else "VIP 客户")
        expect(page.locator("header")).to_contain_text("Knowledge base" if language == "en" else "知识库管理")
        vip = _sign_in(browser, server, VIP, passwords[VIP], "en-US" if language == "zh" else "zh-CN")
        for path in ("/contrib", "/contrib/new", "/contrib/1", "/dashboard"):  # /dashboard: the 403 page
            vip.goto(server.url + path)
            vip.screenshot(path=str(tmp_path / f"{language}-vip{path.replace('/', '_')}.png"), full_page=True)
            _check(language, _visible_text(vip), strings, path)
        expect(vip.locator("h1")).to_have_text("No permission" if language == "en" else "没有权限")
        vip.goto(server.url + "/contrib/1")
        expect(vip.locator(".comment .muted").first).to_contain_text("Knowledge manager" if language == "en"
                                                                     else "知识库管理员")
        # Signed out, the sign-in page too.
        login = browser.new_context(locale="en-US" if language == "zh" else "zh-CN").new_page()
        login.goto(server.url + "/login")
        _check(language, _visible_text(login), strings, "/login")
        expect(login.locator("button[type=submit]")).to_have_text("Sign in" if language == "en" else "登录")
    finally:
        server.stop()


def _search(page, server, query):
    page.goto(server.url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.fill(query)
    box.press("End")
    expect(page.locator(".md-search-result")).to_have_attribute("data-kb-query", query, timeout=15_000)


def _wait_for_vectors(server):
    """Answers need the passage vectors, which `kb serve` fills in the background."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if requests.get(server.url + "/api/health", timeout=5).json()["semantic"].get("complete"):
            return
        time.sleep(1)
    pytest.fail("passage vectors not filled in time")


def test_a_public_page_speaks_the_readers_language(browser, data_dir, tmp_path):
    """KB_LANGUAGE=zh, a browser asking for English: the site's own strings (the answer box) are English."""
    root, env, _ = data_dir
    server = LiveServer(root / "docs", root / "data", {**env, "KB_LANGUAGE": "zh"})
    try:
        _wait_for_vectors(server)
        page = browser.new_context(locale="en-US").new_page()
        _search(page, server, "忘记密码怎么办")
        answer = page.locator(".md-search-result .kb-answer")
        expect(answer).to_be_visible(timeout=20_000)
        expect(answer.locator(".kb-answer__ask")).to_have_text("Was this answer helpful?")
        answer.locator("button.kb-answer__vote", has_text="Helpful").first.click()
        expect(answer.locator(".kb-answer__status")).to_have_text("Thank you for your feedback!")
        page.screenshot(path=str(tmp_path / "public-en.png"), full_page=True)
        # The answer quotes the article (Chinese data); kb's own words around it are English.
        chrome = [answer.locator(s).inner_text() for s in (".kb-answer__ask", ".kb-answer__more", ".kb-answer__status")]
        assert [c for c in chrome if CJK.search(c)] == []
        # The theme's words around an article's front matter, on a static page.
        page.goto(server.url + "/import/excel-import/")
        expect(page.locator(".kb-reviewed")).to_contain_text("Last reviewed:")
        expect(page.locator(".kb-reviewed")).to_contain_text("Owner:")
        chinese = browser.new_context(locale="zh-CN").new_page()
        chinese.goto(server.url + "/import/excel-import/")
        expect(chinese.locator(".kb-reviewed")).to_contain_text("最近审核：")
        _search(chinese, server, "忘记密码怎么办")
        expect(chinese.locator(".md-search-result .kb-answer .kb-answer__ask")).to_have_text("这个答案有帮助吗？", timeout=20_000)
    finally:
        server.stop()



class _HostApp:
    """A company's web app on another origin (a second port) with the widget's one <script> tag pointing at
    self.kb; /?lang=xx puts data-kb-lang="xx" on the tag (the company choosing for that page)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kb = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                lang = parse_qs(urlsplit(self.path).query).get("lang", [""])[0]
                attr = f' data-kb-lang="{lang}"' if lang in ("zh", "en") else ""
                body = ('<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body><h1>app</h1>'
                        f'<script src="{outer.kb}/widget.js" data-kb-context="gantt"{attr} async></script>'
                        "</body></html>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_widget_speaks_the_snippets_then_the_browsers_then_the_companys_language(browser, data_dir):
    """KB_LANGUAGE=en. An English browser gets English (the help button, the thanks after a vote), a Chinese
    one Chinese, one asking for neither (French) the company's English; data-kb-lang in the snippet wins."""
    root, env, _ = data_dir
    host = _HostApp()
    server = LiveServer(root / "docs", root / "data", {**env, "KB_LANGUAGE": "en", "KB_WIDGET_ORIGINS": host.url})
    host.kb = server.url
    try:
        for locale, query, expected in (("en-US", "", "? Help"), ("zh-CN", "", "? 帮助"), ("fr-FR", "", "? Help"),
                                        ("en-US", "?lang=zh", "? 帮助"), ("zh-CN", "?lang=en", "? Help")):
            context = browser.new_context(locale=locale)
            page = context.new_page()
            page.goto(host.url + "/" + query)
            expect(page.locator("kb-help-widget .kb-button"), f"{locale} {query}").to_have_text(expected)
            if (locale, query) == ("en-US", ""):
                # The whole panel follows: a suggested article opened, a vote, the thanks.
                page.locator("kb-help-widget .kb-button").click()
                expect(page.locator("kb-help-widget .kb-body h3")).to_have_text("Articles for this page")
                page.locator("kb-help-widget .kb-suggestions .kb-item").first.click()
                expect(page.locator("kb-help-widget .kb-article .kb-article__title")).to_be_visible()
                votes = page.locator("kb-help-widget .kb-body > .kb-votes")
                expect(votes).to_contain_text("Was this article helpful?")
                votes.locator("button[data-helpful=true]").click()
                expect(votes.locator(".kb-status")).to_have_text("Thanks for your feedback!")
            context.close()
    finally:
        server.stop()
        host.stop()
