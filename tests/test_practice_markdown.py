"""Published practices are stored as Markdown: converted from the sanitized HTML, checked against the site's
renderer, never carrying a live payload; older HTML-bodied practice files open in the editor as Markdown."""

import datetime as dt
import html

import pytest
from bs4 import BeautifulSoup
from test_contrib import XSS, assert_inert

from contrib import editing
from contrib.publish import PRACTICES, practice_file
from contrib.render import (
    html_to_markdown,
    legacy_practice_markdown,
    practice_markdown,
    render_markdown,
    renders_as,
    site_html,
)
from indexer.articles import parse_article
from kbserver.db import open_db

RICH = """# 标题一级

先看 **关键路径**，再调 *依赖*，`代码` 和 [链接](https://example.com/a_(b) "说明")。

## 步骤

1. 打开项目
2. 设置基线
    - 嵌套一
    - 嵌套二

- 松散的一项

- 第二项

> 引用 **加粗**
>
> 第二段

```
print("<b>x</b>")  # 注释 `反引号`
```

| 列 | 值 |
|:---|---:|
| a \\| b | *c* |

![示意图](https://example.com/x.png)

* * *

### 结尾 #

1) 带右括号的编号
"""


def sub(body, title="用看板管理采购审批", sid=1):
    return {"id": sid, "title": title, "summary": "一句话", "tags": ["看板"], "module": "approvals", "body": body,
            "organisation": "Acme", "assigned_to": "wang"}


def test_rich_markdown_is_stored_as_markdown_that_renders_as_the_sanitized_page():
    md = practice_markdown("标题", RICH)
    assert md is not None, html_to_markdown(render_markdown(RICH))
    assert md.startswith("# 标题\n\n## 标题一级\n")  # the page title is the only h1
    for part in ("**关键路径**", "1.  打开项目", "    -   嵌套一", "```\nprint(\"<b>x</b>\")", "| 列 | 值 |",
                 "![示意图](https://example.com/x.png)", "[链接](https://example.com/a_(b))", "> 引用 **加粗**"):
        assert part in md, part
    page = BeautifulSoup(site_html(md), "html.parser")
    assert [h.get_text().strip() for h in page.find_all(["h2", "h3"])] == ["标题一级", "步骤", "结尾"]


@pytest.mark.parametrize("payload", XSS)
def test_no_payload_survives_into_the_stored_markdown(payload):
    for body in (payload, f"段落 {payload} 结束", f"## 小节\n\n- {payload}\n\n| a |\n|---|\n| {payload} |"):
        md = practice_markdown(f"标题 {payload}", body)
        assert md is not None
        assert_inert(site_html(md))
        assert_inert(site_html(practice_file(sub(body, title=f"标题 {payload}")).split("---\n", 2)[2]))


@pytest.mark.parametrize("text", ["{: onclick=alert(1)}", "<b onmouseover=alert(1)>x</b>", "&lt;script&gt;alert(1)",
                                  "!!! danger \"x\"", "??? note", "# 不是标题", "1. 不是列表", "[x](javascript:alert(1))",
                                  "\\*不是强调\\*", "~~~", "| a | b |", "- 列表", "+ 列表", "= 等号",
                                  "&amp;lt;img src=x onerror=alert(1)&amp;gt;"])
def test_what_looks_like_site_syntax_shows_the_same_text_as_the_sanitized_page(text):
    safe = render_markdown(text)
    md = practice_markdown("标题", text)
    assert md is not None
    shown = BeautifulSoup(site_html(md), "html.parser")
    shown.h1.decompose()
    assert " ".join(shown.get_text().split()) == " ".join(BeautifulSoup(safe, "html.parser").get_text().split())
    assert_inert(site_html(md))


def test_the_check_refuses_markdown_the_site_would_render_with_more_than_the_sanitized_page():
    assert renders_as("段落 **粗**", "<p>段落 <strong>粗</strong></p>")
    assert not renders_as('段落\n{: onclick="alert(1)" }', "<p>段落</p>")  # attr_list adds a handler
    assert not renders_as("段落 <img src=x onerror=alert(1)>", '<p>段落 <img src="x"></p>')
    assert not renders_as("[x](https://evil.example)", '<p><a href="https://example.com">x</a></p>')
    assert not renders_as("段落", "<p>段落 多了</p>")


def test_the_published_file_is_markdown_with_the_generated_front_matter():
    text = practice_file(sub(RICH), today=dt.date(2026, 12, 1))
    article = parse_article(text, f"{PRACTICES}/x.md")
    assert article.title == "用看板管理采购审批" and "<div" not in text and "## 步骤" in text
    assert text.split("---\n", 2)[2].lstrip().startswith("# 用看板管理采购审批\n")


def test_what_markdown_cannot_say_exactly_is_published_as_sanitized_html_as_before():
    body = "<dl><dt>术语</dt><dd>解释 <img src=x onerror=alert(1)></dd></dl>"
    assert practice_markdown("标题", body) is None  # a definition list has no Markdown here
    text = practice_file(sub(body))
    assert '<div class="kb-practice" markdown="0">' in text and "<dt>术语</dt>" in text
    assert_inert(text.split("---\n", 2)[2])


def test_an_html_practice_from_an_older_kb_opens_in_the_editor_as_markdown_and_saves_as_markdown(tmp_path):
    docs = tmp_path / "docs"
    (docs / PRACTICES).mkdir(parents=True)
    title = "旧版 <实践> & 做法"
    safe = render_markdown("## 做法\n\n1. 按部门建泳道\n2. 每周同步\n\n见 [文档](https://example.com/x)。")
    front = text = ("---\ntitle: 旧版实践\nsummary: s\nmodule: practices\nsource_submission: 7\ncontributed_by: Acme\n"
                    "license: CC BY 4.0\n---\n\n")
    text = front + f'<div class="kb-practice" markdown="0">\n<h1>{html.escape(title)}</h1>\n{safe}\n</div>\n'
    (docs / PRACTICES / "old.md").write_text(text, encoding="utf-8")
    assert legacy_practice_markdown(text.split("---\n", 2)[2]).startswith("# 旧版 &lt;实践> & 做法\n\n## 做法")

    shown = editing.read_article(docs, f"{PRACTICES}/old")
    assert shown["body"].startswith("# 旧版") and "## 做法" in shown["body"] and "<h2" not in shown["body"]
    assert shown["text"] == text  # the file itself is untouched until someone saves

    db = open_db(f"sqlite:///{tmp_path / 'data'}/kb.db")
    editing.save_article(docs, db, tmp_path / "data", f"{PRACTICES}/old", shown["fields"], shown["body"],
                         shown["hash"], "wang")
    saved = (docs / PRACTICES / "old.md").read_text(encoding="utf-8")
    assert "kb-practice" not in saved and "1.  按部门建泳道" in saved
    assert "source_submission: 7" in saved and "contributed_by: Acme" in saved  # attribution kept
    body = BeautifulSoup(site_html(saved.split("---\n", 2)[2]), "html.parser")
    assert body.h1.get_text() == title and [li.get_text() for li in body.find_all("li")] == ["按部门建泳道", "每周同步"]
