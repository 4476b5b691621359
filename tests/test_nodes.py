"""Several nodes on one database and one docs folder (in one process: two apps, two data folders), on SQLite
and on a real PostgreSQL server.

The change feed (indexer/changes.py) carries publish, unpublish, edits and synonym decisions to the other
node's index, pages and learned synonyms; each period's scheduled analysis runs on one node (a lease).
The same with real `kb serve` processes is in tests/test_nodes_live.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading

import pytest

from analytics import accounts
from analytics import synonyms as learned
from conftest import FIXTURE_DOCS
from indexer import changes
from indexer.build import build_full
from indexer.site import build_site, site_dir
from indexer.store import transaction
from kbserver import create_app
from kbserver.db import open_db
from kbserver.jobs import ANALYSIS_LEASE, run_scheduled
from kbserver.nodes import ChangeFollower


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request, tmp_path_factory):
    """Nodes a and b: one docs folder and one database (a SQLite file, or a real PostgreSQL server), each its own
    data folder (index and site)."""
    root = tmp_path_factory.mktemp("nodes")
    docs = root / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database(prefix="nodes", migrated=True)
    else:
        url = f"sqlite:///{root / 'shared.db'}"
    apps = {}
    for name in ("a", "b"):
        data = root / name
        build_full(docs, data)
        build_site(docs, data, None, on_problem=None, workers=1)
        apps[name] = create_app({"docs": docs, "data": data, "database_url": url, "semantic_model": "off",
                                 "change_poll": 0})
        apps[name].extensions["kb_follower"].start(0)  # polled by hand below (change_poll 0: no thread)
    db = open_db(url)
    _, _, vip = accounts.create_user(db, "acme", "vip")
    _, _, mgr = accounts.create_user(db, "wang", "manager")
    db.conn.close()
    yield {"docs": docs, "url": url, "vip": {"Authorization": f"Bearer {vip}"},
           "mgr": {"Authorization": f"Bearer {mgr}"}, **apps}
    for app in apps.values():
        app.extensions["kb_site_updater"].stop()
        app.extensions["kb_events"].close()


def _search(app, q: str) -> list[str]:
    return [h["slug"] for h in app.test_client().get("/api/search", query_string={"q": q}).get_json()["results"]]


def _publish(cluster, title: str, body: str) -> dict:
    a = cluster["a"].test_client()
    fields = {"title": title, "summary": "两个节点的测试。", "body": body, "tags": ["节点"], "module": "import",
              "organisation": "Acme 公司", "consent": True, "submit": True}
    sid = a.post("/api/contrib/submissions", headers=cluster["vip"], json=fields).get_json()["id"]
    r = a.post(f"/api/contrib/submissions/{sid}/approve", headers=cluster["mgr"], json={})
    assert r.status_code == 200 and r.get_json()["state"] == "published", r.get_json()
    return r.get_json()


def test_publish_on_a_reaches_b_search_and_site_and_no_stale_cache(cluster):
    a, b = cluster["a"], cluster["b"]
    assert _search(b, "蓝鲸泳道法") == []  # cached on b for its current index version
    sub = _publish(cluster, "蓝鲸泳道法", "## 做法\n\n用蓝鲸泳道法整理跨部门的导入任务。\n")
    slug = f"practices/{sub['slug']}"
    assert slug in _search(a, "蓝鲸泳道法")
    assert a.extensions["kb_follower"].poll() == []  # a made the change: nothing to apply twice
    assert slug not in _search(b, "蓝鲸泳道法")  # b has not looked at the feed yet
    applied = b.extensions["kb_follower"].poll()
    assert [(r["kind"], r["path"]) for r in applied] == [("publish", f"{slug}.md")]
    node = b.test_client().get("/api/health").get_json()["node"]  # what a proxy's health check sees
    assert node == {"id": b.extensions["kb_node"], "changes_applied": applied[0]["version"]}
    assert node["id"] != a.extensions["kb_node"]
    assert slug in _search(b, "蓝鲸泳道法")  # the new index version, not the cached empty answer
    b.extensions["kb_site_updater"].wait_idle(60)
    page = site_dir(b.config["KB"]["data"]) / slug / "index.html"
    assert "蓝鲸泳道法" in page.read_text(encoding="utf-8")
    assert b.extensions["kb_follower"].poll() == []  # applied once

    # unpublish on b: the file is gone before a sees the change, so a's search drops it
    r = b.test_client().post(f"/api/contrib/submissions/{sub['id']}/unpublish", headers=cluster["mgr"],
                             json={"note": "过时"})
    assert r.status_code == 200 and r.get_json()["state"] == "unpublished"
    assert slug not in _search(b, "蓝鲸泳道法")
    assert [r["kind"] for r in a.extensions["kb_follower"].poll()] == ["unpublish"]
    assert slug not in _search(a, "蓝鲸泳道法")
    a.extensions["kb_site_updater"].wait_idle(60)
    assert not (site_dir(a.config["KB"]["data"]) / slug / "index.html").exists()


def test_edit_on_b_reaches_a(cluster):
    a, b = cluster["a"], cluster["b"]
    client = b.test_client()
    article = client.get("/api/edit/article", query_string={"slug": "import/csv-encoding"},
                         headers=cluster["mgr"]).get_json()
    assert _search(a, "zephyrquartz") == []
    r = client.post("/api/edit/save", headers=cluster["mgr"], json={
        "slug": "import/csv-encoding", "fields": article["fields"], "base_hash": article["hash"],
        "body": article["body"] + "\n\n## zephyrquartz\n\n用zephyrquartz另存后再导入。\n"})
    assert r.status_code == 200, r.get_json()
    assert "import/csv-encoding" in _search(b, "zephyrquartz")
    assert [r["kind"] for r in a.extensions["kb_follower"].poll()] == ["save"]
    assert "import/csv-encoding" in _search(a, "zephyrquartz")
    a.extensions["kb_site_updater"].wait_idle(60)
    page = site_dir(a.config["KB"]["data"]) / "import" / "csv-encoding" / "index.html"
    assert "zephyrquartz" in page.read_text(encoding="utf-8")


def test_synonym_approved_on_a_is_used_by_b(cluster):
    a, b = cluster["a"], cluster["b"]
    b.extensions["kb_learned"].check_seconds = 3600  # b's searches do not look for new pairs: the feed must tell it
    db = open_db(cluster["url"])
    learned.record_proposals(db, [{"customer": "zorbleflux", "article": "导入", "sessions": 5, "examples": ["zorbleflux"],
                                   "slugs": []}])
    pair = next(p for p in learned.list_synonyms(db) if p["customer"] == "zorbleflux")
    db.conn.close()
    before = _search(b, "zorbleflux")
    r = a.test_client().post(f"/api/synonyms/{pair['id']}", headers=cluster["mgr"], json={"decision": "approve"})
    assert r.status_code == 200
    assert a.extensions["kb_follower"].poll() == []
    assert [r["kind"] for r in b.extensions["kb_follower"].poll()] == ["synonyms"]
    after = _search(b, "zorbleflux")
    assert before == [] and "import/excel-import" in after


def test_a_publish_waits_for_a_reindex_in_progress(cluster):
    """The follower may hold the index's writer (applying another node's change) when a manager publishes."""
    from whoosh.index import open_dir

    from indexer.build import current_index_dir

    writer = open_dir(current_index_dir(cluster["a"].config["KB"]["data"])).writer()
    timer = threading.Timer(1.0, writer.cancel)
    timer.start()
    sub = _publish(cluster, "zanzibarflow 做法", "## 做法\n\n用 zanzibarflow 管理导入。\n")  # published, not failed
    timer.join()
    assert f"practices/{sub['slug']}" in _search(cluster["a"], "zanzibarflow")
    cluster["b"].extensions["kb_follower"].poll()


def test_follower_waits_for_a_version_that_commits_late(cluster):
    """PostgreSQL hands out versions before commit: 3 can be visible before 2. The follower must not skip 2."""
    db = open_db(cluster["url"])
    seen = []
    follower = ChangeFollower(lambda: open_db(cluster["url"], migrate=False), "elsewhere", seen.extend, poll_seconds=0)
    follower.start(changes.latest(db))
    base = follower.floor
    with transaction(db):
        db.execute("INSERT INTO changes (version, kind, path, origin, ts) VALUES (?, 'save', 'late.md', 'x', '')",
                   [base + 2])
    assert [r["version"] for r in follower.poll()] == [base + 2]
    assert follower.floor == base  # base + 1 is missing: not skipped yet
    with transaction(db):
        db.execute("INSERT INTO changes (version, kind, path, origin, ts) VALUES (?, 'save', 'early.md', 'x', '')",
                   [base + 1])
    assert [r["version"] for r in follower.poll()] == [base + 1]
    assert follower.floor == base + 2 and follower.poll() == []
    with transaction(db):  # tidy: the module's other tests read the feed
        db.execute("DELETE FROM changes WHERE version > ?", [base])
    db.conn.close()


def test_follower_retries_after_a_failed_apply(cluster):
    db = open_db(cluster["url"])
    calls = []

    def apply(rows):
        calls.append([r["version"] for r in rows])
        if len(calls) == 1:
            raise OSError("disk full")

    follower = ChangeFollower(lambda: open_db(cluster["url"], migrate=False), "elsewhere", apply, poll_seconds=0)
    follower.start(changes.latest(db))
    with transaction(db):
        version = changes.record(db, "save", "x", "x.md", "someone")
    with pytest.raises(OSError):
        follower.poll()
    assert follower.poll()[0]["version"] == version and calls == [[version], [version]]
    with transaction(db):
        db.execute("DELETE FROM changes WHERE version = ?", [version])
    db.conn.close()


@pytest.mark.slow
def test_scheduled_analysis_runs_on_one_node_per_period(cluster):
    a, b = cluster["a"], cluster["b"]
    results = {}

    def run(name, period):
        results[(name, period)] = run_scheduled(cluster[name], period, 3600)

    threads = [threading.Thread(target=run, args=(name, 1000)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [name for (name, _), report in results.items() if report is not None]
    assert len(ran) == 1  # the other node found the period's lease taken
    db = open_db(cluster["url"])
    row = changes.lease(db, ANALYSIS_LEASE)
    assert row["period"] == 1000 and row["done_at"] and row["holder"].startswith(cluster[ran[0]].extensions["kb_node"])
    db.conn.close()
    assert run_scheduled(a, 1000, 3600) is None and run_scheduled(b, 1000, 3600) is None  # done for the period
    assert run_scheduled(b, 1001, 3600) is not None  # the next period runs again, on whichever node wakes first


def test_nodes_racing_for_a_lease_get_it_once(cluster):
    """Eight nodes' schedules wake at the same moment, each on its own connection: one takes the period."""
    won, start = [], threading.Barrier(8)

    def node(k):
        db = open_db(cluster["url"], migrate=False)
        try:
            start.wait()
            with transaction(db):
                if changes.take_lease(db, "race", 42, f"node{k}", 60):
                    won.append(k)
        finally:
            db.conn.close()

    threads = [threading.Thread(target=node, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_an_expired_unfinished_lease_is_taken_over(cluster):
    db = open_db(cluster["url"])
    now = dt.datetime.now(dt.timezone.utc)
    with transaction(db):
        assert changes.take_lease(db, "job", 7, "n1", 60, now=now)
        assert not changes.take_lease(db, "job", 7, "n2", 60, now=now)  # held
        assert not changes.take_lease(db, "job", 6, "n2", 60, now=now)  # an older period never runs again
        assert changes.take_lease(db, "job", 7, "n2", 60, now=now + dt.timedelta(seconds=61))  # n1 died
        changes.finish_lease(db, "job", 7, "n2")
        assert not changes.take_lease(db, "job", 7, "n1", 60, now=now + dt.timedelta(hours=5))  # done: once
        assert changes.take_lease(db, "job", 8, "n1", 60, now=now)
        changes.finish_lease(db, "job", 8, "n1", done=False)  # failed: given up at once
        assert changes.take_lease(db, "job", 8, "n2", 60, now=now)
    db.conn.close()


def test_a_copied_data_folder_is_a_new_node(tmp_path):
    """A node made from a copy of another node's data folder must not skip the original's changes as its own."""
    first = changes.node_id(tmp_path / "a")
    assert changes.node_id(tmp_path / "a") == first  # kept
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert changes.node_id(tmp_path / "b") not in ("", first)
    assert changes.node_id(tmp_path / "a") == first


def test_change_poll_setting_is_checked():
    from indexer.errors import InvalidInput
    from kbserver.settings import load_settings

    assert load_settings({"change_poll": "2"}, environ={})["change_poll"] == 2
    with pytest.raises(InvalidInput, match="KB_CHANGE_POLL"):
        load_settings({}, environ={"KB_CHANGE_POLL": "-1"})
