"""Search highlights mark the query's words only: not lone Chinese characters cut from them, not `app` in Apple."""

from __future__ import annotations

import re

import pytest

from indexer.analysis import normalize
from indexer.build import build_full
from indexer.query import QueryTerms, make_snippet, open_index

ARTICLE = """---
title: 导出报表
summary: 把任务导出成表格，或在手机 app 上查看。
---

# 导出报表

在「报表」页面点击「导出」，即可把任务导出成表格。导出完成后，表格会发到您的邮箱，生成的文件可以直接打开。

在 iPhone 上请从 Apple 的 App Store 安装云帆 app；安装完成后登录即可查看报表。Apps 列表中也能找到它。
"""


def marked(snippet: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", snippet)


def snippet_for(text: str, query: str) -> str:
    return make_snippet(text, QueryTerms(normalize(query)).highlight_words())


def test_a_character_cut_out_of_the_query_is_not_marked_on_its_own():
    text = "把任务导出成表格。导出完成后，表格会生成。"
    assert marked(snippet_for(text, "导出成表格")) == ["导出成表格", "导出", "表格"]  # never 完成 / 生成's 成


def test_a_character_typed_as_a_word_of_its_own_is_still_marked():
    assert "成" in marked(snippet_for("完成后表格会生成", "成 表格"))


@pytest.mark.parametrize("text, query, expected", [
    ("Install the app from Apple's App Store; apps sync.", "app", ["app", "App", "apps"]),
    ("Importing data: import the file; imports run nightly.", "import", ["Importing", "import", "imports"]),
    ("Reset your password; passwords expire.", "reset pasword", ["Reset", "password", "passwords"]),
])
def test_latin_words_are_marked_by_stem_not_by_prefix(text, query, expected):
    terms = QueryTerms(normalize(query))
    if query == "reset pasword":
        terms.add_correction("reset password")
    assert marked(make_snippet(text, terms.highlight_words())) == expected


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("highlight")
    (root / "docs").mkdir()
    (root / "docs" / "export.md").write_text(ARTICLE, encoding="utf-8")
    build_full(root / "docs", root / "data")
    return open_index(root / "data", cache_size=0, semantic="off")


def test_search_results_mark_only_query_words(index):
    [hit] = index.search("导出成表格")["results"]
    words = marked(hit["snippet"])
    assert "成" not in words and set(words) <= {"导出成表格", "导出", "表格"} and "导出成表格" in words


def test_search_results_do_not_mark_apple_for_app(index):
    [hit] = index.search("app 安装")["results"]
    words = marked(hit["snippet"])
    assert "Apple" not in words and "app" in words
