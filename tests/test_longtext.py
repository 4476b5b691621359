"""A whole ticket as the search: cleaning into subject and body, term weights, and the passage per suggestion.

The starter docs are indexed with real passage vectors (the multilingual model), once for the module.
"""

from __future__ import annotations

import pytest

from analytics.tickets import clean_parts, suggest
from conftest import REAL_DOCS
from indexer.build import build_full, current_index_dir
from indexer.dense import fill_vectors
from indexer.longtext import MAX_TERMS, SUBJECT_WEIGHT, weighted_terms
from indexer.query import open_index
from indexer.semantic import model_state
from indexer.vectors import VectorStore

FORGOT = ("登录不上了", "您好，\n早上登录时提示密码错误，我确定没改过密码，可能是太久没登录忘记了。\n"
                     "登录页上也没看到找回的入口，邮箱 li@example.com，麻烦告诉我怎么重新设置密码。\n"
                     "> 在 2026-11-03 写道: 请先清除浏览器缓存\n--\n李雷 | 市场部")


@pytest.fixture(scope="module")
def vector_index(tmp_path_factory):
    """The starter docs with every passage embedded (as `kb serve` has them once the filler ran)."""
    encoder = model_state("use").get()
    assert encoder is not None, "the multilingual model must load"
    data = tmp_path_factory.mktemp("longtext") / "data"
    build_full(REAL_DOCS, data)
    fill_vectors(current_index_dir(data), VectorStore(data), encoder)
    return open_index(data, cache_size=0)


@pytest.fixture(scope="module")
def keyword_index(vector_index):
    """The same index read with the model off: keywords only."""
    return open_index(vector_index.data_dir, cache_size=0, semantic="off")


def test_subject_and_body_are_cleaned_apart():
    subject, body = clean_parts("导入失败 订单 YF-2026-10432", FORGOT[1])
    assert subject.startswith("导入失败") and "YF-2026-10432" not in subject
    assert "忘记" in body
    for gone in ("您好", "li@example.com", "清除浏览器缓存", "李雷"):
        assert gone not in body


def test_subject_words_weigh_more_and_a_repeated_word_does_not_drown_the_rest():
    weights = weighted_terms("甘特图", "甘特图 依赖 " + "报错 " * 50)
    assert weights["甘特图"] == pytest.approx(1 + __import__("math").log(SUBJECT_WEIGHT + 1))
    assert weights["依赖"] == pytest.approx(1.0)
    assert weights["报错"] < 5 * weights["依赖"]  # 50 times the word, under 5 times the weight


def test_a_pasted_log_becomes_a_bounded_query():
    log = " ".join(f"err{i:05d}" for i in range(5000))
    assert len(weighted_terms("crash", log)) == MAX_TERMS


@pytest.mark.slow  # the module's index embeds every passage of the starter docs
def test_each_suggestion_shows_the_passage_of_the_article_that_matches_the_ticket(vector_index):
    found = suggest(vector_index, *FORGOT, limit=3)
    first = found["results"][0]
    assert first["slug"] == "account/reset-password", [r["slug"] for r in found["results"]]
    for result in found["results"]:
        passage = result["passage"]
        assert passage["similarity"] is not None  # chosen by meaning: the passage most similar to the ticket
        assert passage["url"].startswith(result["url"]) and passage["text"]
        article = vector_index.article(result["slug"])
        whole = f"{article.get('summary') or ''} {article['body']}".replace("\n", " ")
        assert passage["text"].replace("\n", " ")[-40:] in whole  # a piece of that article
    assert first["passage"]["heading"] and first["passage"]["url"].endswith("#" + first["passage"]["anchor"])
    assert "<mark>" in first["passage"]["html"] and "密码" in first["passage"]["text"]


@pytest.mark.slow  # the module's index embeds every passage of the starter docs
def test_an_english_ticket_finds_the_chinese_article_by_meaning(vector_index):
    found = suggest(vector_index, "Forgot my password",
                    "Hi,\nI can't sign in any more and I don't remember my password. How do I set a new one?\nThanks,\nAnna",
                    limit=3)
    assert "account/reset-password" in [r["slug"] for r in found["results"]]


@pytest.mark.slow  # the module's index embeds every passage of the starter docs
def test_without_vectors_the_passage_is_the_one_holding_the_key_phrases(keyword_index):
    found = suggest(keyword_index, *FORGOT, limit=3)
    first = found["results"][0]
    assert first["slug"] == "account/reset-password"
    assert first["passage"]["similarity"] is None and "<mark>" in first["passage"]["html"]


def test_passages_are_escaped(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tags.md").write_text("---\ntitle: 模板标签\nsummary: 模板里的标签写法\n---\n# 模板标签\n\n"
                                  "## 写法\n\n在模板里写 `<script>alert(1)</script>` 不会执行，标签 a < b & c 原样显示。\n",
                                  encoding="utf-8")
    build_full(docs, tmp_path / "data")
    index = open_index(tmp_path / "data", cache_size=0, semantic="off")
    found = index.search_long("模板标签 script", "模板里写 script 标签会执行吗", highlight=["script"])["results"]
    html = found[0]["passage"]["html"]
    assert "<script>" not in html and "&lt;" in html and "<mark>script</mark>" in html


def test_suggest_api_returns_the_passage_per_suggestion(client):
    from analytics import accounts
    from kbserver.db import open_db

    db = open_db(client.application.config["KB"]["database_url"])
    _, _, token = accounts.create_user(db, "agent-passage", "agent")
    r = client.post("/api/agent/suggest", headers={"Authorization": f"Bearer {token}"},
                    json={"subject": "API 调用被限流", "body": "您好，我们的脚本每分钟调用很多次，总是返回 429，怎么办？"})
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["results"][0]["slug"] == "account/api-rate-limit"
    assert all(set(x["passage"]) >= {"heading", "anchor", "url", "text", "html", "similarity"} for x in body["results"])


def test_edited_phrases_search_exactly_those_words_and_still_show_passages(client):
    from analytics import accounts
    from kbserver.db import open_db

    db = open_db(client.application.config["KB"]["database_url"])
    _, _, token = accounts.create_user(db, "agent-phrases", "agent")
    r = client.post("/api/agent/suggest", headers={"Authorization": f"Bearer {token}"},
                    json={"phrases": ["限流", "429"]})
    body = r.get_json()
    assert body["phrases"] == ["限流", "429"] and body["results"][0]["slug"] == "account/api-rate-limit"
    assert "<mark>429</mark>" in body["results"][0]["passage"]["html"]
    r = client.post("/api/agent/suggest", headers={"Authorization": f"Bearer {token}"}, json={"phrases": [" "]})
    assert r.status_code == 200 and r.get_json()["results"] == [] and r.get_json()["message"]
