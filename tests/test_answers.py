"""The answer box: passages cut as a reader sees them, the answer of a question on the starter docs
(linked to its section), none for a weak or keyword query or without the semantic model, and the
👍/👎 on an answer stored and counted against its article."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from analytics import answers as answer_votes
from analytics.analyze import analyze
from analytics.flags import list_flags
from conftest import REAL_DOCS
from indexer.articles import parse_article
from indexer.build import build_full, current_index_dir
from indexer.dense import fill_vectors
from indexer.query import open_index
from indexer.semantic import model_state
from indexer.vectors import VectorStore
from kbserver import create_app
from kbserver.db import open_db

pytestmark = pytest.mark.slow  # the starter docs embedded once for the module (~30 s on a busy machine)

# A page whose list carries raw HTML: what the answer box shows must be sanitized.
HOSTILE = """---
title: 清理浏览器缓存
summary: 页面显示旧内容时清理缓存。
---
# 清理浏览器缓存

## 清理步骤

按以下步骤清理浏览器缓存：

1. 打开浏览器设置，进入「隐私与安全」。<img src=x onerror="alert(1)">
2. 点击「清除浏览数据」，勾选缓存的图片和文件。<script>alert(2)</script>
3. 点击「清除数据」后重新打开帮助中心。
"""


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    """The starter docs (plus one hostile page) indexed with every passage embedded: (docs, data)."""
    root = tmp_path_factory.mktemp("answers")
    docs, data = root / "docs", root / "data"
    shutil.copytree(REAL_DOCS, docs)
    (docs / "troubleshooting" / "clear-cache-test.md").write_text(HOSTILE, encoding="utf-8")
    build_full(docs, data)
    fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    return docs, data


@pytest.fixture(scope="module")
def index(starter):
    return open_index(starter[1], cache_size=0)


@pytest.fixture(scope="module")
def app(starter):
    app = create_app({"docs": starter[0], "data": starter[1]})
    yield app
    app.extensions["kb_events"].close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def test_blocks_keep_list_numbers_and_table_headers_and_the_sentence_that_introduces_a_list():
    source = ("---\ntitle: 导出\n---\n# 导出\n\n## 步骤\n\n导出前请按下面操作：\n\n1. 打开报表\n2. 点击导出\n\n"
              "一段说明。\n\n## 格式\n\n| 格式 | 用途 |\n|---|---|\n| CSV | 导入其他系统 |\n| PDF | 打印 |\n")
    blocks = parse_article(source, "reports/export.md").blocks
    kinds = [(b.heading, b.kind) for b in blocks]
    assert kinds == [("步骤", "list"), ("步骤", "paragraph"), ("格式", "row"), ("格式", "row")], kinds
    steps = blocks[0]
    assert steps.text == "导出前请按下面操作：\n1. 打开报表\n2. 点击导出"
    assert "<ol>" in steps.html and steps.anchor
    assert blocks[2].text == "格式: CSV；用途: 导入其他系统"
    assert "<th>格式</th>" in blocks[2].html and "PDF" not in blocks[2].html


@pytest.mark.parametrize(("query", "slug", "heading", "words"), [
    ("忘记密码怎么办", "account/reset-password", "操作步骤", "忘记密码"),
])
def test_a_question_gets_the_passage_that_answers_it_linked_to_its_section(index, query, slug, heading, words):
    answer = index.search(query)["answer"]
    assert answer is not None, query
    assert answer["slug"] == slug
    assert answer["heading"] == heading
    assert answer["url"].startswith(index.article(slug)["url"] + "#")
    assert words in answer["passage_html"]


def test_step_lists_are_quoted_whole_with_their_numbers(index):
    answer = index.search("忘记密码怎么办")["answer"]
    assert "<ol>" in answer["passage_html"] and answer["passage_html"].count("<li>") >= 3


def test_a_tip_box_beside_the_steps_is_not_quoted_as_the_answer(index):
    """如何导入Excel数据: the section's numbered steps answer it, not the 提示 box after them (an aside)."""
    answer = index.search("如何导入Excel数据")["answer"]
    assert answer["slug"] == "import/excel-import" and answer["heading"] == "操作步骤"
    assert "<ol>" in answer["passage_html"] and "admonition" not in answer["passage_html"]


@pytest.mark.parametrize("query", [
    "OKR 目标管理怎么设置",  # no article is about OKRs: the best match shares only 管理
    "甘特图",  # a keyword, not a question: the reader wants the article
    "为什么",  # a question word and nothing else
])
def test_no_answer_when_the_query_is_not_a_question_or_nothing_answers_it_well(index, query):
    assert index.search(query)["answer"] is None


def test_no_answer_without_the_semantic_model(starter):
    keywords_only = open_index(starter[1], cache_size=0, semantic="off")
    result = keywords_only.search("忘记密码怎么办")
    assert result["results"] and result["answer"] is None


def test_the_api_returns_a_sanitized_answer_and_logs_it_with_the_search(app, client):
    body = client.get("/api/search", query_string={"q": "浏览器缓存怎么清理"}).get_json()
    answer = body["answer"]
    assert answer["slug"] == "troubleshooting/clear-cache-test", body
    assert set(answer) == {"slug", "title", "heading", "url", "passage_html", "score"}
    html = answer["passage_html"]
    assert "清除浏览数据" in html and "<ol>" in html
    assert "onerror" not in html and "<script" not in html and "alert(2)" not in html
    app.extensions["kb_events"].flush()
    db = open_db(app.config["KB"]["database_url"])
    logged = db.execute("SELECT answer FROM searches WHERE query_id = ?", [body["query_id"]]).fetchone()[0]
    assert '"troubleshooting/clear-cache-test"' in logged


def test_answer_votes_are_stored_one_per_search(app, client):
    search = client.get("/api/search", query_string={"q": "忘记密码怎么办"}).get_json()
    assert search["answer"]
    first = client.post("/api/answers/feedback", json={"search_id": search["query_id"], "helpful": True})
    assert first.status_code == 202, first.get_json()
    again = client.post("/api/answers/feedback", json={"search_id": search["query_id"], "helpful": False,
                                                       "comment": "验证码一直收不到"})
    assert again.status_code == 202
    db = open_db(app.config["KB"]["database_url"])
    stored = [v for v in answer_votes.votes(db) if v["query_id"] == search["query_id"]]
    assert len(stored) == 1
    assert stored[0]["slug"] == "account/reset-password" and stored[0]["helpful"] == 0
    assert stored[0]["comment"] == "验证码一直收不到" and stored[0]["heading"] == "操作步骤"


def test_bad_answer_feedback_is_a_clear_4xx(client):
    no_answer = client.get("/api/search", query_string={"q": "甘特图"}).get_json()
    assert no_answer["answer"] is None
    cases = [
        ({"helpful": True}, 400, "search_id"),
        ({"search_id": "not-an-id", "helpful": True}, 400, "search_id"),
        ({"search_id": "0123456789abcdef", "helpful": "yes"}, 400, "helpful"),
        ({"search_id": "0123456789abcdef", "helpful": True, "comment": "x" * 2001}, 400, "too long"),
        ({"search_id": "0123456789abcdef", "helpful": True, "comment": 5}, 400, "comment"),
        ({"search_id": "0123456789abcdef", "helpful": True}, 404, "no search"),
        ({"search_id": no_answer["query_id"], "helpful": False}, 404, "no answer"),
    ]
    for body, status, words in cases:
        response = client.post("/api/answers/feedback", json=body)
        assert response.status_code == status, (body, response.get_json())
        assert words in response.get_json()["error"]["message"], response.get_json()
    assert client.post("/api/answers/feedback", data="[1]", content_type="application/json").status_code == 400


def test_an_answer_voted_down_is_a_flag_against_its_article(tmp_path):
    db = open_db(f"sqlite:///{tmp_path / 'kb.db'}")
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(10):
        query_id = f"{i:016x}"
        db["searches"].insert({"query_id": query_id, "ts": now.isoformat(), "query": "忘记密码怎么办", "results": 3,
                               "answer": '{"slug": "account/reset-password", "anchor": "_3", "heading": "操作步骤"}'})
        answer_votes.record_vote(db, query_id=query_id, helpful=i == 0)
    article = {"slug": "account/reset-password", "title": "重置密码", "path": "account/reset-password.md"}
    report = analyze(db, [article], now=now + dt.timedelta(minutes=1), update_queue=True)
    flags = [f for f in report.article_flags if f.reason == "answer_unhelpful"]
    assert [f.slug for f in flags] == ["account/reset-password"]
    assert flags[0].evidence["votes"] == 10 and flags[0].evidence["helpful"] == 1
    queued = [f for f in list_flags(db) if f["reason"] == "answer_unhelpful"]
    assert [f["slug"] for f in queued] == ["account/reset-password"]  # in the knowledge manager's queue
