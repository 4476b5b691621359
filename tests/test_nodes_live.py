"""Two real `kb serve` processes on one database (a SQLite file, or a real PostgreSQL server) and one docs
folder, each with its own data folder.

Publish on node A (submit, approve → published) and find it by search and on the site of node B; edit on B
and see it on A; kill -9 A in the middle of a publish, and find the submission approved (not lost, not half
published), then published by A's restart, on both nodes; an edit B made while A was down is on A after
its restart; a browser signed in on A is signed in on B (the same KB_SECRET_KEY).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import sqlite3
import threading
import time

import pytest
import requests

from analytics import accounts
from conftest import FIXTURE_DOCS, LiveServer
from contrib import queue
from kbserver.db import open_db

pytestmark = pytest.mark.slow


def _until(check, timeout: float = 30.0, what: str = "", every: float = 0.1):
    """Poll check() every `every` seconds until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout}s: {what}")


def _hits(node, q: str) -> list[str]:
    return [h["slug"] for h in requests.get(node.url + "/api/search", params={"q": q}, timeout=10).json()["results"]]


def _found(node, q: str, slug: str) -> bool:
    return slug in _hits(node, q)


def _page(node, path: str, text: str) -> bool:
    r = requests.get(f"{node.url}/{path}/", timeout=10)
    return r.status_code == 200 and text in r.text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def nodes(request, tmp_path_factory):
    """Nodes a and b on one SQLite file (one machine), or on one real PostgreSQL server."""
    root = tmp_path_factory.mktemp("live-nodes")
    docs = root / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    db_file = root / "shared.db"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database(prefix="nodes", migrated=True)
    else:
        url = f"sqlite:///{db_file}"
    env = {"KB_DATABASE_URL": url, "KB_SEMANTIC_MODEL": "off", "KB_CHANGE_POLL": "1",
           "KB_ANALYZE_EVERY": "0", "KB_SECRET_KEY": secrets.token_hex(32)}
    db = open_db(env["KB_DATABASE_URL"])
    _, _, vip = accounts.create_user(db, "acme", "vip")
    _, password, mgr = accounts.create_user(db, "wang", "manager")
    db.conn.close()
    a = LiveServer(docs, root / "a", env)
    b = LiveServer(docs, root / "b", env)
    state = {"a": a, "b": b, "docs": docs, "root": root, "env": env, "db_file": db_file, "backend": request.param,
             "vip": {"Authorization": f"Bearer {vip}"}, "mgr": {"Authorization": f"Bearer {mgr}"},
             "password": password}
    yield state
    for name in ("a", "b"):
        state[name].stop()


def _submit(nodes, node, title: str, body: str) -> int:
    fields = {"title": title, "summary": "两个节点的测试。", "body": body, "tags": ["节点"], "module": "import",
              "organisation": "Acme 公司", "consent": True, "submit": True}
    r = requests.post(node.url + "/api/contrib/submissions", headers=nodes["vip"], json=fields, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_publish_on_a_is_found_and_shown_on_b(nodes):
    a, b = nodes["a"], nodes["b"]
    assert _hits(b, "蓝鲸泳道法") == []  # and this empty answer is now in b's result cache
    sid = _submit(nodes, a, "蓝鲸泳道法", "## 做法\n\n用蓝鲸泳道法整理跨部门的导入任务。\n")
    r = requests.post(f"{a.url}/api/contrib/submissions/{sid}/approve", headers=nodes["mgr"], json={}, timeout=60)
    assert r.status_code == 200 and r.json()["state"] == "published", r.text
    slug = f"practices/{r.json()['slug']}"
    _until(lambda: _found(b, "蓝鲸泳道法", slug), what="node B finds the practice published on A")
    _until(lambda: _page(b, slug, "蓝鲸泳道法"), what="node B's site shows the practice's page")
    _until(lambda: _page(a, slug, "蓝鲸泳道法"), what="node A's site shows the practice's page")


def _save(nodes, node, slug: str, word: str) -> None:
    """Add a section with `word` to an article through node's editing API."""
    article = requests.get(node.url + "/api/edit/article", params={"slug": slug}, headers=nodes["mgr"],
                           timeout=10).json()
    r = requests.post(node.url + "/api/edit/save", headers=nodes["mgr"], timeout=60, json={
        "slug": slug, "fields": article["fields"], "base_hash": article["hash"],
        "body": article["body"] + f"\n\n## {word}\n\n导入前先用 {word} 检查模板。\n"})
    assert r.status_code == 200, r.text


def test_edit_on_b_is_seen_on_a(nodes):
    a, b = nodes["a"], nodes["b"]
    _save(nodes, b, "import/excel-import", "zephyrquartz")
    _until(lambda: _found(a, "zephyrquartz", "import/excel-import"), what="node A finds B's edit")
    _until(lambda: _page(a, "import/excel-import", "zephyrquartz"), what="node A's page shows B's edit")


def test_a_sign_in_on_a_is_valid_on_b(nodes):
    """Behind a round-robin proxy a browser's next request may reach the other node (same KB_SECRET_KEY)."""
    a, b = nodes["a"], nodes["b"]
    with requests.Session() as browser:  # cookies of 127.0.0.1 go to both ports
        form = browser.get(a.url + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = browser.post(a.url + "/login", data={"name": "wang", "password": nodes["password"], "csrf_token": token},
                         allow_redirects=False, timeout=30)
        assert r.status_code in (302, 303), r.text
        r = browser.get(b.url + "/review", allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "wang" in r.text


class WriteLock:
    """The database's write lock, held from a connection opened in advance: SQLite's BEGIN IMMEDIATE, or the
    PostgreSQL backend's advisory lock (indexer/postgres.WRITE_LOCK, taken by every transaction(db))."""

    def __init__(self, nodes):
        self.postgres = nodes["backend"] == "postgresql"
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(nodes["env"]["KB_DATABASE_URL"], autocommit=True)
        else:
            self.conn = sqlite3.connect(nodes["db_file"], timeout=30, isolation_level=None)

    def hold(self) -> None:
        if self.postgres:
            from indexer.postgres import WRITE_LOCK

            self.conn.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK])
        else:
            self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.postgres:
            from indexer.postgres import WRITE_LOCK

            self.conn.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK])
        else:
            self.conn.execute("ROLLBACK")
        self.conn.close()


def test_kill_a_mid_publish_loses_nothing(nodes):
    a, b = nodes["a"], nodes["b"]
    sid = _submit(nodes, a, "琥珀看板法", "## 做法\n\n用琥珀看板法跟踪导入任务。\n")
    answers = []

    def approve():
        try:
            answers.append(requests.post(f"{a.url}/api/contrib/submissions/{sid}/approve", headers=nodes["mgr"],
                                         json={}, timeout=60))
        except requests.RequestException as exc:  # the node dies under the request
            answers.append(exc)

    practices = nodes["docs"] / "practices"
    known = set(practices.glob("*.md"))
    lock = WriteLock(nodes)  # connected now: at the moment below there is no time to spare
    thread = threading.Thread(target=approve)
    thread.start()
    # The file is written (approved, slug claimed) before the index update and the final "published" commit.
    # Holding the database's write lock from here keeps A from committing "published": kill it there.
    new_file = _until(lambda: set(practices.glob("*.md")) - known, timeout=60, what="A writes the practice file",
                      every=0.005)
    lock.hold()
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    lock.release()
    thread.join()
    assert not isinstance(answers[0], requests.Response) or answers[0].status_code != 200  # never acknowledged

    db = open_db(nodes["env"]["KB_DATABASE_URL"])
    sub = queue.find(db, sid)
    assert sub["state"] == "approved" and sub["slug"] == next(iter(new_file)).stem  # kept, with its slug
    db.conn.close()
    a.stop()
    _save(nodes, b, "import/csv-encoding", "quokkabyte")  # while A is down

    nodes["a"] = a = LiveServer(nodes["docs"], nodes["root"] / "a", nodes["env"])  # recovery finishes the publish
    db = open_db(nodes["env"]["KB_DATABASE_URL"])
    assert queue.find(db, sid)["state"] == "published"
    db.conn.close()
    slug = f"practices/{sub['slug']}"
    for node in (a, b):
        _until(lambda node=node: _found(node, "琥珀看板法", slug), what=f"{node.url} finds the recovered practice")
        _until(lambda node=node: _page(node, slug, "琥珀看板法"), what=f"{node.url} shows the recovered practice")
    assert _found(a, "quokkabyte", "import/csv-encoding")  # A caught up at start with what B did meanwhile
    _until(lambda: _page(a, "import/csv-encoding", "quokkabyte"), what="A's page shows B's edit made while A was down")
