"""Trust in the review and flag workflows: nothing goes live without approval, a multi-step write lands whole
or not at all, and the analysis never overwrites a manager's decision.

Each test builds a real instance (fixture docs, a real Whoosh index, a real SQLite file, the real app) and
injects the failure or the interleaving deterministically (a monkeypatched step), never by timing.
"""

import json

import pytest
import sqlite_utils

from analytics import accounts, flags
from contrib import queue
from contrib.publish import PRACTICES, Publisher, practice_file
from indexer.build import update_incremental
from indexer.errors import Conflict, InvalidInput
from indexer.postgres import PgTable
from indexer.store import apply_migrations, transaction
from kbserver.db import open_db

TITLE = "跨部门审批用看板管理"


def fields(**overrides):
    base = {"title": TITLE, "summary": "用看板泳道跟踪跨部门审批进度。", "body": "## 做法\n\n1. 按部门建泳道\n2. 每周同步一次\n",
            "tags": ["看板", "审批"], "module": "approvals", "organisation": "Acme 公司", "consent": True}
    return {**base, **overrides}


@pytest.fixture
def db(app):
    return open_db(app.config["KB"]["database_url"])


@pytest.fixture
def people(db):
    vip, _, vip_token = accounts.create_user(db, "acme", "vip")
    wang, _, wang_token = accounts.create_user(db, "wang", "manager")
    return {"vip": vip, "wang": wang, "vip_token": vip_token, "wang_token": wang_token,
            "vip_h": {"Authorization": f"Bearer {vip_token}"}, "wang_h": {"Authorization": f"Bearer {wang_token}"}}


@pytest.fixture
def publisher(docs_dir, built):
    return Publisher(docs_dir, built)


def snapshot(db, sid):
    """What a failed or refused action must leave exactly as it was."""
    sub = queue.get(db, sid)
    return {k: sub[k] for k in ("state", "version", "slug", "reason", "assigned_to", "revision")} | {
        "history": len(sub["history"]), "comments": len(sub["comments"])}


def submission_in(db, people, state):
    """A submission brought to state by the real workflow."""
    if state == "draft_without_consent":
        sub, _ = queue.create(db, people["vip"], fields(consent=False), submit=False)
        return sub
    sub, _ = queue.create(db, people["vip"], fields(), submit=state != "draft")
    if state in ("in_review", "changes_requested", "rejected"):
        sub = queue.transition(db, sub["id"], "start_review", people["wang"])
    if state == "changes_requested":
        sub = queue.transition(db, sub["id"], "request_changes", people["wang"], note="请补充一个示例")
    if state == "rejected":
        sub = queue.transition(db, sub["id"], "reject", people["wang"], note="重复")
    assert sub["state"] == state.replace("_without_consent", "")
    return sub


def practice_files(docs_dir):
    return sorted(p.name for p in (docs_dir / PRACTICES).glob("*.md")) if (docs_dir / PRACTICES).exists() else []


# -- 1. publishing never bypasses review ----------------------------------------------------------
@pytest.mark.parametrize("state", ["draft_without_consent", "draft", "submitted", "in_review", "changes_requested",
                                   "rejected"])
def test_publish_before_approval_is_refused_and_nothing_goes_live(client, app, db, people, docs_dir, state):
    sub = submission_in(db, people, state)
    before = snapshot(db, sub["id"])
    r = client.post(f"/api/contrib/submissions/{sub['id']}/publish", headers=people["wang_h"], json={})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict", r.get_data(as_text=True)
    assert snapshot(db, sub["id"]) == before
    assert practice_files(docs_dir) == []
    assert app.extensions["kb_index"].search("跨部门审批 看板")["total"] == 0
    if state in ("submitted", "in_review", "changes_requested"):  # the review goes on as if nothing happened
        r = client.post(f"/api/contrib/submissions/{sub['id']}/reject", headers=people["wang_h"], json={"note": "重复"})
        assert r.status_code == 200 and r.get_json()["state"] == "rejected"


def test_kb_contrib_publish_refuses_an_unapproved_submission_in_one_line(runner, db, people, docs_dir, built):
    from kbserver.cli import cli

    sub = submission_in(db, people, "submitted")
    r = runner.invoke(cli, ["contrib", "publish", str(sub["id"]), "--by", "wang", "--docs", str(docs_dir),
                            "--data", str(built)])
    assert r.exit_code == 1 and "这份投稿现在是「已提交」状态：只有「已通过」状态的投稿才能发布" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert practice_files(docs_dir) == [] and queue.get(db, sub["id"])["state"] == "submitted"


def test_the_review_form_cannot_publish_a_submitted_practice(client, db, people, docs_dir, app):
    sub = submission_in(db, people, "submitted")
    password = "pw-" + "x" * 10
    db["users"].update(people["wang"]["id"], {"password_hash": accounts._hasher.hash(password)})
    client.post("/login", data={"name": "wang", "password": password,
                                "csrf_token": _csrf(client, "/login")})
    r = client.post(f"/review/{sub['id']}/publish", data={"csrf_token": _csrf(client, f"/review/{sub['id']}")})
    assert r.status_code == 302
    assert "没有执行" in client.get(f"/review/{sub['id']}").get_data(as_text=True)
    assert practice_files(docs_dir) == [] and queue.get(db, sub["id"])["state"] == "submitted"
    assert app.extensions["kb_index"].search("跨部门审批 看板")["total"] == 0


def _csrf(client, page):
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)


def test_publish_of_a_published_practice_is_a_conflict_not_a_second_copy(db, people, publisher, docs_dir):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    with pytest.raises(Conflict, match="already published"):
        publisher.publish(db, sub["id"], people["wang"])
    assert practice_files(docs_dir) == [f"{sub['slug']}.md"] and queue.get(db, sub["id"])["version"] == sub["version"]


def test_recovery_removes_a_practice_file_whose_submission_is_not_approved(db, people, publisher, docs_dir, app):
    """What the old publish left behind (a live page for a submitted practice) is taken down on start."""
    sub = submission_in(db, people, "submitted")
    leftover = docs_dir / PRACTICES / "left-behind.md"
    leftover.parent.mkdir(parents=True)
    leftover.write_text(practice_file(sub), encoding="utf-8")
    handwritten = docs_dir / PRACTICES / "handwritten.md"
    handwritten.write_text("---\ntitle: 人工写的实践\n---\n\n# 人工写的实践\n", encoding="utf-8")
    foreign = docs_dir / PRACTICES / "from-another-database.md"
    foreign.write_text(practice_file({**sub, "id": 999, "title": "别处发布的实践"}), encoding="utf-8")
    update_incremental(docs_dir, publisher.data_dir)
    index = app.extensions["kb_index"]
    assert index.has_article("practices/left-behind")

    assert publisher.recover(db) == [sub["id"]]
    assert not leftover.exists() and not index.has_article("practices/left-behind")
    assert handwritten.exists() and foreign.exists()  # not ours to judge: no submission of this database
    assert queue.get(db, sub["id"])["state"] == "submitted"
    assert publisher.recover(db) == []


def test_an_approve_racing_a_publish_retry_reports_success(app, db, people, docs_dir, built, monkeypatch):
    """The retry (recovery in another process) publishes between the approve and the approver's own publish."""
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    approver, retry = Publisher(docs_dir, built), Publisher(docs_dir, built)
    real = queue.transition

    def approve_then_retry(db_, sid, action, actor, *args, **kwargs):
        result = real(db_, sid, action, actor, *args, **kwargs)
        if action == "approve":
            assert retry.recover(open_db(app.config["KB"]["database_url"])) == [sid]  # its own connection
        return result

    monkeypatch.setattr(queue, "transition", approve_then_retry)
    result = approver.approve_and_publish(db, sub["id"], people["wang"])
    assert "publish_error" not in result and result["state"] == "published"
    assert practice_files(docs_dir) == [f"{result['slug']}.md"]
    assert [h["to_state"] for h in result["history"]].count("published") == 1


# -- 2. multi-step writes are atomic ---------------------------------------------------------------
class Boom(RuntimeError):
    pass


def _boom(*args, **kwargs):
    raise Boom("the disk is full")


@pytest.mark.parametrize("action,note", [("request_changes", "请补充一个示例"), ("reject", "重复"), ("start_review", ""),
                                         ("approve", "")])
def test_a_failure_between_statements_leaves_the_submission_unchanged(db, people, monkeypatch, action, note):
    sub = submission_in(db, people, "submitted")
    before = snapshot(db, sub["id"])
    monkeypatch.setattr(queue, "_audit", _boom)  # the state UPDATE has run; the audit insert fails
    with pytest.raises(Boom):
        queue.transition(db, sub["id"], action, people["wang"], sub["version"], note)
    assert snapshot(db, sub["id"]) == before


def test_a_failed_submit_keeps_no_revision(db, people, monkeypatch):
    sub = submission_in(db, people, "draft")
    before = snapshot(db, sub["id"])
    monkeypatch.setattr(queue, "_audit", _boom)  # the revision is inserted, then the audit fails
    with pytest.raises(Boom):
        queue.transition(db, sub["id"], "submit", people["vip"])
    assert snapshot(db, sub["id"]) == before and queue.get(db, sub["id"])["revisions"] == []


def test_a_failed_create_leaves_no_submission_without_history(db, people, monkeypatch):
    monkeypatch.setattr(queue, "_audit", _boom)
    with pytest.raises(Boom):
        queue.create(db, people["vip"], fields())
    with pytest.raises(Boom):
        queue.create_from_ticket(db, {"id": 9, "name": "客服", "role": "agent"}, "怎么导入？", "用模板。", "T-1")
    assert db["submissions"].count == 0 and db["submission_revisions"].count == 0


@pytest.mark.parametrize("action", ["request_changes", "reject"])
def test_a_lone_surrogate_in_a_review_note_is_a_400_and_changes_nothing(client, db, people, action):
    sub = submission_in(db, people, "submitted")
    before = snapshot(db, sub["id"])
    r = client.post(f"/api/contrib/submissions/{sub['id']}/{action}", headers={**people["wang_h"],
                    "Content-Type": "application/json"}, data='{"note": "请改 \\ud800 这里"}')
    message = r.get_json()["error"]["message"]  # refused where the body is read (kbserver/inputs.py) or the note
    assert r.status_code == 400 and ("note" in message or "surrogate" in message), r.get_data(as_text=True)
    assert snapshot(db, sub["id"]) == before


def test_a_lone_surrogate_in_a_flag_note_is_a_400_and_changes_nothing(client, db, people):
    flags.sync(db, [candidate()])
    flag = flags.list_flags(db)[0]
    r = client.post(f"/api/flags/{flag['id']}", headers={**people["wang_h"], "Content-Type": "application/json"},
                    data=json.dumps({"state": "acknowledged", "version": flag["version"]}).replace('}', ', "note": "\\udfff"}'))
    message = r.get_json()["error"]["message"]  # refused where the body is read (kbserver/inputs.py) or the note
    assert r.status_code == 400 and ("note" in message or "surrogate" in message), r.get_data(as_text=True)
    after = flags.get_flag(db, flag["id"])
    assert (after["state"], after["version"], len(after["history"])) == ("open", flag["version"], 1)


def test_a_failure_between_flag_statements_leaves_the_flag_unchanged(db, monkeypatch):
    flags.sync(db, [candidate()])
    flag = flags.list_flags(db)[0]
    monkeypatch.setattr(flags, "_audit", _boom)
    with pytest.raises(Boom):
        flags.transition(db, flag["id"], "acknowledged", "wang", flag["version"])
    with pytest.raises(Boom):
        flags.sync(db, [])  # would auto-resolve it
    after = flags.get_flag(db, flag["id"])
    assert (after["state"], after["version"], len(after["history"])) == ("open", flag["version"], 1)


def test_transaction_groups_sqlite_utils_calls_and_rolls_back_on_error(db):
    db["t"].create({"id": int, "v": str}, pk="id")
    with pytest.raises(Boom):
        with transaction(db):
            db["t"].insert({"id": 1, "v": "a"})
            db.execute("UPDATE t SET v = 'b' WHERE id = 1")
            with transaction(db):  # nested: a savepoint inside the same transaction
                db["t"].insert({"id": 2, "v": "c"})
            _boom()
    assert db["t"].count == 0 and not db.conn.in_transaction
    with transaction(db):
        db["t"].insert({"id": 1, "v": "a"})
        db["t"].update(1, {"v": "b"})
    assert list(db["t"].rows) == [{"id": 1, "v": "b"}]


def test_a_failing_migration_leaves_neither_its_tables_nor_its_record(tmp_path, monkeypatch):
    db = sqlite_utils.Database(str(tmp_path / "m.db"))

    def half_migration(db):
        db["half"].create({"id": int}, pk="id")
        _boom()

    with pytest.raises(Boom):
        apply_migrations(db, [("test", [half_migration])])
    assert "half" not in db.table_names() and db["_migrations"].count == 0


# -- 3. the analysis never overwrites a manager's decision -------------------------------------------
def candidate(score=0.5, key="article:a:low_helpfulness"):
    return {"key": key, "kind": "article", "slug": "a", "reason": "low_helpfulness", "title": "A", "path": "a.md",
            "score": score, "evidence": {"votes": 10}, "suggestion": "fix it"}


def act_after_sync_reads(monkeypatch, when, act):
    """Run act() once, right after sync has read the flags matching when(where) and before it writes."""
    reals = {sqlite_utils.db.Table: sqlite_utils.db.Table.rows_where, PgTable: PgTable.rows_where}
    fired = []

    def rows_where(self, where=None, *args, **kwargs):
        real = reals[PgTable if isinstance(self, PgTable) else sqlite_utils.db.Table]
        rows = list(real(self, where, *args, **kwargs))
        if self.name == "flags" and where and when(where) and not fired:
            fired.append(True)
            act()
        return iter(rows)

    monkeypatch.setattr(sqlite_utils.db.Table, "rows_where", rows_where)
    monkeypatch.setattr(PgTable, "rows_where", rows_where)  # the same store calls on PostgreSQL
    return fired


def test_an_acknowledge_landing_during_sync_is_kept(db, monkeypatch):
    flags.sync(db, [candidate()])
    flag = flags.list_flags(db)[0]
    fired = act_after_sync_reads(monkeypatch, lambda where: "state IN" in where and "?" not in where,
                                 lambda: flags.transition(db, flag["id"], "acknowledged", "wang", flag["version"]))
    summary = flags.sync(db, [])  # the signal is gone: sync would resolve the flag it read as open
    assert fired
    after = flags.get_flag(db, flag["id"])
    assert after["state"] == "acknowledged" and after["state_by"] == "wang"
    assert [(h["to_state"], h["actor"]) for h in after["history"]] == [("open", "kb-analyze"), ("acknowledged", "wang")]
    assert summary["auto_resolved"] == 0 and summary["changed_meanwhile"] == 1
    monkeypatch.undo()
    flags.sync(db, [])  # the next run decides on what the manager left: audit and state agree
    after = flags.get_flag(db, flag["id"])
    assert after["state"] == "resolved" and after["history"][-1]["from_state"] == "acknowledged"


def test_a_dismissal_landing_during_sync_is_not_reopened_or_refreshed(db, monkeypatch):
    flags.sync(db, [candidate(0.5)])
    flag = flags.list_flags(db)[0]
    act_after_sync_reads(monkeypatch, lambda where: where.startswith("key = ?"),
                         lambda: flags.transition(db, flag["id"], "dismissed", "wang", flag["version"], "误报"))
    flags.sync(db, [candidate(0.6)])
    after = flags.get_flag(db, flag["id"])
    assert (after["state"], after["state_by"], after["score"]) == ("dismissed", "wang", 0.5)
    assert after["history"][-1]["to_state"] == "dismissed"


def test_every_sync_write_is_a_compare_and_set(db):
    """A refresh by the analysis does not bump the version (a manager's open page stays valid); a state change does."""
    flags.sync(db, [candidate(0.5)])
    flag = flags.list_flags(db)[0]
    flags.sync(db, [candidate(0.7)])
    refreshed = flags.get_flag(db, flag["id"])
    assert refreshed["score"] == 0.7 and refreshed["version"] == flag["version"]
    flags.transition(db, flag["id"], "acknowledged", "wang", flag["version"])
    flags.sync(db, [])
    resolved = flags.get_flag(db, flag["id"])
    assert resolved["state"] == "resolved" and resolved["version"] == flag["version"] + 2


# -- 10. the role is checked before the input --------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/contrib/submissions/1/approve", "/api/contrib/submissions/1/reject",
                                  "/api/contrib/submissions/1/publish", "/api/contrib/submissions/1/start_review"])
@pytest.mark.parametrize("body", [b"\xff", b"[1]", b'{"note": 5, "version": "x", "assignee": 3}'])
def test_a_customer_gets_403_for_review_actions_whatever_the_input(client, people, path, body):
    r = client.post(path, headers=people["vip_h"], data=body, content_type="application/json")
    assert r.status_code == 403, r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/contrib/preview", "/api/contrib/similar", "/api/contrib/submissions"])
def test_preview_and_similar_check_the_role_before_the_input(client, db, path):
    _, _, token = accounts.create_user(db, "客服", "agent")
    for body in (b"\xff", b"[1]", json.dumps({"body": "x" * 200_000}).encode()):
        r = client.post(path, headers={"Authorization": f"Bearer {token}"}, data=body, content_type="application/json")
        assert r.status_code == 403, r.get_data(as_text=True)
    assert client.post(path, data=b"\xff", content_type="application/json").status_code == 401


def test_refusals_name_the_state(db, people, publisher):
    sub = submission_in(db, people, "submitted")
    with pytest.raises(Conflict, match="submitted.*approved"):
        publisher.publish(db, sub["id"], people["wang"])
    with pytest.raises(InvalidInput, match="note"):
        queue.transition(db, sub["id"], "request_changes", people["wang"], note="x\ud800")
