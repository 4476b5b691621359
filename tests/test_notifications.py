"""Notifications with real parts: a local SMTP server (aiosmtpd), local HTTP receivers, a real app and SQLite file."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import re
import shutil
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from analytics import accounts, flags, notifications
from conftest import FIXTURE_DOCS, free_port
from indexer.build import build_full
from indexer.errors import InvalidInput
from indexer.store import transaction
from kbserver import create_app
from kbserver.cli import cli
from kbserver.db import open_db
from kbserver.settings import load_settings

SECRET = "s3cret-for-the-receiver-0123"


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(msg["Subject"]), "body": msg.get_content()})
        return "250 OK"

    def to(self, address):
        return [m for m in self.messages if address in m["to"]]


class Receiver(http.server.ThreadingHTTPServer):
    """A local webhook receiver; answers each POST with the next status in `statuses` (then 200)."""

    def __init__(self, statuses=()):
        self.statuses, self.received = list(statuses), []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802, N805
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append({"headers": handler.headers, "body": body})  # case-insensitive
                handler.send_response(self.statuses.pop(0) if self.statuses else 200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def app(tmp_path, smtp):
    controller, _ = smtp
    docs, data = tmp_path / "docs", tmp_path / "data"
    shutil.copytree(FIXTURE_DOCS, docs)  # approving publishes into docs: never into the repository's fixtures
    build_full(docs, data)
    app = create_app({"docs": docs, "data": data, "database_url": f"sqlite:///{tmp_path}/kb.db",
                      "smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_from": "kb@example.com",
                      "time_zone": "Asia/Shanghai", "public_url": "https://help.example.com"})
    yield app
    app.extensions["kb_site_updater"].wait_idle(30)
    app.extensions["kb_events"].close()


@pytest.fixture
def db(app):
    db = open_db(app.config["KB"]["database_url"])
    yield db
    db.conn.close()


@pytest.fixture
def people(db):
    mgr, _, mgr_token = accounts.create_user(db, "wang", "manager")
    vip, _, vip_token = accounts.create_user(db, "acme", "vip")
    accounts.set_contact(db, mgr["id"], "wang@example.com")
    accounts.set_contact(db, vip["id"], "acme@example.com")
    return {"mgr": {"Authorization": f"Bearer {mgr_token}"}, "vip": {"Authorization": f"Bearer {vip_token}"},
            "mgr_user": mgr, "vip_user": vip}


def send(app, now=None):
    return app.extensions["kb_notifier"].deliver_due(now=now)


def verify(secret: str, body: bytes, header: str) -> bool:
    """The README's receiver check."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


PRACTICE = {"title": "用甘特图排产的三个习惯", "summary": "我们工厂的排产做法", "body": "## 做法\n\n每天早上先看关键路径。" * 5,
            "tags": ["甘特图"], "module": "gantt", "organisation": "Acme 制造", "consent": True, "submit": True}


def test_an_approval_reaches_the_author_by_email_and_a_signed_webhook(app, client_for, people, smtp):
    _, inbox = smtp
    receiver = Receiver()
    client = client_for(app)
    added = client.post("/api/webhooks", headers=people["mgr"], json={
        "url": receiver.url, "events": ["submission.approved"], "secret": SECRET})
    assert added.status_code == 201, added.get_json()
    assert "secret" not in added.get_json() and added.get_json()["secret_hint"] == SECRET[:4] + "…"
    sid = client.post("/api/contrib/submissions", headers=people["vip"], json=PRACTICE).get_json()["id"]
    send(app)
    assert [m["subject"] for m in inbox.to("wang@example.com")][-1] == "新的最佳实践投稿待审核：用甘特图排产的三个习惯"

    approved = client.post(f"/api/contrib/submissions/{sid}/approve", headers=people["mgr"], json={"note": "写得好"})
    assert approved.status_code == 200, approved.get_json()
    send(app)
    mail = [m for m in inbox.to("acme@example.com") if "已通过审核" in m["subject"]]
    assert len(mail) == 1 and "用甘特图排产的三个习惯" in mail[0]["subject"] and "写得好" in mail[0]["body"]
    assert f"链接：https://help.example.com/contrib/{sid}" in mail[0]["body"]

    [hit] = receiver.received
    assert hit["headers"]["X-KB-Event"] == "submission.approved"
    assert verify(SECRET, hit["body"], hit["headers"]["X-KB-Signature"])
    assert not verify("another-secret-0123456789", hit["body"], hit["headers"]["X-KB-Signature"])
    payload = json.loads(hit["body"])
    assert payload["event"] == "submission.approved" and payload["data"]["submission_id"] == sid
    assert payload["data"]["author"] == "acme"
    log = client.get("/api/webhooks/deliveries", headers=people["mgr"]).get_json()["deliveries"]
    assert log[0]["state"] == "delivered" and [a["status"] for a in log[0]["attempt_log"]] == [200]
    receiver.shutdown()


@pytest.fixture
def client_for():
    return lambda app: app.test_client()


def test_a_receiver_that_answers_500_gets_a_retry_and_the_log_shows_both(app, client_for, people):
    receiver = Receiver([500])
    client = client_for(app)
    client.post("/api/webhooks", headers=people["mgr"], json={"url": receiver.url, "events": ["*"], "secret": SECRET})
    asked = client.post("/api/questions", json={"question": "怎么把甘特图导出成 PDF？", "email": "c@example.com"})
    assert asked.status_code == 201
    send(app)
    [first] = client.get("/api/webhooks/deliveries", headers=people["mgr"]).get_json()["deliveries"]
    assert first["state"] == "pending" and first["last_error"] == "HTTP 500"
    send(app)  # the retry waits its backoff: nothing is sent again at once
    assert len(receiver.received) == 1
    send(app, now=time.time() + 6)
    [done] = client.get("/api/webhooks/deliveries", headers=people["mgr"]).get_json()["deliveries"]
    assert done["state"] == "delivered" and [a["status"] for a in done["attempt_log"]] == [500, 200]
    assert receiver.received[0]["body"] == receiver.received[1]["body"]  # the same signed body again
    assert receiver.received[1]["headers"]["X-KB-Event"] == "question.asked"
    assert verify(SECRET, receiver.received[1]["body"], receiver.received[1]["headers"]["X-KB-Signature"])

    page = _signed_in_page(client, app, "/webhooks")
    assert "HTTP 500" in page and "HTTP 200" in page and "已送达" in page and SECRET not in page

    replayed = client.post(f"/api/webhooks/deliveries/{done['id']}/replay", headers=people["mgr"])
    assert replayed.status_code == 201 and replayed.get_json()["replay_of"] == done["id"]
    send(app)
    assert len(receiver.received) == 3 and receiver.received[2]["body"] == receiver.received[0]["body"]
    receiver.shutdown()


def _signed_in_page(client, app, path):
    db = open_db(app.config["KB"]["database_url"])
    password = accounts.reset_password(db, accounts.find_user(db, "wang")["id"], 1)
    db.conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": token})
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_digest_reader_gets_one_email_with_every_item(app, client_for, people, smtp):
    _, inbox = smtp
    client = client_for(app)
    saved = client.put("/api/me/notifications", headers=people["mgr"], json={"mode": "digest"})
    assert saved.get_json() == {"email": "wang@example.com", "mode": "digest", "modes": ["instant", "digest", "off"]}
    questions = ["甘特图怎么导出？", "工时报表在哪里看？", "如何批量导入任务？"]
    for i, q in enumerate(questions):
        assert client.post("/api/questions", json={"question": q}, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code == 201
    before = len(inbox.to("wang@example.com"))
    send(app)
    assert len(inbox.to("wang@example.com")) == before  # not the digest's hour yet
    send(app, now=time.time() + 86400)
    digests = inbox.to("wang@example.com")[before:]
    assert len(digests) == 1 and digests[0]["subject"] == "帮助中心每日摘要：3 条通知"
    assert all(q in digests[0]["body"] for q in questions)
    send(app, now=time.time() + 2 * 86400)
    assert len(inbox.to("wang@example.com")) == before + 1  # sent once


def test_the_outbox_is_part_of_the_events_transaction(db, people):
    with pytest.raises(RuntimeError):
        with transaction(db):
            notifications.notify(db, "question.asked", {"title": "丢失？"}, "managers")
            raise RuntimeError("crash before the commit")
    assert notifications.emails(db) == []
    notifications.add_webhook(db, "http://127.0.0.1:9/x", ["flag.opened"], SECRET)
    with transaction(db):
        notifications.notify(db, "flag.opened", {"title": "x"}, "managers")
    assert len(notifications.emails(db)) == 1 and len(notifications.deliveries(db)) == 1


def test_new_flags_notify_managers_and_a_review_due_goes_to_the_owner(db, people):
    owner, _, _ = accounts.create_user(db, "zhao", "editor")
    accounts.set_contact(db, owner["id"], "zhao@example.com")
    flags.sync(db, [
        {"key": "review:a", "kind": "article", "slug": "a", "reason": "review_overdue", "title": "导入 Excel",
         "score": 0.3, "evidence": {"owner": "zhao@example.com", "due": "2026-11-01"}, "suggestion": "复核"},
        {"key": "gap:b", "kind": "gap", "slug": "", "reason": "new_article", "title": "考勤 打卡", "score": 0.9,
         "evidence": {}, "suggestion": "写一篇"},
        {"key": "low:c", "kind": "article", "slug": "c", "reason": "unhelpful", "title": "低分", "score": 0.2,
         "evidence": {}, "suggestion": ""}])
    sent = {(m["email"], m["event"]) for m in notifications.emails(db)}
    assert sent == {("zhao@example.com", "review.due"), ("wang@example.com", "gap.opened")}
    flags.sync(db, [{"key": "gap:b", "kind": "gap", "slug": "", "reason": "new_article", "title": "考勤 打卡",
                     "score": 0.95, "evidence": {}, "suggestion": "写一篇"}])
    assert len(notifications.emails(db)) == 2  # an open flag seen again is not news


def test_bad_webhooks_and_preferences_are_clear_400s(app, client_for, people):
    client = client_for(app)
    for body, words in [({"url": "ftp://example.com/x", "events": ["*"]}, "http:// or https://"),
                        ({"url": "http://example.com/x", "events": []}, "non-empty list"),
                        ({"url": "http://example.com/x", "events": ["nope"]}, "unknown event type"),
                        ({"url": "http://example.com/x", "events": ["*"], "secret": "short"}, "16 to 200"),
                        ({"events": ["*"]}, "url is required")]:
        answer = client.post("/api/webhooks", headers=people["mgr"], json=body)
        assert answer.status_code == 400 and words in answer.get_json()["error"]["message"], answer.get_json()
    assert client.post("/api/webhooks", headers=people["vip"], json={"url": "http://x.y/", "events": ["*"]}).status_code == 403
    for body in ({"email": "not an address"}, {"mode": "hourly"}, {}):
        assert client.put("/api/me/notifications", headers=people["vip"], json=body).status_code == 400
    assert client.delete("/api/webhooks/999", headers=people["mgr"]).status_code == 404
    generated = client.post("/api/webhooks", headers=people["mgr"], json={"url": "https://x.example/h", "events": ["*"]})
    secret = generated.get_json()["secret"]
    assert secret.startswith("whsec_")  # generated: shown in this answer only
    listed = client.get("/api/webhooks", headers=people["mgr"]).get_data(as_text=True)
    assert secret not in listed and secret[:4] + "…" in listed


def test_cli_webhooks_and_email_with_one_line_errors(runner, tmp_path):
    opts = ["--data", str(tmp_path / "data")]
    added = runner.invoke(cli, ["webhooks", "add", "https://hooks.example.com/kb", "--events", "gap.opened,flag.opened",
                                "--secret", SECRET, *opts])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["webhooks", "list", *opts])
    assert "https://hooks.example.com/kb" in listed.output and SECRET not in listed.output
    bad = runner.invoke(cli, ["webhooks", "add", "hooks.example.com", "--events", "*", *opts])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "http:// 或 https://" in bad.output
    assert runner.invoke(cli, ["users", "add", "li", "--role", "manager", "--email", "li@example.com", *opts]).exit_code == 0
    set_mail = runner.invoke(cli, ["users", "set-email", "li", "li2@example.com", "--mode", "digest", *opts])
    assert set_mail.exit_code == 0 and "li：li2@example.com，digest" in set_mail.output
    bad_mail = runner.invoke(cli, ["users", "set-email", "li", "li@", *opts])
    assert bad_mail.exit_code == 1 and "不是有效的邮箱地址" in bad_mail.output
    bad_user = runner.invoke(cli, ["users", "add", "zhou", "--role", "agent", "--email", "nope", *opts])
    assert bad_user.exit_code == 1 and "zhou" not in runner.invoke(cli, ["users", "list", *opts]).output
    assert runner.invoke(cli, ["webhooks", "remove", "1", *opts]).exit_code == 0
    gone = runner.invoke(cli, ["webhooks", "remove", "1", *opts])
    assert gone.exit_code == 1 and "没有编号为 1 的 webhook" in gone.output


def test_smtp_settings_are_checked(tmp_path):
    with pytest.raises(InvalidInput, match="smtp_from"):
        load_settings({"data": tmp_path, "smtp_host": "mail.example.com"})
    with pytest.raises(InvalidInput, match="KB_SMTP_PASSWORD"):
        load_settings({"data": tmp_path, "smtp_host": "mail.example.com", "smtp_from": "kb@example.com",
                       "smtp_user": "kb"})
    with pytest.raises(InvalidInput, match="KB_PUBLIC_URL"):
        load_settings({"data": tmp_path, "public_url": "help.example.com"})
    with pytest.raises(InvalidInput, match="smtp_port"):
        load_settings({"data": tmp_path, "smtp_host": "m", "smtp_from": "kb@example.com", "smtp_port": "70000"})


@pytest.mark.slow
def test_kb_serve_sends_what_a_previous_run_left_and_what_happens_now(docs_dir, data_dir, smtp):
    """The background sender of the real `kb serve`: the outbox survives a stop, new events go out at once."""
    import requests

    from analytics import questions
    from conftest import LiveServer, store_url

    controller, inbox = smtp
    receiver = Receiver()
    data_dir.mkdir(parents=True)
    db = open_db(store_url(data_dir))
    mgr, _, _ = accounts.create_user(db, "boss", "manager")
    accounts.set_contact(db, mgr["id"], "boss@example.com")
    notifications.add_webhook(db, receiver.url, ["question.asked"], SECRET)
    questions.add_question(db, "服务停着时提的问题", address="10.1.1.1")  # recorded while no server runs
    db.conn.close()
    server = LiveServer(docs_dir, data_dir, extra_env={
        "KB_SMTP_HOST": "127.0.0.1", "KB_SMTP_PORT": str(controller.port), "KB_SMTP_FROM": "kb@example.com",
        "KB_SEMANTIC_MODEL": "off"})
    try:
        assert requests.post(server.url + "/api/questions", json={"question": "服务运行时提的问题"}, timeout=10).ok
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(inbox.to("boss@example.com")) < 2 or len(receiver.received) < 2):
            time.sleep(0.2)
    finally:
        server.stop()
        receiver.shutdown()
    subjects = sorted(m["subject"] for m in inbox.to("boss@example.com"))
    assert subjects == ["客户向支持团队提交了问题：服务停着时提的问题", "客户向支持团队提交了问题：服务运行时提的问题"]
    assert sorted(json.loads(r["body"])["data"]["summary"] for r in receiver.received) == \
        ["服务停着时提的问题", "服务运行时提的问题"]


def test_without_smtp_emails_wait_and_the_sender_does_not_spin(tmp_path, people, app):
    from kbserver.notify import NotificationSender

    settings = app.config["KB"] | {"smtp_host": ""}
    client = app.test_client()
    assert client.post("/api/questions", json={"question": "没有邮件服务器时的问题"}).status_code == 201
    sender = NotificationSender(settings)
    assert sender.deliver_due() == 60.0  # nothing it can send: sleep, not a busy loop
    db = open_db(settings["database_url"])
    assert [m["state"] for m in notifications.emails(db)] == ["pending"]  # kept for when SMTP is configured
    db.conn.close()


def test_a_manager_sets_someones_email_on_the_users_page(app, people):
    client = app.test_client()
    page = _signed_in_page(client, app, "/users")
    assert 'value="acme@example.com"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    vip = people["vip_user"]["id"]
    client.post(f"/users/{vip}", data={"action": "set_email", "email": "new@example.com", "csrf_token": token})
    assert 'value="new@example.com"' in client.get("/users").get_data(as_text=True)
    refused = client.post(f"/users/{vip}", data={"action": "set_email", "email": "nope", "csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "没有保存" in refused and 'value="new@example.com"' in refused


def test_each_review_step_reaches_the_right_person(db, people):
    from contrib import queue

    li, _, _ = accounts.create_user(db, "li", "manager")
    accounts.set_contact(db, li["id"], "li@example.com")
    vip = accounts.get_user(db, people["vip_user"]["id"])
    fields = {k: v for k, v in PRACTICE.items() if k != "submit"}

    def sent():
        return [(m["email"], m["event"]) for m in reversed(notifications.emails(db))]

    sub, _ = queue.create(db, vip, fields, submit=True)
    assert sorted(sent()) == [("li@example.com", "submission.submitted"), ("wang@example.com", "submission.submitted")]
    queue.transition(db, sub["id"], "request_changes", li, note="请补充截图")
    assert sent()[-1] == ("acme@example.com", "submission.changes_requested")
    assert "备注：请补充截图" in db.execute("SELECT body FROM notify_emails ORDER BY id DESC LIMIT 1").fetchone()[0]
    queue.transition(db, sub["id"], "submit", vip)  # back to li, who asked: not every manager
    assert sent()[-1] == ("li@example.com", "submission.submitted") and len(sent()) == 4
    queue.transition(db, sub["id"], "reject", li, note="与现有文章重复")
    assert sent()[-1] == ("acme@example.com", "submission.rejected")


def test_a_message_for_an_author_nobody_can_reach_goes_to_nobody_else(db, people):
    """A disabled (or removed) customer's rejection notice must not land in the managers' inboxes."""
    from contrib import queue

    vip = accounts.get_user(db, people["vip_user"]["id"])
    fields = {k: v for k, v in PRACTICE.items() if k != "submit"}
    sub, _ = queue.create(db, vip, fields, submit=True)
    before = len(notifications.emails(db))
    accounts.set_disabled(db, vip["id"], True)
    queue.transition(db, sub["id"], "reject", people["mgr_user"] | {"role": "manager"}, note="与现有文章重复")
    assert len(notifications.emails(db)) == before  # nobody: not wang, the manager
