"""The JSON API over real HTTP semantics (Flask test client), with events landing in SQLite."""

import json

import pytest


def test_search_returns_ranked_highlighted_results_with_a_query_id(client):
    r = client.get("/api/search", query_string={"q": "如何导入Excel数据"})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) >= {"query", "query_id", "total", "took_ms", "results", "did_you_mean"}
    assert body["query"] == "如何导入Excel数据" and len(body["query_id"]) == 16
    first = body["results"][0]
    assert first["slug"] == "import/excel-import" and first["path"] == "import/excel-import.md"
    assert first["url"] == "import/excel-import/" and "<mark>" in first["snippet"] and first["score"] > 0


def test_path_points_at_the_source_file_even_for_mdx(client):
    hit = client.get("/api/search?q=限流").get_json()["results"][0]
    assert hit["path"] == "account/api-rate-limit.mdx"


def test_every_search_is_logged(client, flush):
    client.get("/api/search", query_string={"q": "Excel 导入"})
    client.get("/api/search", query_string={"q": "没有这个词xyz"})
    rows = list(flush()["searches"].rows)
    assert [r["query"] for r in rows] == ["Excel 导入", "没有这个词xyz"]
    assert rows[0]["normalized"] == "excel 导入" and rows[0]["results"] >= 1
    assert json.loads(rows[0]["top_slugs"])[0] == "import/excel-import"
    assert json.loads(rows[0]["top_matched"])[0] == "keyword"  # which stage found it (no vectors here)
    assert rows[1]["results"] == 0 and rows[0]["session"] and rows[0]["took_ms"] >= 0


def test_session_cookie_groups_a_visitors_searches(client, flush):
    client.get("/api/search?q=导入")
    client.get("/api/search?q=乱码")
    sessions = {r["session"] for r in flush()["searches"].rows}
    assert len(sessions) == 1


def test_click_joins_to_its_search(client, flush):
    qid = client.get("/api/search?q=乱码").get_json()["query_id"]
    r = client.post("/api/events/click", json={"query_id": qid, "slug": "import/csv-encoding", "position": 1})
    assert r.status_code == 202
    db = flush()
    row = db.execute("SELECT s.query, c.slug, c.position FROM clicks c JOIN searches s USING (query_id)").fetchone()
    assert row == ("乱码", "import/csv-encoding", 1)


def test_votes_are_stored_with_comment(client, flush):
    r = client.post("/api/feedback", json={"slug": "import/excel-import", "helpful": False, "comment": "日期列还是空的"})
    assert r.status_code == 202
    vote = next(flush()["votes"].rows)
    assert (vote["slug"], vote["helpful"], vote["comment"]) == ("import/excel-import", 0, "日期列还是空的")


def test_article_endpoint(client):
    body = client.get("/api/articles/import/excel-import").get_json()
    assert body["title"] == "从 Excel 导入任务" and body["module"] == "import" and "excel" in body["tags"]
    assert body["reviewed"] == "2026-09-18" and "字段映射" in body["text"]


def test_filters_and_pagination_over_http(client):
    body = client.get("/api/search?q=导入&module=import&limit=1&page=2").get_json()
    assert body["total"] == 2 and len(body["results"]) == 1 and body["results"][0]["position"] == 2


@pytest.mark.parametrize("url", [
    "/api/search", "/api/search?q=", "/api/search?q=%20%20", "/api/search?q=" + "x" * 10_000,
    "/api/search?q=%ff%fe", "/api/search?q=a&limit=abc", "/api/search?q=a&limit=0", "/api/search?q=a&page=-1",
])
def test_bad_searches_get_a_clear_400(client, url):
    r = client.get(url)
    assert r.status_code == 400
    assert r.get_json()["error"]["message"]


@pytest.mark.parametrize("q", ['"unbalanced', "AND OR", "title:", "*", "😀", "！？。"])
def test_query_syntax_and_symbols_give_results_or_nothing_never_500(client, q):
    r = client.get("/api/search", query_string={"q": q})
    assert r.status_code == 200 and isinstance(r.get_json()["results"], list)


def test_unknown_article_is_404_json(client):
    r = client.get("/api/articles/nope/nothing")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path,payload,status", [
    ("/api/feedback", {"slug": "nope", "helpful": True}, 404),
    ("/api/feedback", {"slug": "import/excel-import", "helpful": "yes"}, 400),
    ("/api/feedback", {"slug": 42, "helpful": True}, 400),
    ("/api/feedback", {"slug": "import/excel-import", "helpful": True, "comment": 5}, 400),
    ("/api/feedback", {"slug": "import/excel-import", "helpful": True, "comment": "x" * 3000}, 400),
    ("/api/feedback", ["not", "an", "object"], 400),
    ("/api/events/click", {"query_id": "x", "slug": "import/excel-import", "position": 1}, 400),
    ("/api/events/click", {"query_id": "0123456789abcdef", "slug": "import/excel-import", "position": "1"}, 400),
    ("/api/events/click", {"query_id": "0123456789abcdef", "slug": "import/excel-import", "position": True}, 400),
    ("/api/events/click", {"query_id": "0123456789abcdef", "slug": "nope", "position": 1}, 404),
])
def test_bad_events_are_refused_and_not_stored(client, flush, path, payload, status):
    r = client.post(path, json=payload)
    assert r.status_code == status and "message" in r.get_json()["error"]
    db = flush()
    assert db["votes"].count == 0 and db["clicks"].count == 0


def test_non_json_and_invalid_utf8_bodies(client):
    assert client.post("/api/feedback", data="helpful=1").status_code == 400
    r = client.post("/api/feedback", data=b'{"slug": "\xff\xfe", "helpful": true}', content_type="application/json")
    assert r.status_code == 400


def test_unknown_api_route_and_method_are_json(client):
    assert client.get("/api/nothing").get_json()["error"]["code"] == "not_found"
    r = client.get("/api/feedback")
    assert r.status_code in (404, 405) and r.get_json()["error"]["message"]


def test_health(client):
    body = client.get("/api/health").get_json()
    assert body["ok"] and body["articles"] == 6


def test_a_lone_surrogate_is_refused_and_never_poisons_other_events(client, flush):
    client.post("/api/feedback", json={"slug": "import/excel-import", "helpful": True})
    r = client.post("/api/feedback", data='{"slug": "import/excel-import", "helpful": true, "comment": "\\ud800"}',
                    content_type="application/json")
    assert r.status_code == 400
    client.post("/api/feedback", json={"slug": "import/csv-encoding", "helpful": False})
    assert flush()["votes"].count == 2


def test_deeply_nested_json_is_a_400(client):
    r = client.post("/api/feedback", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert r.status_code == 400


def test_a_bad_row_reaching_the_writer_is_set_aside_not_the_batch(app, flush):
    events = app.extensions["kb_events"]
    events.log_vote(slug="import/excel-import", helpful=True)
    events.log_vote(slug="import/excel-import", helpful=True, comment="\ud800")  # bypassing the API's check
    events.log_vote(slug="import/csv-encoding", helpful=False)
    assert flush()["votes"].count == 2 and events.dead_letters == 1


def test_feedback_accepts_a_percent_encoded_slug(client, flush):
    r = client.post("/api/feedback", json={"slug": "import%2Fexcel-import", "helpful": True})
    assert r.status_code == 202
