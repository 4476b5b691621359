"""The contribution and editing workflow's refusals, said to people in the company's language.

A page's banner and the CLI's line read the error in the company's language (Chinese by default, with
the states named, not spelled as identifiers); the API's JSON keeps the English message it always had.
"""

from __future__ import annotations

import html
import re
import shutil

import pytest

from analytics import accounts
from conftest import error_banners, form_token, signed_in_client
from contrib import editing, queue
from kbserver import create_app
from kbserver.db import open_db

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
SUBMISSION = {"title": "跨部门审批用看板管理", "summary": "用看板泳道跟踪跨部门审批进度。", "body": "## 做法\n\n按部门建泳道。\n",
              "tags": ["看板"], "module": "approvals", "organisation": "Acme 公司", "consent": True}


@pytest.fixture(scope="module")
def companies(tmp_path_factory):
    """A Chinese and an English company: each its own docs, index, database, manager and VIP customer."""
    from conftest import FIXTURE_DOCS
    from indexer.build import build_full

    made = {}
    for language in ("zh", "en"):
        root = tmp_path_factory.mktemp(f"company-{language}")
        shutil.copytree(FIXTURE_DOCS, root / "docs")
        build_full(root / "docs", root / "data")
        app = create_app({"docs": root / "docs", "data": root / "data", "language": language})
        db = open_db(app.config["KB"]["database_url"])
        people = {name: accounts.create_user(db, name, role)[:2] for name, role in (("wang", "manager"), ("acme", "vip"))}
        made[language] = {"app": app, "db": db, "people": people, "docs": root / "docs", "data": root / "data"}
    yield made
    for company in made.values():
        company["app"].extensions["kb_events"].close()





def test_a_review_action_the_state_refuses_is_a_banner_in_the_company_language(companies):
    banners = {}
    for language, company in companies.items():
        db, manager = company["db"], company["people"]["wang"][0]
        sub, _ = queue.create(db, company["people"]["acme"][0], SUBMISSION, submit=True)
        queue.transition(db, sub["id"], "request_changes", manager, note="补充一个例子")
        client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])
        answer = client.post(f"/review/{sub['id']}/approve", follow_redirects=True,
                             data={"csrf_token": form_token(client, f"/review/{sub['id']}")})
        banners[language] = error_banners(answer)
        assert queue.get(db, sub["id"])["state"] == "changes_requested"  # refused: nothing changed
    assert banners["zh"] == ["没有执行：这份投稿现在是「需修改」状态，不能再改为「已通过」（可能有人刚处理过它），请刷新"]
    assert banners["en"] == ["Not done: this submission is changes_requested: it cannot be approved now "
                             "(someone else may have acted on it; reload)"]


def test_a_customer_editing_a_submission_under_review_reads_why_not_in_the_company_language(companies):
    banners = {}
    for language, company in companies.items():
        sub, _ = queue.create(company["db"], company["people"]["acme"][0], SUBMISSION | {"title": "已提交的做法"},
                              submit=True)
        client = signed_in_client(company["app"], "acme", company["people"]["acme"][1])
        answer = client.post(f"/contrib/{sub['id']}", follow_redirects=True,
                             data=SUBMISSION | {"title": "改过的标题", "consent": "on", "action": "save",
                                                "csrf_token": form_token(client, "/contrib/new")})
        banners[language] = error_banners(answer)
        assert queue.get(company["db"], sub["id"])["title"] == "已提交的做法"
    assert banners == {"zh": ["「已提交」状态的投稿不能修改"], "en": ["a submitted submission cannot be edited"]}


def test_restoring_over_a_newer_edit_is_refused_in_the_company_language(companies):
    banners = {}
    for language, company in companies.items():
        docs, db = company["docs"], company["db"]
        opened = editing.read_article(docs, "import/csv-encoding")
        editing.save_article(docs, db, company["data"], "import/csv-encoding", opened["fields"],
                             opened["body"] + "\n补充一段。\n", opened["hash"], "wang")
        oldest = editing.history(db, "import/csv-encoding")[-1]
        client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])
        page = "/history/import/csv-encoding"
        answer = client.post(page, follow_redirects=True, data={  # the hash of the text before the save: stale
            "revision": str(oldest["id"]), "base_hash": opened["hash"], "csrf_token": form_token(client, page)})
        banners[language] = error_banners(answer)
        assert "补充一段" in editing.read_article(docs, "import/csv-encoding")["body"]  # nothing restored
    [chinese], [english] = banners["zh"], banners["en"]
    assert chinese.startswith("没有恢复：import/csv-encoding.md 在你打开之后被改过"), chinese
    assert english.startswith("Not restored: import/csv-encoding.md changed since you opened it"), english
    assert not CJK.search(english)


def test_the_api_keeps_the_english_message_and_the_details(companies):
    company = companies["zh"]
    sub, _ = queue.create(company["db"], company["people"]["acme"][0], SUBMISSION | {"title": "API 的做法"}, submit=True)
    token = accounts.create_user(company["db"], "helper", "manager")[2]
    answer = company["app"].test_client().post(f"/api/contrib/submissions/{sub['id']}/publish",
                                               headers={"Authorization": f"Bearer {token}"}, json={})
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["message"] == "this submission is submitted: only an approved submission can be published"
    assert error["state"] == "submitted" and error["code"] == "conflict"


def test_a_failed_publication_is_one_sentence_in_the_company_language(companies):
    """Approved, but the practice's file cannot be written: the banner says so once, in the company's words."""
    banners = {}
    for language, company in companies.items():
        blocker = company["docs"] / "practices"
        blocker.write_text("a file where the practices folder goes", encoding="utf-8")
        try:
            sub, _ = queue.create(company["db"], company["people"]["acme"][0], SUBMISSION | {"title": "发布会失败的做法"},
                                  submit=True)
            client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])
            answer = client.post(f"/review/{sub['id']}/approve", follow_redirects=True,
                                 data={"csrf_token": form_token(client, f"/review/{sub['id']}")})
            banners[language] = error_banners(answer)
            assert queue.get(company["db"], sub["id"])["state"] == "approved"  # kept, to be retried
        finally:
            blocker.unlink()
    [chinese], [english] = banners["zh"], banners["en"]
    assert chinese.startswith("已通过，但发布失败（") and chinese.endswith("）。kb 会自动重试，也可以点「重新发布」。")
    assert "approved, but" not in chinese, chinese
    assert english.startswith("Approved, but publishing failed (") and english.count("publishing failed") == 1, english


def test_a_restore_is_recorded_in_the_company_language(companies):
    """The revision note kb writes for a restore is read later on the history page: written in the company's words."""
    notes = {}
    for language, company in companies.items():
        docs, db = company["docs"], company["db"]
        opened = editing.read_article(docs, "import/excel-import")
        editing.save_article(docs, db, company["data"], "import/excel-import", opened["fields"],
                             opened["body"] + "\n再补充一段。\n", opened["hash"], "wang")
        oldest = editing.history(db, "import/excel-import")[-1]
        client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])
        page = "/history/import/excel-import"
        current = editing.read_article(docs, "import/excel-import")["hash"]
        answer = client.post(page, follow_redirects=True, data={
            "revision": str(oldest["id"]), "base_hash": current, "csrf_token": form_token(client, page)})
        assert answer.status_code == 200 and error_banners(answer) == []
        notes[language] = editing.history(db, "import/excel-import")[0]["message"]
        assert notes[language] in html.unescape(answer.get_data(as_text=True))
    assert notes["zh"].startswith("恢复到第 ") and notes["en"].startswith("Restored to revision ")
