"""VIP best practices: validation, sanitization, the review workflow, publication and recovery."""

import json
import re

import pytest
import yaml

from analytics import accounts
from contrib import queue
from contrib.publish import PRACTICES, Publisher, slugify
from contrib.render import render_markdown
from contrib.similar import similar
from indexer.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from kbserver import policy
from kbserver.cli import cli
from kbserver.db import open_db

# Known XSS payloads (OWASP cheat sheet classics) in Markdown and raw HTML.
XSS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>", "[click](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))",
    "<a href=\"javascript&#58;alert(1)\">x</a>", "<body onload=alert(1)>", "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<style>@import 'x'</style>",
    "![x](javascript:alert(1))", "<object data=javascript:alert(1)>", "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><input type=submit>", "<a href='vbscript:msgbox(1)'>x</a>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>", "<input autofocus onfocus=alert(1)>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
]


def fields(**overrides):
    base = {"title": "跨部门审批用看板管理", "summary": "用看板泳道跟踪跨部门审批进度。",
            "body": "## 做法\n\n1. 按部门建泳道\n2. 每周同步一次\n", "tags": ["看板", "审批"], "module": "approvals",
            "organisation": "Acme 公司", "consent": True}
    return {**base, **overrides}


@pytest.fixture
def db(app):
    return open_db(app.config["KB"]["database_url"])


@pytest.fixture
def people(db):
    vip, _, vip_token = accounts.create_user(db, "acme", "vip")
    other, _, _ = accounts.create_user(db, "globex", "vip")
    wang, wang_password, wang_token = accounts.create_user(db, "wang", "manager")
    li, _, _ = accounts.create_user(db, "li", "manager")
    agent, _, _ = accounts.create_user(db, "agent", "agent")
    return {"vip": vip, "other": other, "wang": wang, "li": li, "agent": agent, "vip_token": vip_token,
            "wang_token": wang_token, "wang_password": wang_password}


@pytest.fixture
def publisher(docs_dir, built):
    return Publisher(docs_dir, built)


def assert_inert(html: str) -> None:
    """No element or attribute in html can run script (text that merely mentions one is fine)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all(["script", "iframe", "object", "embed", "style", "form", "meta", "svg", "math", "input"])
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on") and name.lower() != "style", (tag, name)
            if name in ("href", "src", "action"):
                scheme = value.strip().lower().split(":", 1)[0] if ":" in value else ""
                assert scheme in ("", "http", "https", "mailto"), (tag, value)


@pytest.mark.parametrize("payload", XSS)
def test_no_xss_payload_survives_rendering(payload):
    assert_inert(render_markdown(f"正文 {payload} 结尾"))


@pytest.mark.parametrize("markdown,shown", [
    ("[点我](javascript:alert('x')) 之后", "<p>点我 之后</p>"),  # no stray ")" or quote-made title
    ("[点我](javascript:alert(1))", "<p>点我</p>"),  # a link whose target went is its text, not a dead link
    ("![流程图](javascript:alert(1))", "<p>流程图</p>"),  # an image without a source is its alt text
    ("![x](data:image/png;base64,AAAA)", "<p>x</p>"),
    ("[文档](https://example.com/a_(b)) 和 [本站](../a.md)",
     '<p><a href="https://example.com/a_(b)" rel="noopener noreferrer nofollow">文档</a> 和 '
     '<a href="../a.md" rel="noopener noreferrer nofollow">本站</a></p>'),
])
def test_what_the_sanitizer_removes_leaves_no_broken_image_or_stray_markup(markdown, shown):
    assert render_markdown(markdown) == shown


@pytest.mark.parametrize("bad,message", [
    ({"title": ""}, "title is required"), ({"title": "x" * 121}, "too long"), ({"body": "x" * 100_001}, "too long"),
    ({"tags": [str(i) for i in range(9)]}, "at most 8 tags"), ({"consent": False}, "consent"),
    ({"title": "a\n---\ntitle: pwned"}, "single line"), ({"title": 5}, "must be text"), ({"extra": 1}, "unknown field"),
    ({"body": "ok \ud800"}, "not valid text"), ({"title": "好 <img src=x onerror=alert(1)>"}, "cannot contain"),
    ({"organisation": "Org\" onmouseover=\"alert(1)"}, "cannot contain"), ({"tags": ["<b>"]}, "cannot contain"),
    ({"summary": "`x`"}, "cannot contain"), ({"module": "m>"}, "cannot contain"),
])
def test_bad_submissions_are_refused_with_a_reason(db, people, bad, message):
    with pytest.raises(InvalidInput, match=message):
        queue.create(db, people["vip"], fields(**bad), submit=True)


def test_only_vip_customers_submit(db, people):
    for who in ("wang", "agent"):
        with pytest.raises(Forbidden):
            policy.require_vip(people[who])


def test_the_whole_workflow_and_its_audit_trail(db, people, publisher, built):
    sub, created = queue.create(db, people["vip"], fields(), submit=False)
    assert created and sub["state"] == "draft"
    sub = queue.update(db, sub["id"], people["vip"], fields(summary="改过的摘要"), sub["version"])
    sub = queue.transition(db, sub["id"], "submit", people["vip"], sub["version"])
    assert sub["state"] == "submitted" and sub["revision"] == 1
    sub = queue.transition(db, sub["id"], "start_review", people["wang"])
    assert sub["state"] == "in_review" and sub["assigned_to"] == "wang"
    sub = queue.transition(db, sub["id"], "request_changes", people["wang"], note="请补充一个示例")
    assert sub["state"] == "changes_requested" and sub["comments"][-1]["body"] == "请补充一个示例"
    assert queue.list_submissions(db, author_id=people["vip"]["id"])[0]["reason"] == "请补充一个示例"  # the author sees it
    sub = queue.update(db, sub["id"], people["vip"], fields(body="## 做法\n\n1. 建泳道\n\n## 示例\n\n采购审批。"),
                       sub["version"])
    sub = queue.transition(db, sub["id"], "submit", people["vip"])
    assert sub["revision"] == 2 and len(sub["revisions"]) == 2
    # back to the reviewer who asked for the changes, without anyone claiming it again
    assert sub["state"] == "in_review" and sub["assigned_to"] == "wang"
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    assert sub["state"] == "published" and sub["slug"] == "kua-bu-men-shen-pi-yong-kan-ban-guan-li"
    states = [(h["from_state"], h["to_state"], h["actor"]) for h in sub["history"]]
    assert states[-3:] == [("changes_requested", "in_review", "acme"), ("in_review", "approved", "wang"),
                           ("approved", "published", "wang")]
    assert all(h["ts"] for h in sub["history"])


def test_refusals_are_clear_and_nothing_is_applied_twice(db, people, publisher):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    with pytest.raises(Conflict, match="cannot be submitted"):
        queue.transition(db, sub["id"], "submit", people["vip"])  # double submit
    with pytest.raises(Forbidden):
        policy.require_submission(people["vip"], queue.get(db, sub["id"]), "approve")
    with pytest.raises(NotFound):  # someone else's submission: not even visible
        policy.require_submission(people["other"], queue.get(db, sub["id"]), "submit")
    with pytest.raises(InvalidInput, match="reason"):
        queue.transition(db, sub["id"], "reject", people["wang"])
    seen = queue.get(db, sub["id"])["version"]
    publisher.approve_and_publish(db, sub["id"], people["wang"], seen)
    with pytest.raises(Conflict):  # li's page was loaded before wang approved
        queue.transition(db, sub["id"], "reject", people["li"], seen, note="重复")
    assert queue.get(db, sub["id"])["state"] == "published"


def test_rejection_reason_reaches_the_submitter(db, people):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    queue.transition(db, sub["id"], "reject", people["wang"], note="与现有文章重复")
    mine = queue.list_submissions(db, author_id=people["vip"]["id"])
    assert mine[0]["state"] == "rejected" and mine[0]["reason"] == "与现有文章重复"
    assert queue.list_submissions(db, author_id=people["other"]["id"]) == []


def test_identical_resubmission_is_not_a_duplicate(db, people):
    first, created = queue.create(db, people["vip"], fields(), submit=True)
    again, created_again = queue.create(db, people["vip"], fields(), submit=True)
    assert created and not created_again and again["id"] == first["id"]


def test_per_account_rate_limit(db, people):
    for i in range(queue.RATE_LIMIT):
        queue.create(db, people["vip"], fields(title=f"实践 {i}"))
    with pytest.raises(RateLimited):
        queue.create(db, people["vip"], fields(title="再来一篇"))
    queue.create(db, people["other"], fields(title="别人的不受影响"))


def test_front_matter_is_generated_never_injected(db, people, publisher, docs_dir):
    sub, _ = queue.create(db, people["vip"], fields(title="title: pwned", summary="--- module: hacked",
                                                    organisation="Evil: 'org' &amp;", tags=["a: b"]), submit=True)
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    text = (docs_dir / PRACTICES / f"{sub['slug']}.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    assert meta["title"] == "title: pwned" and meta["summary"] == "--- module: hacked"
    assert meta["module"] == "approvals" and meta["contributed_by"] == "Evil: 'org' &amp;" and meta["tags"] == ["a: b"]
    assert meta["source_submission"] == sub["id"] and meta["reviewed"] and meta["review_every"]


def test_published_practice_is_searchable_and_unpublishing_removes_it(db, people, publisher, app, docs_dir):
    sub, _ = queue.create(db, people["vip"], fields(body="## 做法\n\n" + XSS[1] + "\n\n按部门建泳道。"), submit=True)
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    index = app.extensions["kb_index"]
    hit = index.search("跨部门审批 看板")["results"][0]
    assert hit["slug"] == f"practices/{sub['slug']}" and hit["module"] == "approvals"
    assert "onerror" not in index.article(hit["slug"])["body"]
    publisher.unpublish(db, sub["id"], people["wang"], note="客户要求撤回")
    assert not (docs_dir / PRACTICES / f"{sub['slug']}.md").exists()
    assert not index.has_article(hit["slug"])
    after = queue.get(db, sub["id"])
    assert after["state"] == "unpublished" and after["revisions"] and after["history"][-1]["note"] == "客户要求撤回"


@pytest.mark.parametrize("title,slug", [("../../etc/passwd", "etc-passwd"), ("跨部门 审批", "kua-bu-men-shen-pi"),
                                        ("😀😀", "practice"), ("Ünïcode Tïtle!", "unicode-title")])
def test_slugs_are_safe(title, slug):
    assert slugify(title) == slug


def test_slugs_never_collide(db, people, publisher, docs_dir):
    (docs_dir / PRACTICES).mkdir(parents=True)
    (docs_dir / PRACTICES / "kua-bu-men-shen-pi-yong-kan-ban-guan-li.md").write_text("# 人工写的文章\n", encoding="utf-8")
    a, _ = queue.create(db, people["vip"], fields(), submit=True)
    b, _ = queue.create(db, people["other"], fields(), submit=True)
    a = publisher.approve_and_publish(db, a["id"], people["wang"])
    b = publisher.approve_and_publish(db, b["id"], people["wang"])
    assert {a["slug"], b["slug"]} == {"kua-bu-men-shen-pi-yong-kan-ban-guan-li-2", "kua-bu-men-shen-pi-yong-kan-ban-guan-li-3"}
    assert (docs_dir / PRACTICES / "kua-bu-men-shen-pi-yong-kan-ban-guan-li.md").read_text(encoding="utf-8") == "# 人工写的文章\n"


def test_similarity_shows_existing_articles_and_pending_submissions(db, people, app, docs_dir):
    existing = (docs_dir / "import" / "excel-import.md").read_text(encoding="utf-8").split("---", 2)[2]
    copy = fields(title="从 Excel 导入任务的经验", summary="用 Excel 模板批量导入任务", body=existing)
    found = similar(app.extensions["kb_index"], db, copy)
    assert found[0]["kind"] == "article" and found[0]["slug"] == "import/excel-import" and found[0]["score"] > 0.5
    pending, _ = queue.create(db, people["other"], copy, submit=True)
    found = similar(app.extensions["kb_index"], db, copy)
    assert any(f["kind"] == "submission" and f["id"] == pending["id"] for f in found)


def test_a_published_practice_is_not_similar_to_itself(db, people, publisher, app):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    own = f"practices/{sub['slug']}"
    assert app.extensions["kb_index"].has_article(own)
    assert all(f.get("slug") != own for f in similar(app.extensions["kb_index"], db, sub, exclude_id=sub["id"]))
    other = similar(app.extensions["kb_index"], db, fields(title="跨部门审批用看板管理的做法"))
    assert any(f.get("slug") == own for f in other)  # for anything else it still counts


def test_crash_between_approved_and_file_written_is_finished_on_restart(db, people, publisher, app, docs_dir):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    queue.transition(db, sub["id"], "approve", people["wang"])  # ... and the process died here (kill -9)
    assert not (docs_dir / PRACTICES).exists()
    assert publisher.recover(db) == [sub["id"]]
    after = queue.get(db, sub["id"])
    assert after["state"] == "published" and (docs_dir / PRACTICES / f"{after['slug']}.md").exists()
    assert app.extensions["kb_index"].has_article(f"practices/{after['slug']}")
    assert publisher.recover(db) == []  # nothing left to do; nothing done twice


# -- HTTP API and CLI ------------------------------------------------------------------------
def test_api_flow_with_tokens(client, people):
    vip = {"Authorization": f"Bearer {people['vip_token']}"}
    mgr = {"Authorization": f"Bearer {people['wang_token']}"}
    r = client.post("/api/contrib/submissions", headers=vip, json={**fields(), "submit": True})
    assert r.status_code == 201
    sid = r.get_json()["id"]
    assert client.post("/api/contrib/submissions", headers=vip, json={**fields(), "submit": True}).status_code == 200
    assert client.post("/api/contrib/submissions", headers=mgr, json=fields()).status_code == 403
    r = client.post(f"/api/contrib/submissions/{sid}/request_changes", headers=mgr, json={"note": "加示例"})
    assert r.status_code == 200 and r.get_json()["state"] == "changes_requested"
    r = client.patch(f"/api/contrib/submissions/{sid}", headers=vip, json={**fields(body="新正文"), "version": 1})
    assert r.status_code == 409  # stale version
    version = client.get(f"/api/contrib/submissions/{sid}", headers=vip).get_json()["version"]
    r = client.patch(f"/api/contrib/submissions/{sid}", headers=vip, json={**fields(body="新正文"), "version": version})
    assert r.status_code == 200
    resubmitted = client.post(f"/api/contrib/submissions/{sid}/submit", headers=vip).get_json()
    assert resubmitted["state"] == "in_review" and resubmitted["assigned_to"] == "wang"  # back to who asked
    assert client.post(f"/api/contrib/submissions/{sid}/approve", headers=vip).status_code == 403
    r = client.post(f"/api/contrib/submissions/{sid}/approve", headers=mgr, json={})
    assert r.status_code == 200 and r.get_json()["state"] == "published"
    r = client.post(f"/api/contrib/submissions/{sid}/comments", headers=vip, json={"body": "谢谢！"})
    assert r.status_code == 201


def test_api_bad_input(client, people):
    vip = {"Authorization": f"Bearer {people['vip_token']}"}
    r = client.post("/api/contrib/submissions", headers=vip, data=b"\xff\xfe{", content_type="application/json")
    assert r.status_code == 400
    r = client.post("/api/contrib/submissions", headers=vip, json=fields(body="x" * 5_000_000))
    assert r.status_code == 413
    r = client.post("/api/contrib/submissions", headers=vip, json=fields(title=["a"]))
    assert r.status_code == 400 and "title" in r.get_json()["error"]["message"]
    assert client.get("/api/contrib/submissions/999", headers=vip).status_code == 404


def test_browser_api_calls_need_the_csrf_header(client, people, db):
    password = "pw-" + "x" * 10
    db["users"].update(people["vip"]["id"], {"password_hash": accounts._hasher.hash(password)})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "acme", "password": password, "csrf_token": token})
    assert client.post("/api/contrib/preview", json={"body": "x"}).status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/contrib/new").get_data(as_text=True)).group(1)
    r = client.post("/api/contrib/preview", json={"body": "**x**"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "<strong>x</strong>" in r.get_json()["html"]


def test_cli_review_commands(runner, db, people, docs_dir, built):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    args = ["--docs", str(docs_dir), "--data", str(built)]
    listed = runner.invoke(cli, ["contrib", "list", "--json", *args])
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["id"] == sub["id"]
    r = runner.invoke(cli, ["contrib", "request-changes", str(sub["id"]), "--by", "wang", "--note", "补充示例", *args])
    assert r.exit_code == 0 and "changes_requested" in r.output
    r = runner.invoke(cli, ["contrib", "approve", str(sub["id"]), "--by", "wang", *args])
    # changes were requested: not approvable now; said in Chinese with the states' names, or as the API says it
    assert r.exit_code == 1 and "这份投稿现在是「需修改」状态，不能再改为「已通过」" in r.output, r.output
    r = runner.invoke(cli, ["contrib", "approve", str(sub["id"]), "--by", "wang", *args], env={"KB_LANGUAGE": "en"})
    assert r.exit_code == 1 and "is changes_requested: it cannot be approved now" in r.output, r.output
    r = runner.invoke(cli, ["contrib", "approve", str(sub["id"]), "--by", "acme", *args])
    assert r.exit_code == 1 and "必须是知识库管理员的账号" in r.output, r.output
    shown = runner.invoke(cli, ["contrib", "show", str(sub["id"]), "--json", *args])
    assert json.loads(shown.output)["comments"][0]["body"] == "补充示例"


@pytest.mark.slow  # builds the site (there is none yet)
def test_kb_contrib_approve_publishes_without_building_the_web_app(runner, db, people, docs_dir, built, monkeypatch):
    """The command calls the library's review workflow: no Flask app, no event writer or site updater thread."""
    import threading

    import kbserver
    from indexer.query import open_index
    from indexer.site import site_dir

    def no_app(*args, **kwargs):
        raise AssertionError("kb contrib approve built the Flask app")

    monkeypatch.setattr(kbserver, "create_app", no_app)
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    before = set(threading.enumerate())
    r = runner.invoke(cli, ["contrib", "approve", str(sub["id"]), "--by", "wang", "--docs", str(docs_dir),
                            "--data", str(built)])
    assert r.exit_code == 0, r.output
    slug = queue.get(db, sub["id"])["slug"]
    assert "[published]" in r.output and (docs_dir / PRACTICES / f"{slug}.md").exists()
    hits = open_index(built).search("跨部门审批 看板", limit=10)["results"]
    assert f"{PRACTICES}/{slug}" in [h["slug"] for h in hits]
    assert (site_dir(built) / PRACTICES / slug / "index.html").exists()  # live on the site
    assert set(threading.enumerate()) <= before  # nothing left running behind the command


def test_the_built_site_carries_no_live_payload_from_any_field(db, people, docs_dir, built):
    from indexer.site import site_dir, update_site

    publisher = Publisher(docs_dir, built, rebuild_site=lambda paths: update_site(docs_dir, built, paths))
    body = "\n\n".join(f"段落 {p}" for p in XSS)
    sub, _ = queue.create(db, people["vip"], fields(title="标题 &lt;script&gt; 与 《书名》", body=body,
                                                    organisation="Org &amp; Co", tags=["标签'"]), submit=True)
    sub = publisher.approve_and_publish(db, sub["id"], people["wang"])
    root = site_dir(built)
    page = (root / PRACTICES / sub["slug"] / "index.html").read_text(encoding="utf-8")
    assert "来自 Org &amp;" in page and "段落" in page
    for path in root.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        article = html.split('<article', 1)[-1].split('</article>', 1)[0]
        assert_inert_payloads(article, path)


def assert_inert_payloads(html: str, where) -> None:
    lowered = html.lower()
    for bad in ("<img src=x onerror", "<script>alert", "<svg onload", "<iframe", "javascript:alert", "<body onload",
                "ontoggle=", "onfocus=", "<object", "<embed"):
        assert bad not in lowered, (where, bad)


@pytest.mark.slow
def test_kill_9_between_approved_and_published_is_finished_by_the_next_start(db, people, docs_dir, built):
    """The process dies right after "approved" is committed; `kb serve` finishes the job when it starts."""
    from conftest import LiveServer

    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    queue.transition(db, sub["id"], "approve", people["wang"])  # committed; then kill -9: no file, no index
    server = LiveServer(docs_dir, built)
    try:
        import requests

        after = queue.get(db, sub["id"])
        assert after["state"] == "published" and (docs_dir / PRACTICES / f"{after['slug']}.md").exists()
        hits = requests.get(server.url + "/api/search", params={"q": "跨部门审批 看板"}).json()["results"]
        assert hits[0]["slug"] == f"practices/{after['slug']}"
        assert requests.get(f"{server.url}/practices/{after['slug']}/").status_code == 200
        assert "上次停止时中断的投稿" in server.log.read_text() and "已发布完成" in server.log.read_text()
    finally:
        server.stop()


def test_a_manager_assigns_the_review_to_another_manager(client, people):
    mgr = {"Authorization": f"Bearer {people['wang_token']}"}
    vip = {"Authorization": f"Bearer {people['vip_token']}"}
    sid = client.post("/api/contrib/submissions", headers=vip, json={**fields(), "submit": True}).get_json()["id"]
    r = client.post(f"/api/contrib/submissions/{sid}/start_review", headers=mgr, json={"assignee": "acme"})
    assert r.status_code == 400 and "not a knowledge manager" in r.get_json()["error"]["message"]
    r = client.post(f"/api/contrib/submissions/{sid}/start_review", headers=mgr, json={"assignee": "li"})
    assert r.status_code == 200 and r.get_json()["assigned_to"] == "li" and r.get_json()["state"] == "in_review"


def test_a_reviewer_corrects_the_text_before_approving_and_it_is_a_new_revision(client, db, people):
    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    with pytest.raises(NotFound):  # another customer does not even see it
        policy.require_submission(people["other"], queue.get(db, sub["id"]), "edit")
    with pytest.raises(Forbidden):  # the author cannot use the reviewer's edit
        policy.require_submission(people["vip"], queue.get(db, sub["id"]), "edit")
    with pytest.raises(InvalidInput, match="only title, summary, body"):
        queue.edit_as_reviewer(db, sub["id"], people["wang"], {"organisation": "别家"}, None)  # attribution stays
    edited = queue.edit_as_reviewer(db, sub["id"], people["wang"], {"body": "## 做法\n\n按部门建泳道（审核人补充）。"},
                                    sub["version"])
    assert edited["revision"] == 2 and "审核人补充" in edited["body"] and edited["organisation"] == sub["organisation"]
    assert edited["revisions"][-1]["body"] == edited["body"] and edited["history"][-1]["actor"] == "wang"
    with pytest.raises(Conflict):  # a stale page cannot overwrite it
        queue.edit_as_reviewer(db, sub["id"], people["li"], {"title": "另一个标题"}, sub["version"])
    mgr = {"Authorization": f"Bearer {people['wang_token']}"}
    r = client.patch(f"/api/contrib/submissions/{sub['id']}", headers=mgr, json={"summary": "审核人改过的摘要"})
    assert r.status_code == 200 and r.get_json()["revision"] == 3
    vip = {"Authorization": f"Bearer {people['vip_token']}"}
    assert client.patch(f"/api/contrib/submissions/{sub['id']}", headers=vip, json=fields()).status_code == 409


def test_the_review_page_offers_the_reviewers_edit_and_saves_it(client, db, people):
    import re

    sub, _ = queue.create(db, people["vip"], fields(), submit=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "wang", "password": people["wang_password"], "csrf_token": token})
    page = client.get(f"/review/{sub['id']}").get_data(as_text=True)
    assert 'id="reviewer-edit"' in page and "修改内容后再批准" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post(f"/review/{sub['id']}/edit", data={"title": sub["title"], "summary": sub["summary"],
                                                        "body": "## 做法\n\n审核人改写的正文。", "csrf_token": token,
                                                        "version": sub["version"]}, follow_redirects=True)
    assert "已保存为第 2 版" in r.get_data(as_text=True) and "审核人改写的正文" in r.get_data(as_text=True)
    assert queue.get(db, sub["id"])["revision"] == 2
