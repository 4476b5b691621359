"""A VIP's practice is published as Markdown: its page (real `kb serve`, real chromium) has a table of contents
of its headings and no live payload, and a manager edits it in the article editor as Markdown."""

import re
import time

import pytest
import requests

from analytics import accounts
from kbserver.db import open_db

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BODY = """# 采购审批的做法

用看板管理采购审批，**每个部门一条泳道**。<script>alert('xss')</script>

## 准备泳道

1. 按部门建泳道
2. 设置 [审批流](https://example.com/flows_(v2)) 的负责人
    - 采购部
    - 财务部

## 每周同步

```
同步 = 周一 10:00 <b>不是标签</b>
```

![看板示意图](https://example.com/board.png)

<img src=x onerror=alert('img')> [点我](javascript:alert('link')) {: onclick="alert('attr')"}
<svg onload=alert('svg')></svg> &lt;script&gt;alert('entity')&lt;/script&gt;

### 常见问题
"""


def _api(live_site, method, path, token, **kw):
    r = requests.request(method, live_site.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kw)
    assert r.status_code < 300, (path, r.status_code, r.text)
    return r.json()


def _wait_live(live_site, ticket, token):
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _api(live_site, "GET", f"/api/site/status?ticket={ticket}", token)["state"] == "live":
            return
        time.sleep(0.5)
    raise AssertionError("the practice's page was not rebuilt in 90 s")


def test_a_published_practice_is_markdown_with_a_toc_no_payload_and_opens_in_the_editor(browser, live_site):
    db = open_db(f"sqlite:///{live_site.data}/kb.db")
    _, _, vip = accounts.create_user(db, "md-vip", "vip")
    _, manager_password, manager = accounts.create_user(db, "md-manager", "manager")
    sub = _api(live_site, "POST", "/api/contrib/submissions", vip, json={
        "title": "用看板管理采购审批", "summary": "每个部门一条泳道，每周同步一次。", "tags": ["看板", "审批"],
        "module": "approvals", "organisation": "Initech 公司", "consent": True, "body": BODY, "submit": True})
    published = _api(live_site, "POST", f"/api/contrib/submissions/{sub['id']}/approve", manager, json={})
    assert published["state"] == "published"
    _wait_live(live_site, published["site_ticket"], manager)

    source = (live_site.data.parent / "docs" / "practices" / f"{published['slug']}.md").read_text(encoding="utf-8")
    body = source.split("---\n", 2)[2]
    assert "## 准备泳道" in body and "<h2" not in body and "kb-practice" not in body  # stored as Markdown

    dialogs = []
    reader = browser.new_context(locale="zh-CN").new_page()
    reader.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    reader.goto(f"{live_site.url}/practices/{published['slug']}/")
    toc = reader.locator("nav.md-nav--secondary")
    for heading in ("准备泳道", "每周同步", "常见问题"):
        expect(toc.get_by_role("link", name=heading)).to_have_count(1)
    article = reader.locator("article")
    expect(article.locator("h1")).to_have_text(re.compile("用看板管理采购审批"))
    expect(article.locator("ol > li")).to_have_count(2)
    expect(article.locator("ol ul > li")).to_have_count(2)
    expect(article.locator("a[href='https://example.com/flows_(v2)']")).to_have_text("审批流")
    expect(article.locator("img[alt='看板示意图']")).to_have_attribute("src", "https://example.com/board.png")
    expect(article.locator("pre code")).to_contain_text("同步 = 周一 10:00 <b>不是标签</b>")
    expect(article.locator("strong")).to_have_text("每个部门一条泳道")
    expect(reader.locator(".kb-badge")).to_contain_text("来自 Initech 公司")
    # (Material's own icons are svg: the payload's svg would carry its onload)
    assert article.locator("script, iframe, [onerror], [onclick], [onload], [onfocus], a[href^='javascript']").count() == 0
    assert "alert(" not in "".join(article.locator("[href], [src]").evaluate_all("els => els.map(e => e.outerHTML)"))
    expect(article).to_contain_text("<script>alert('entity')</script>")  # text that mentions a tag stays text
    reader.wait_for_timeout(300)
    assert dialogs == []  # no script ran

    editor = browser.new_context(locale="zh-CN").new_page()
    editor.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    editor.goto(live_site.url + "/login")
    editor.fill("#name", "md-manager")
    editor.fill("#password", manager_password)
    editor.click("button[type=submit]")
    editor.wait_for_url("**/dashboard")
    editor.goto(f"{live_site.url}/edit/practices/{published['slug']}")
    expect(editor.locator("#body")).to_have_value(re.compile(r"## 准备泳道\n\n1\.\s+按部门建泳道"))
    text = editor.locator("#body").input_value()
    assert "<h2" not in text and "<p>" not in text and "<ol>" not in text
    assert dialogs == []
