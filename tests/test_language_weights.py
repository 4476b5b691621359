"""A Chinese query weighs a Chinese article's body more (indexer.query.CHINESE_BODY_WEIGHT), and its
keywords keep more say against meaning (CHINESE_LEXICAL_WEIGHT).

Chinese titles are short noun phrases; customers describe the task in the body's everyday words. With
every field at its usual weight, an article whose *title* shares two of the query's words beat the
article whose body says what the customer asked (the dev set's colloquial and symptom queries).
English queries and English articles are ranked exactly as before, and the score each result reports
(which "no good match", gap advice and the answer box compare with calibrated thresholds) stays on the
general weights' scale.
"""

from __future__ import annotations

import numpy as np
import pytest

import indexer.query as query
from indexer.analysis import normalize
from indexer.build import build_full, current_index_dir
from indexer.dense import fill_vectors
from indexer.query import QueryTerms, open_index
from indexer.semantic import model_state
from indexer.vectors import VectorStore

ARTICLES = {
    "brand": ("自定义品牌", "默认的品牌名称会显示在三个地方。\n\n## 使用说明\n\n"
              "登录页面底部的文字可以在这里换成公司的名称，保存后刷新即可看到。"),
    "login-page": ("登录页面", "管理员可以为登录页面选择背景图片。"),
    "login-methods": ("登录方式", "支持密码、短信验证码和单点登录三种方式。"),
    "company": ("公司信息", "填写公司的地址和联系电话。"),
    "api": ("接口调用", "通过接口调用可以读取和修改数据，请求需要带上密钥，返回的结果是列表或者单条记录。"
            "调用之前请先在设置里创建密钥并选择角色。\n\n```js\n"
            "const client = new ApiClient({ baseURL: 'https://example.com/api', token: 'abc' });\n```\n"),
    "brand-en": ("Brand settings", "Change the text shown at the bottom of the sign-in page to your company name. "
                 "The login page keeps the default logo until you upload one."),
    "login-en": ("Login page", "Pick a background picture for the login page."),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("languages")
    docs, data = root / "docs", root / "data"
    docs.mkdir()
    for slug, (title, body) in ARTICLES.items():
        (docs / f"{slug}.md").write_text(f"---\ntitle: {title}\nsummary: {title}\n---\n\n# {title}\n\n{body}\n",
                                         encoding="utf-8")
    build_full(docs, data)
    fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    return data


@pytest.fixture(scope="module")
def ix(data):
    return open_index(data, cache_size=0, semantic="off")


def top(ix, query):
    return [r["slug"] for r in ix.search(query)["results"]]


def test_articles_are_told_apart_by_language(ix):
    snap = ix.snapshots.current()
    chinese = {snap.stored(d)["slug"]: bool(snap.ranker.chinese[d]) for d in np.flatnonzero(snap.ranker.live)}
    # A code sample does not make a Chinese article English.
    assert chinese == {"brand": True, "login-page": True, "login-methods": True, "company": True, "api": True,
                       "brand-en": False, "login-en": False}


def test_a_chinese_query_finds_the_article_whose_body_describes_the_task(ix):
    assert top(ix, "登录页面底部的文字怎么换成公司名字")[:2] == ["brand", "login-page"]


def test_english_queries_rank_by_the_plain_field_weights(ix):
    snap = ix.snapshots.current()
    for text in ("login page bottom text company name", "login page"):
        plain = snap.ranker.scores(QueryTerms(normalize(text)).clauses())
        ranked, _ = snap.ranker.top(plain, 10)
        assert top(ix, text) == [snap.stored(d)["slug"] for d, _ in ranked]
    # The English twin of the Chinese case above still goes to the title match, as before.
    assert top(ix, "login page bottom text company name")[0] == "login-en"


def test_chinese_keywords_reorder_results_but_reported_scores_keep_their_scale(data, monkeypatch):
    hybrid = open_index(data, cache_size=0)
    question = "登录页面底部的文字怎么换成公司名字"

    def scores(chinese_lexical_weight):
        monkeypatch.setattr(query, "CHINESE_LEXICAL_WEIGHT", chinese_lexical_weight)
        found = hybrid.search(question)["results"]
        assert all("meaning" in r["matched"] or "keyword" in r["matched"] for r in found)
        return {r["slug"]: r["score"] for r in found}

    general, chinese = scores(query.LEXICAL_WEIGHT), scores(0.3)
    assert chinese == general  # the same articles with the same scores, whatever order they rank in
    assert top(hybrid, question)[0] == "brand"
