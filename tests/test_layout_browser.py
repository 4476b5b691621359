"""The back office's header in chromium at the widths people use (800 to 1440 px), in Chinese and English:
every navigation label on one line, none over another, and the header's bottom above the page's content.

Before, the header was fixed at 48px and did not wrap: in zh at 1100px and less the labels broke into
several lines and spilled over the page (at 800px 「知识库管理」 on three lines), in en already at 1280px.
"""

from __future__ import annotations

import shutil

import pytest

from analytics import accounts
from conftest import FIXTURE_DOCS, LiveServer
from kbserver.db import open_db

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MANAGER = "布局测试经理"  # a manager sees the most links
WIDTHS = (800, 1100, 1440)
# Each label's box and how many lines its text is set on, and the boxes of the header and of what follows it.
MEASURE = """() => {
  const box = (e) => { const r = e.getBoundingClientRect();
                       return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height}; };
  const lines = (e) => { const range = document.createRange(); range.selectNodeContents(e);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom))).size; };
  const header = document.querySelector("body > header");
  const labels = [...header.querySelectorAll("a, .who, button")].map((e) => ({
    text: e.innerText, box: box(e), lines: lines(e)}));
  const main = document.querySelector("main");
  const first = main.firstElementChild;
  return {header: box(header), main: box(main), first: first ? box(first) : null, labels,
          width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fixture docs and one manager; `kb serve` is started per language (the company's setting)."""
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(FIXTURE_DOCS, root / "docs")
    server = LiveServer(root / "docs", root / "data", {"KB_SEMANTIC_MODEL": "off"})
    server.stop()  # the first start built the site and the database
    db = open_db(f"sqlite:///{root / 'data'}/kb.db")
    _, password, _ = accounts.create_user(db, MANAGER, "manager")
    db.conn.close()
    return root, password


def _overlap(a, b) -> bool:
    return a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5 and \
        a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5


def _check_header(page, where):
    m = page.evaluate(MEASURE)
    labels = m["labels"]
    assert len(labels) >= 9, (where, [x["text"] for x in labels])  # brand, 8 links for a manager, the account
    for x in labels:
        assert x["lines"] == 1, f"{where}: {x['text']!r} is broken onto {x['lines']} lines"
        assert x["box"]["bottom"] <= m["header"]["bottom"] + 0.5, f"{where}: {x['text']!r} spills below the header"
        assert x["box"]["right"] <= m["width"] + 0.5, f"{where}: {x['text']!r} is cut off at the right"
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert not _overlap(a["box"], b["box"]), f"{where}: {a['text']!r} overlaps {b['text']!r}"
    assert m["header"]["bottom"] <= m["main"]["top"] + 0.5, where
    if m["first"]:
        assert m["header"]["bottom"] <= m["first"]["top"], f"{where}: the header covers the page's first line"
    assert m["scroll"] <= m["width"], f"{where}: the page scrolls sideways"
    return m


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_header_holds_its_navigation_at_every_width(browser, site, language, tmp_path):
    root, password = site
    server = LiveServer(root / "docs", root / "data", {"KB_SEMANTIC_MODEL": "off", "KB_LANGUAGE": language})
    try:
        context = browser.new_context(locale="zh-CN" if language == "zh" else "en-US",
                                      viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(server.url + "/login")
        page.fill("#name", MANAGER)
        page.fill("#password", password)
        page.click("button[type=submit]")
        expect(page.locator("header form[action='/logout']")).to_be_visible()
        heights = {}
        for path in ("/dashboard", "/review"):
            page.goto(server.url + path)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                expect(page.locator("header a[href='/dashboard']")).to_have_text(
                    "知识库管理" if language == "zh" else "Knowledge base")
                page.screenshot(path=str(tmp_path / f"{language}{path.replace('/', '_')}-{width}.png"))
                heights[width] = _check_header(page, f"{language} {path} at {width}px")["header"]["height"]
        # Narrower, the header grows instead of spilling; in zh at 1440px everything fits one 48px row.
        assert heights[800] > heights[1440]
        if language == "zh":
            assert heights[1440] <= 49
        context.close()
    finally:
        server.stop()
