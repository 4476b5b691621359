"""One table names the identifiers kb stores (indexer/labels.py); errors, pages and the CLI use it alike.

A stored identifier reads as its name where a person reads it (「需修改」, 「已采纳」, 「标题」) and as the
identifier where a program does (the API's English message and its details).
"""

from __future__ import annotations

import html
import re
import shutil

import pytest
from click.testing import CliRunner

from analytics import accounts
from analytics import synonyms as learned
from conftest import error_banners, form_token, signed_in_client
from contrib import queue
from indexer.errors import Conflict, InvalidInput
from indexer.labels import label
from kbserver import create_app
from kbserver.cli import cli
from kbserver.db import open_db

SUBMISSION = {"title": "跨部门审批用看板管理", "summary": "用看板泳道跟踪跨部门审批进度。", "body": "## 做法\n\n按部门建泳道。\n",
              "tags": ["看板"], "module": "approvals", "organisation": "Acme 公司", "consent": True}


def test_one_word_is_named_by_its_concept():
    assert label("approved", "submission") == "已通过" and label("approved", "synonym") == "已采纳"
    assert label("approved") == "已通过"  # no concept: the first that knows it (as the pages always had it)
    assert label("changes requested", "submission") == label("changes_requested") == "需修改"
    assert label("approved", "synonym", "en") != "approved"
    assert label("colour", "field") == "colour" and label(None) is None  # unknown: as it is


def test_an_error_names_its_stored_identifiers_for_people_and_keeps_them_for_programs():
    refused = queue.StateConflict("这份投稿现在是「%(state)s」状态，不能再改为「%(next_state)s」（可能有人刚处理过它），请刷新",
                                  state="changes_requested", next_state="approved", version=2)
    assert refused.said_in("zh") == "这份投稿现在是「需修改」状态，不能再改为「已通过」（可能有人刚处理过它），请刷新"
    assert "changes_requested" in refused.message and "需修改" not in refused.message
    assert refused.details == {"state": "changes_requested", "next_state": "approved", "version": 2}
    missing = InvalidInput("请填写「%(field)s」", field="title")
    assert missing.said_in("zh") == "请填写「标题」" and missing.message == "title is required"
    # a raise names the concept of its own details: a synonym's approved is 已采纳, not a submission's 已通过
    synonym = Conflict("同义词 %(id)s 在版本 %(since)s 之后被改过（现在是版本 %(version)s，%(state)s），请刷新后重新决定",
                       id=1, since=1, version=2, state="approved", labels={"state": "synonym"})
    assert "已采纳" in synonym.said_in("zh") and "approved" in synonym.message


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """A Chinese company with a manager, a VIP and a route that lets a refused review reach the error page."""
    from conftest import FIXTURE_DOCS
    from indexer.build import build_full

    root = tmp_path_factory.mktemp("labels")
    shutil.copytree(FIXTURE_DOCS, root / "docs")
    build_full(root / "docs", root / "data")
    app = create_app({"docs": root / "docs", "data": root / "data", "language": "zh"})

    # The error page is the handler of every KBError a page does not catch: show it one from the real queue.
    db = open_db(app.config["KB"]["database_url"])
    people = {name: accounts.create_user(db, name, role)[:2] for name, role in (("wang", "manager"), ("acme", "vip"))}

    @app.get("/test-approve/<int:sid>")
    def approve_unhandled(sid):
        queue.transition(open_db(app.config["KB"]["database_url"]), sid, "approve", people["wang"][0])
    yield {"app": app, "db": db, "people": people, "root": root}
    app.extensions["kb_events"].close()





def test_a_refused_review_reads_the_same_on_the_error_page_in_a_flash_and_on_the_cli(company):
    db, wang = company["db"], company["people"]["wang"][0]
    sub, _ = queue.create(db, company["people"]["acme"][0], SUBMISSION, submit=True)
    queue.transition(db, sub["id"], "request_changes", wang, note="补充一个例子")
    said = "这份投稿现在是「需修改」状态，不能再改为「已通过」（可能有人刚处理过它），请刷新"
    client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])

    flashed = client.post(f"/review/{sub['id']}/approve", follow_redirects=True,
                          data={"csrf_token": form_token(client, f"/review/{sub['id']}")})
    assert error_banners(flashed) == ["没有执行：" + said]

    page = client.get(f"/test-approve/{sub['id']}")
    assert page.status_code == 409 and said in html.unescape(page.get_data(as_text=True))

    r = CliRunner().invoke(cli, ["contrib", "approve", str(sub["id"]), "--by", "wang", "--docs",
                                 str(company["root"] / "docs"), "--data", str(company["root"] / "data")])
    assert r.exit_code == 1 and said in r.output, r.output
    assert queue.get(db, sub["id"])["state"] == "changes_requested"  # refused everywhere: nothing changed


def test_a_synonym_conflict_banner_names_the_state_as_the_synonyms_page_does(company):
    db = company["db"]
    learned.record_proposals(db, [{"customer": "批条子", "article": "审批", "sessions": 4, "examples": [["批条子", "审批"]],
                                   "slugs": ["approvals/multi-level-flows"]}])
    pair = learned.list_synonyms(db)[0]
    learned.decide(db, pair["id"], "approve", "王敏", pair["version"])  # another manager, meanwhile
    client = signed_in_client(company["app"], "wang", company["people"]["wang"][1])
    listing = client.get("/synonyms").get_data(as_text=True)
    assert re.search(r'<span class="tag approved">已采纳</span>', listing)
    answer = client.post(f"/synonyms/{pair['id']}", follow_redirects=True, data={
        "decision": "reject", "version": pair["version"], "csrf_token": form_token(client, "/synonyms")})
    [banner] = error_banners(answer)
    assert "王敏 改为 已采纳" in banner and "已通过" not in banner, banner
    assert learned.get_synonym(db, pair["id"])["state"] == "approved"  # nothing changed
