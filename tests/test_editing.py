"""Editing articles in kb (contrib/editing.py, kbserver/editing_views.py): a real docs folder, index, SQLite
file and app; the API is called as a manager or editor with their tokens, as a program would."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

from analytics import accounts
from conftest import FIXTURE_DOCS
from contrib import editing
from indexer.build import build_full
from kbserver import create_app
from kbserver.cli import cli
from kbserver.db import open_db


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("editing")
    docs, data = root / "docs", root / "data"
    shutil.copytree(FIXTURE_DOCS, docs)
    (docs / "broken.md").unlink()
    practice = docs / "practices" / "kanban-wip.md"
    practice.parent.mkdir()
    practice.write_text("---\ntitle: 看板限制在制品\nsummary: 一家客户的做法。\ntags: [看板]\nmodule: practices\n"
                        "owner: knowledge team\nreviewed: 2026-11-01\nreview_every: 365\ncontributed_by: 远航物流\n"
                        "source_submission: 7\nlicense: CC BY 4.0\n---\n\n在制品上限设为团队人数。\n", encoding="utf-8")
    build_full(docs, data)
    app = create_app({"docs": docs, "data": data, "semantic_model": "off"})
    db = open_db(app.config["KB"]["database_url"])
    tokens = {}
    for name, role in (("王敏", "manager"), ("李雷", "manager"), ("小编", "editor"), ("客户", "vip")):
        tokens[name] = accounts.create_user(db, name, role)[2]
    yield {"app": app, "client": app.test_client(), "docs": docs, "data": data, "db": db, "tokens": tokens}
    app.extensions["kb_events"].close()


def call(env, method, path, who="王敏", **kwargs):
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"} if who else {}
    return getattr(env["client"], method)(path, headers=headers, **kwargs)


def load(env, slug, who="王敏"):
    r = call(env, "get", f"/api/edit/article?slug={slug}", who)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def save(env, slug, body, base_hash, who="王敏", fields=None, **extra):
    article = load(env, slug, who)
    payload = {"slug": slug, "fields": fields or article["fields"], "body": body, "base_hash": base_hash, **extra}
    return call(env, "post", "/api/edit/save", who, json=payload)


def search_slugs(env, q):
    return [r["slug"] for r in env["client"].get("/api/search", query_string={"q": q}).get_json()["results"]]


def test_save_writes_the_file_records_a_revision_and_search_finds_the_new_text(env):
    article = load(env, "import/csv-encoding")
    assert "蓝鲸转码器" not in article["body"] and search_slugs(env, "蓝鲸转码器") == []
    r = save(env, "import/csv-encoding", article["body"] + "\n## 用蓝鲸转码器转换\n\n先用蓝鲸转码器把文件转成 UTF-8。\n",
             article["hash"], message="补充转码工具")
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["indexed"] is True and out["revision"]
    assert search_slugs(env, "蓝鲸转码器")[0] == "import/csv-encoding"
    text = (env["docs"] / "import/csv-encoding.md").read_text(encoding="utf-8")
    assert "蓝鲸转码器" in text and "owner: 王敏" in text and "review_every: 90" in text
    revisions = call(env, "get", "/api/edit/history?slug=import/csv-encoding").get_json()["revisions"]
    assert [r["action"] for r in revisions] == ["save", "disk"]  # the file as it was is kept to restore
    assert revisions[0]["actor"] == "王敏" and revisions[0]["message"] == "补充转码工具"
    full = call(env, "get", f"/api/edit/revisions/{revisions[0]['id']}").get_json()
    assert full["text"] == text


def test_second_save_from_the_same_version_is_refused_with_the_diff(env):
    article = load(env, "account/reset-password")
    first = save(env, "account/reset-password", article["body"] + "\nFirst manager's line.\n", article["hash"])
    assert first.status_code == 200
    second = save(env, "account/reset-password", article["body"] + "\nSecond manager's line.\n", article["hash"],
                  who="李雷")
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "edit_conflict"
    assert "-First manager's line." in error["diff"] and "+Second manager's line." in error["diff"]
    assert error["current_hash"] == first.get_json()["hash"]
    text = (env["docs"] / "account/reset-password.md").read_text(encoding="utf-8")
    assert "First manager's line." in text and "Second manager's line." not in text


def test_a_file_changed_on_disk_is_detected_and_kept_in_history(env):
    path = env["docs"] / "import/excel-import.md"
    article = load(env, "import/excel-import")
    path.write_text(path.read_text(encoding="utf-8") + "\nChanged by someone on the server.\n", encoding="utf-8")
    r = save(env, "import/excel-import", article["body"] + "\nMy edit.\n", article["hash"])
    assert r.status_code == 409 and "changed on disk" in r.get_json()["error"]["message"]
    assert "Changed by someone on the server." in r.get_json()["error"]["diff"]
    fresh = load(env, "import/excel-import")
    assert save(env, "import/excel-import", fresh["body"] + "\nMy edit.\n", fresh["hash"]).status_code == 200
    assert [r["action"] for r in editing.history(env["db"], "import/excel-import")] == ["save", "disk"]


@pytest.mark.parametrize("fields, message", [
    ({"tags": "[导入, CSV"}, "tags: broken YAML"),
    ({"review_every": "[1, 2"}, "review_every: broken YAML"),
    ({"review_every": "soon"}, "review_every must be a whole number"),
    ({"title": "a\nb"}, "single line"),
    ({"contributed_by": "me"}, "cannot be edited here"),
])
def test_bad_front_matter_fields_are_a_400_and_nothing_changes(env, fields, message):
    article = load(env, "guides/setup")
    before = (env["docs"] / "guides/setup/index.md").read_bytes()
    r = save(env, "guides/setup", "changed", article["hash"], fields={**article["fields"], **fields})
    assert r.status_code == 400 and message in r.get_json()["error"]["message"], r.get_json()
    assert (env["docs"] / "guides/setup/index.md").read_bytes() == before


def test_oversized_bodies_are_refused_before_anything_is_written(env):
    article = load(env, "guides/setup")
    before = (env["docs"] / "guides/setup/index.md").read_bytes()
    r = save(env, "guides/setup", "长" * (5 * 1024 * 1024 // 3), article["hash"])  # 5 MB of UTF-8
    assert r.status_code == 413 and r.is_json
    r = save(env, "guides/setup", "x" * 1_100_000, article["hash"])  # under the request limit, over the article's
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert "1,000,000" in r.get_json()["error"]["message"]
    assert (env["docs"] / "guides/setup/index.md").read_bytes() == before


@pytest.mark.parametrize("slug", ["../outside", "account/../../outside", "/etc/passwd", ".git/config", "_drafts/x",
                                  "a\\b", "account/reset-password\x00"])
def test_paths_outside_the_docs_folder_are_a_400(env, slug):
    r = call(env, "post", "/api/edit/new", json={"slug": slug, "fields": {"title": "x"}, "body": "x"})
    assert r.status_code == 400 and "docs folder" in r.get_json()["error"]["message"], r.get_json()
    assert not (env["docs"].parent / "outside.md").exists()


def test_a_symlink_leading_out_of_the_docs_folder_is_refused(env, tmp_path):
    outside = tmp_path / "secret.md"
    outside.write_text("---\ntitle: secret\n---\nkeep\n", encoding="utf-8")
    (env["docs"] / "evil.md").symlink_to(outside)
    try:
        r = call(env, "get", "/api/edit/article?slug=evil")
        assert r.status_code == 400 and "outside the docs folder" in r.get_json()["error"]["message"]
        assert outside.read_text(encoding="utf-8").endswith("keep\n")
    finally:
        (env["docs"] / "evil.md").unlink()


def test_active_markup_in_the_body_is_refused(env):
    article = load(env, "guides/setup")
    for body in ("<script>alert(1)</script>", "[x](javascript:alert(1))", "<img src=x onerror=alert(1)>",
                 "text\n{: onclick=\"alert(1)\" }"):
        r = save(env, "guides/setup", body, article["hash"])
        assert r.status_code == 400, body
    r = call(env, "post", "/api/edit/preview", json={"body": "## 小节\n\n**粗体** <b onclick=x>b</b>"})
    assert r.status_code == 400
    html = call(env, "post", "/api/edit/preview", json={"body": "## 小节\n\n**粗体**"}).get_json()["html"]
    assert '<h2 id="小节">' in html or "<h2>小节</h2>" in html or "<h2" in html
    assert "<strong>粗体</strong>" in html


def test_editing_a_vip_practice_keeps_its_attribution(env):
    article = load(env, "practices/kanban-wip")
    fields = {**article["fields"], "title": "看板：把在制品上限设为团队人数"}
    r = save(env, "practices/kanban-wip", "改写后的正文。", article["hash"], fields=fields)
    assert r.status_code == 200, r.get_json()
    meta = load(env, "practices/kanban-wip")["meta"]
    assert meta["contributed_by"] == "远航物流" and meta["source_submission"] == 7 and meta["license"] == "CC BY 4.0"
    assert meta["title"] == "看板：把在制品上限设为团队人数" and meta["reviewed"] == "2026-11-01"


def test_restore_brings_back_an_old_revision_as_a_new_one(env):
    slug = "account/api-rate-limit"
    original = load(env, slug)
    assert save(env, slug, "Rewritten entirely.", original["hash"]).status_code == 200
    revisions = editing.history(env["db"], slug)
    first = revisions[-1]
    assert first["action"] == "disk" and first["content_hash"] == original["hash"]
    r = call(env, "post", "/api/edit/restore", json={"slug": slug, "revision": first["id"], "base_hash": "stale"})
    assert r.status_code == 409  # restoring over a version you did not see is refused too
    current = load(env, slug)
    r = call(env, "post", "/api/edit/restore", json={"slug": slug, "revision": first["id"], "base_hash": current["hash"]})
    assert r.status_code == 200, r.get_json()
    assert load(env, slug)["hash"] == original["hash"]
    newest = editing.history(env["db"], slug)[0]
    assert newest["action"] == "restore" and newest["restored_from"] == first["id"]
    other = editing.history(env["db"], "account/reset-password")[0]["id"]
    r = call(env, "post", "/api/edit/restore", json={"slug": slug, "revision": other, "base_hash": original["hash"]})
    assert r.status_code == 404  # a revision of another article


def test_restoring_a_deleted_article_is_410_unless_recreate(env):
    slug = "account/api-rate-limit"
    path = env["docs"] / "account/api-rate-limit.mdx"
    rev = editing.history(env["db"], slug)[0]
    saved = path.read_text(encoding="utf-8")
    path.unlink()
    r = call(env, "post", "/api/edit/restore", json={"slug": slug, "revision": rev["id"], "base_hash": rev["content_hash"]})
    assert r.status_code == 410 and "recreate" in r.get_json()["error"]["message"]
    assert not path.exists()
    r = call(env, "post", "/api/edit/restore", json={"slug": slug, "revision": rev["id"], "recreate": True})
    assert r.status_code == 200, r.get_json()
    assert path.read_text(encoding="utf-8") == saved
    assert slug in search_slugs(env, "API rate limit")


def test_mark_reviewed_changes_only_the_reviewed_line(env):
    path = env["docs"] / "import/csv-encoding.md"
    before = path.read_text(encoding="utf-8").splitlines()
    r = call(env, "post", "/api/edit/reviewed", json={"slug": "import/csv-encoding"})
    assert r.status_code == 200, r.get_json()
    after = path.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("reviewed: 20") and changed[0][0] != changed[0][1]
    assert editing.history(env["db"], "import/csv-encoding")[0]["action"] == "reviewed"


def test_new_article_from_a_gap_keeps_the_gap_id(env):
    from analytics import flags

    flags.sync(env["db"], [{"key": "gap:离线", "kind": "gap", "reason": "write", "title": "离线 / 断网", "score": 3.0,
                            "evidence": {"examples": ["离线能用吗", "断网怎么办"], "terms": ["离线", "断网"]},
                            "suggestion": "写一篇"}])
    gap = flags.list_flags(env["db"], kind="gap")[0]
    r = call(env, "post", "/api/edit/new", json={"fields": {"title": "离线使用", "tags": "离线, 断网"},
                                                 "body": "断网时可以查看已缓存的项目。", "gap_id": gap["id"]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["slug"] == "li-xian-shi-yong"
    assert editing.history(env["db"], "li-xian-shi-yong")[0]["flag_id"] == gap["id"]
    assert "li-xian-shi-yong" in search_slugs(env, "断网")
    again = call(env, "post", "/api/edit/new", json={"fields": {"title": "离线使用"}, "body": "x"})
    assert again.status_code == 409
    untitled = call(env, "post", "/api/edit/new", json={"fields": {"title": ""}, "body": "x"})
    assert untitled.status_code == 400 and "title is required" in untitled.get_json()["error"]["message"]
    page = call(env, "get", f"/new-article?gap={gap['id']}")
    assert page.status_code == 200 and "离线能用吗" in page.get_data(as_text=True)


def test_roles_editor_may_edit_but_not_approve_or_manage(env):
    article = load(env, "guides/setup", who="小编")
    assert save(env, "guides/setup", article["body"] + "\n编辑补充。\n", article["hash"], who="小编").status_code == 200
    assert call(env, "post", "/api/contrib/submissions/1/approve", "小编", json={}).status_code == 403
    assert call(env, "get", "/api/flags", "小编").status_code == 403
    assert call(env, "get", "/api/edit/article?slug=guides/setup", "客户").status_code == 403
    assert call(env, "get", "/api/edit/article?slug=guides/setup", None).status_code == 401
    me = call(env, "get", "/api/me", "小编").get_json()
    assert me == {"user": {"name": "小编", "role": "editor"}, "can_edit": True}
    assert call(env, "get", "/api/me", None).get_json() == {"user": None, "can_edit": False}
    assert call(env, "get", "/api/me", "客户").get_json()["can_edit"] is False


def test_concurrent_saves_from_one_version_let_exactly_one_through(env):
    article = load(env, "import/excel-import")
    results = []

    def worker(n):
        client = env["app"].test_client()
        r = client.post("/api/edit/save", headers={"Authorization": f"Bearer {env['tokens']['王敏']}"},
                        json={"slug": "import/excel-import", "fields": article["fields"],
                              "body": article["body"] + f"\nthread {n}\n", "base_hash": article["hash"]})
        results.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409, 409, 409]


def test_a_failed_write_leaves_the_file_and_the_history_unchanged(env, monkeypatch):
    path = env["docs"] / "guides/setup/index.md"
    before = path.read_bytes()
    count = len(editing.history(env["db"], "guides/setup"))
    article = load(env, "guides/setup")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(editing.os, "replace", full_disk)
    with pytest.raises(OSError):
        editing.save_article(env["docs"], env["db"], env["data"], "guides/setup", article["fields"], "new text",
                             article["hash"], "王敏")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert len(editing.history(env["db"], "guides/setup")) == count
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_docs_folder_in_git_gets_a_commit_authored_by_the_editor(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(FIXTURE_DOCS / "import", docs)
    git = ["git", "-C", str(docs), "-c", "user.name=setup", "-c", "user.email=setup@example.com"]
    subprocess.run(["git", "init", "-q", str(docs)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    db = open_db(f"sqlite:///{tmp_path / 'kb.db'}")
    article = editing.read_article(docs, "csv-encoding")
    result = editing.save_article(docs, db, tmp_path, "csv-encoding", article["fields"], article["body"] + "\n补充。\n",
                                  article["hash"], "王敏", "补充一句")
    assert result["git"]["commit"]
    log = subprocess.run(["git", "-C", str(docs), "log", "-1", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert log == "王敏|补充一句"
    assert subprocess.run(["git", "-C", str(docs), "status", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout == ""
    # A git that cannot commit (a hook-free failure: the index is locked) is reported, the edit stands.
    (docs / ".git" / "index.lock").write_text("")
    article = editing.read_article(docs, "csv-encoding")
    result = editing.save_article(docs, db, tmp_path, "csv-encoding", article["fields"], "第二版。", article["hash"],
                                  "王敏")
    assert "git 提交失败" in result["git"]["error"]
    assert "第二版。" in (docs / "csv-encoding.md").read_text(encoding="utf-8")
    assert editing.history(db, "csv-encoding")[0]["git_error"]


def test_cli_history_reviewed_and_restore(env, runner):
    opts = ["--docs", str(env["docs"]), "--data", str(env["data"])]
    result = runner.invoke(cli, ["edit", "history", "import/csv-encoding", *opts])
    assert result.exit_code == 0, result.output
    assert "王敏" in result.output and "save" in result.output
    result = runner.invoke(cli, ["edit", "reviewed", "import/csv-encoding", "--by", "小编", "--no-site", *opts])
    assert result.exit_code == 0, result.output
    oldest = editing.history(env["db"], "import/csv-encoding")[-1]
    result = runner.invoke(cli, ["edit", "restore", "import/csv-encoding", str(oldest["id"]), "--by", "王敏",
                                 "--no-site", *opts])
    assert result.exit_code == 0, result.output
    assert editing.read_article(env["docs"], "import/csv-encoding")["hash"] == oldest["content_hash"]
    result = runner.invoke(cli, ["edit", "restore", "import/csv-encoding", "1", "--by", "客户", *opts])
    assert result.exit_code == 1 and "必须是知识库管理员或文章编辑的账号" in result.output
    result = runner.invoke(cli, ["edit", "history", "../etc", *opts])
    assert result.exit_code == 1 and "文章地址 '../etc' 必须在文档文件夹之内" in result.output, result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["edit", "history", "../etc", *opts], env={"KB_LANGUAGE": "en"})
    assert result.exit_code == 1 and "slug '../etc' must stay inside the docs folder" in result.output, result.output


def test_editor_pages_render_for_managers(env):
    from analytics import flags

    gap = flags.list_flags(env["db"], kind="gap")[0] if flags.list_flags(env["db"], kind="gap") else None
    client = env["app"].test_client()
    with client.session_transaction() as s:
        s["sid"] = accounts.create_session(env["db"], accounts.find_user(env["db"], "王敏")["id"], 3600)
    assert "import/csv-encoding" in client.get("/edit").get_data(as_text=True)
    page = client.get("/edit/import/csv-encoding" + (f"?gap={gap['id']}" if gap else "")).get_data(as_text=True)
    assert 'id="body"' in page and "CSV" in page
    history = client.get("/history/import/csv-encoding").get_data(as_text=True)
    assert "diff" in history and "恢复此版本" in history
    assert client.get("/edit/../../etc/passwd").status_code in (400, 404)
    assert os.path.exists(env["docs"] / "import/csv-encoding.md")


def test_a_site_updater_hook_gets_the_changed_path_and_link_fix_the_flag(env, monkeypatch):
    from analytics import closure

    refreshed, linked = [], []
    updater = env["app"].extensions["kb_refresh_site"]
    env["app"].extensions["kb_refresh_site"] = refreshed.append
    monkeypatch.setattr(closure, "link_fix", lambda db, flag_id, slug, actor: linked.append((flag_id, slug, actor)))
    try:
        article = load(env, "guides/setup")
        r = save(env, "guides/setup", article["body"] + "\n钩子测试。\n", article["hash"], flag_id=42)
        assert r.status_code == 200 and r.get_json()["site"] == "queued"
        assert refreshed == [["guides/setup/index.md"]]
        assert linked == [(42, "guides/setup", "王敏")]
    finally:
        env["app"].extensions["kb_refresh_site"] = updater


def test_an_article_with_broken_front_matter_can_be_repaired_in_the_editor(env):
    path = env["docs"] / "faq-broken.md"
    path.write_text("---\ntitle: [unclosed\n---\n# 常见问题\n\n正文。\n", encoding="utf-8")
    article = load(env, "faq-broken")
    assert article["broken_front_matter"] and "title: [unclosed" in article["body"]
    r = save(env, "faq-broken", "# 常见问题\n\n正文。\n", article["hash"], fields={"title": "常见问题", "tags": "faq"})
    assert r.status_code == 200, r.get_json()
    assert load(env, "faq-broken")["meta"] == {"title": "常见问题", "tags": ["faq"]}
    assert "faq-broken" in search_slugs(env, "常见问题")


def test_the_history_page_restores_a_deleted_article_by_re_creating_it(env):
    slug, path = "import/excel-import", env["docs"] / "import/excel-import.md"
    article = load(env, slug)
    assert save(env, slug, article["body"] + "\n删除前的最后一版。\n", article["hash"]).status_code == 200
    last = editing.history(env["db"], slug)[0]
    path.unlink()
    client = env["app"].test_client()
    with client.session_transaction() as s:
        s["sid"] = accounts.create_session(env["db"], accounts.find_user(env["db"], "小编")["id"], 3600)
        s["csrf"] = "token"
    page = client.get(f"/history/{slug}").get_data(as_text=True)
    assert "这篇文章已被删除" in page and 'name="recreate" value="on"' in page
    assert client.post(f"/history/{slug}", data={"revision": str(last["id"])}).status_code == 400  # no CSRF token
    assert not path.exists()
    r = client.post(f"/history/{slug}", data={"csrf_token": "token", "revision": str(last["id"]), "recreate": "on"})
    assert r.status_code == 302
    assert "删除前的最后一版。" in path.read_text(encoding="utf-8")
    assert slug in search_slugs(env, "删除前的最后一版")
