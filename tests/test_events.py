"""The event log: batched off the request path, and nothing acknowledged is lost on SIGTERM or kill -9."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

from analytics import spool as spool_files
from analytics.events import EventLog, counts, new_query_id
from conftest import LiveServer, store_url
from indexer.store import DatabaseError, sqlite_path
from kbserver.db import open_db


def test_events_are_written_in_batches_by_one_writer(tmp_path):
    url = f"sqlite:///{tmp_path}/kb.db"
    open_db(url).conn.close()
    log = EventLog(url, batch_size=50)
    threads = [threading.Thread(target=lambda: [log.log_vote(slug="a", helpful=True) for _ in range(100)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.log_search(query_id=new_query_id(), query="q", normalized="q", results=0, top_slugs=[], took_ms=1.0)
    log.close()
    db = open_db(url)
    assert counts(db) == {"searches": 1, "clicks": 0, "votes": 400}


LOGGER = textwrap.dedent("""
    import sys, time
    from analytics.events import EventLog, new_query_id
    from kbserver.db import open_db
    url, spool, durability, before, after = sys.argv[1:]
    open_db(url).conn.close()
    log = EventLog(url, spool_dir=spool, durability=durability, interval=3600, batch_size=10**6)
    for i in range(int(before)):
        log.log_vote(slug="a", helpful=True, comment=f"before-{i}")
    log.flush()  # these are in the database, and the spool still holds them
    for i in range(int(after)):
        log.log_vote(slug="a", helpful=True, comment=f"after-{i}")
        log.log_search(query_id=new_query_id(), query=f"q{i}", normalized="q", results=0, top_slugs=[], took_ms=1.0)
    print("acknowledged", flush=True)
    time.sleep(60)  # the writer waits an hour for a fuller batch: the events are only in the spool
""")


@pytest.mark.parametrize("durability", ["process", "power"])
def test_events_acknowledged_before_a_kill_9_are_stored_exactly_once_at_the_next_start(tmp_path, durability):
    url, spool = f"sqlite:///{tmp_path}/kb.db", tmp_path / "spool"
    proc = subprocess.Popen([sys.executable, "-c", LOGGER, url, str(spool), durability, "30", "200"],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "acknowledged"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert counts(open_db(url)) == {"searches": 0, "clicks": 0, "votes": 30}
    log = EventLog(url, spool_dir=spool)
    try:
        assert log.replayed == 200 + 200
        db = open_db(url)
        assert counts(db) == {"searches": 200, "clicks": 0, "votes": 230}
        assert db.execute("SELECT COUNT(DISTINCT comment) FROM votes").fetchone()[0] == 230
        assert [p.name for p in spool.iterdir()] == [log._spool.name]  # the dead process's segment is gone
        assert db.execute("SELECT COUNT(*) FROM event_spool").fetchone()[0] == 0
    finally:
        log.close()
    assert list(spool.iterdir()) == []  # a clean stop leaves no spool behind


def test_kb_stats_and_analyze_count_what_a_killed_server_acknowledged(tmp_path, built):
    """After a kill -9, `kb stats` (and `kb analyze`) store the dead process's spool first: the counts
    include every acknowledged event, not only those a restarted `kb serve` would store."""
    from click.testing import CliRunner

    from analytics.events import spool_folder
    from kbserver.cli import cli

    url = store_url(built)
    proc = subprocess.Popen([sys.executable, "-c", LOGGER, url, str(spool_folder(built)), "process", "0", "50"],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "acknowledged"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    env = {"KB_DATA": str(built), "KB_DATABASE_URL": url}
    result = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["searches"] == 50 and json.loads(result.stdout)["votes"] == 50
    assert "已保存 100 个事件" in result.stderr
    again = CliRunner().invoke(cli, ["stats", "--json"], env=env)  # exactly once
    assert json.loads(again.stdout)["votes"] == 50 and "stored" not in again.stderr


def test_a_broken_spool_does_not_break_logging(tmp_path):
    url, spool = f"sqlite:///{tmp_path}/kb.db", tmp_path / "spool"
    open_db(url).conn.close()
    log = EventLog(url, spool_dir=spool, spool_segment_bytes=1000)
    shutil.rmtree(spool)  # the next segment cannot be created (as on a full or failed disk)
    for i in range(300):
        log.log_vote(slug="a", helpful=True, comment=str(i))
    log.close()
    assert log.spool_failures > 0 and counts(open_db(url))["votes"] == 300


def test_a_torn_or_zero_filled_spool_tail_ends_the_segment():
    records = b"".join(spool_files.encode(("votes", {"comment": str(i)})) for i in range(3))
    assert [r for r, _ in spool_files.decode(records + b"\0" * 64)] == [("votes", {"comment": str(i)}) for i in range(3)]
    torn = records[:-5]  # the process died while copying the third record: it was never acknowledged
    assert [r[1]["comment"] for r, _ in spool_files.decode(torn)] == ["0", "1"]
    garbage = records[:-1] + b"x"  # a power loss left other bytes: the checksum does not match
    assert len(list(spool_files.decode(garbage))) == 2


def test_a_live_writers_spool_is_not_replayed_by_another(tmp_path):
    url, spool = f"sqlite:///{tmp_path}/kb.db", tmp_path / "spool"
    open_db(url).conn.close()
    first = EventLog(url, spool_dir=spool, interval=3600, batch_size=10**6)
    first.log_vote(slug="a", helpful=True)
    second = EventLog(url, spool_dir=spool)  # e.g. a second server on the same data folder
    assert second.replayed == 0
    second.close()
    first.close()
    assert counts(open_db(url))["votes"] == 1 and list(spool.iterdir()) == []


def test_spool_segments_rotate_and_are_deleted_once_stored(tmp_path):
    url, spool = f"sqlite:///{tmp_path}/kb.db", tmp_path / "spool"
    open_db(url).conn.close()
    log = EventLog(url, spool_dir=spool, batch_size=7, spool_segment_bytes=1000)
    first = log._spool.name
    for i in range(300):
        log.log_vote(slug="a", helpful=True, comment=str(i))
    assert log.flush()
    assert log._spool.name != first
    assert len(list(spool.iterdir())) <= 2  # the current segment (and one retired a moment ago at most)
    log.close()
    assert counts(open_db(url))["votes"] == 300 and list(spool.iterdir()) == []


def test_database_is_in_wal_mode_with_migrations_recorded(tmp_path):
    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [
        "events:create_event_tables", "events:add_session_indexes",
        "events:create_event_spool_table", "events:add_search_matched_column",
        "events:add_click_client_column", "events:add_vote_source_column", "events:add_search_answer_column",
        "flags:create_flag_tables",
        "accounts:create_user_tables", "accounts:create_sessions", "accounts:add_contact",
        "contrib:create_contrib_tables",
        "links:create_link_tables",
        "links:one_link_per_ticket_article_agent", "links:add_visit_search_session",
        "throttle:create_throttle_tables",
        "editing:create_revisions", "questions:create_questions_table", "questions:add_questions_source_column",
        "answers:create_answer_votes",
        "synonyms:create_synonym_tables", "health:create_health_table", "closure:create_fix_table",
        "notifications:create_notification_tables", "flag_searches:create_flag_searches",
        "changes:create_change_tables"]
    open_db(f"sqlite:///{tmp_path}/kb.db")  # re-opening applies nothing twice


@pytest.mark.parametrize("url,expected", [
    ("sqlite:///data/kb.db", "data/kb.db"), ("sqlite:////tmp/kb.db", "/tmp/kb.db"),
])
def test_database_urls(url, expected):
    assert str(sqlite_path(url)) == expected


@pytest.mark.parametrize("url", ["postgresql://localhost/kb", "sqlite:///", "garbage"])
def test_unsupported_database_urls_say_what_works(url):
    with pytest.raises(DatabaseError, match="sqlite:///"):
        sqlite_path(url)


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    (tmp_path / "kb.db").write_text("not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a usable kb database"):
        open_db(f"sqlite:///{tmp_path}/kb.db")


@pytest.mark.slow
def test_no_acknowledged_event_is_lost_on_sigterm(docs_dir, data_dir):
    server = LiveServer(docs_dir, data_dir)
    acknowledged = 0
    try:
        with requests.Session() as http:
            for i in range(150):
                qid = http.get(server.url + "/api/search", params={"q": f"导入 {i}"}).json()["query_id"]
                acknowledged += http.post(server.url + "/api/events/click",
                                          json={"query_id": qid, "slug": "import/excel-import", "position": 1}).ok
                acknowledged += http.post(server.url + "/api/feedback",
                                          json={"slug": "import/csv-encoding", "helpful": i % 2 == 0}).ok
    finally:
        code = server.stop()  # SIGTERM right after the last acknowledged request
    assert code == 0
    db = open_db(store_url(data_dir))
    assert counts(db) == {"searches": 150, "clicks": 150, "votes": 150} and acknowledged == 300


@pytest.mark.slow
def test_sigterm_while_requests_are_in_flight_keeps_every_acknowledged_vote(docs_dir, data_dir):
    server = LiveServer(docs_dir, data_dir)
    acknowledged = [0] * 4
    attempted = [0] * 4

    def vote_forever(k):
        with requests.Session() as http:
            while True:
                attempted[k] += 1
                try:
                    r = http.post(server.url + "/api/feedback", json={"slug": "import/csv-encoding", "helpful": True},
                                  timeout=10)
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code == 202:
                    acknowledged[k] += 1

    threads = [threading.Thread(target=vote_forever, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    code = server.stop()  # SIGTERM with requests in flight
    for t in threads:
        t.join(timeout=30)
    stored = open_db(store_url(data_dir))["votes"].count
    assert code == 0 and sum(acknowledged) > 50
    assert sum(acknowledged) <= stored <= sum(attempted)


def _send_until_killed(server, tag: str, clients: int, acked: dict) -> None:
    """Several clients search, click and vote until the server dies; record what was acknowledged."""
    lock = threading.Lock()

    def client(k):
        with requests.Session() as http:
            for i in range(100_000):
                marker = f"{tag}-{k}-{i}"
                try:
                    r = http.get(server.url + "/api/search", params={"q": f"导入 {marker}"}, timeout=10)
                    if r.status_code != 200:
                        return
                    qid = r.json()["query_id"]
                    with lock:
                        acked["searches"].add(qid)
                    r = http.post(server.url + "/api/events/click", timeout=10,
                                  json={"query_id": qid, "slug": "import/excel-import", "position": 1})
                    if r.status_code != 202:
                        return
                    with lock:
                        acked["clicks"].add(qid)
                    r = http.post(server.url + "/api/feedback", timeout=10,
                                  json={"slug": "import/csv-encoding", "helpful": True, "comment": marker})
                    if r.status_code != 202:
                        return
                    with lock:
                        acked["votes"].add(marker)
                except requests.RequestException:
                    return  # killed

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    return threads


@pytest.mark.slow
def test_no_acknowledged_event_is_lost_on_kill_9(docs_dir, data_dir):
    """kill -9 at random moments while 4 clients send events; after a restart every acknowledged one is there once."""
    import random

    rng = random.Random()
    acked = {"searches": set(), "clicks": set(), "votes": set()}
    for round_ in range(3):
        server = LiveServer(docs_dir, data_dir)
        threads = _send_until_killed(server, f"r{round_}", 4, acked)
        time.sleep(rng.uniform(0.5, 2.0))
        server.proc.kill()  # SIGKILL: no handler runs, nothing is flushed
        server.proc.wait()
        server.stop()
        for t in threads:
            t.join(timeout=30)
    server = LiveServer(docs_dir, data_dir)  # the restart replays what the killed process had acknowledged
    try:
        db = open_db(store_url(data_dir))
        searches = {r[0] for r in db.execute("SELECT query_id FROM searches")}
        clicks = [r[0] for r in db.execute("SELECT query_id FROM clicks")]
        votes = [r[0] for r in db.execute("SELECT comment FROM votes")]
    finally:
        server.stop()
    assert len(acked["votes"]) > 50
    assert acked["searches"] - searches == set()
    assert acked["clicks"] - set(clicks) == set()
    assert acked["votes"] - set(votes) == set()
    assert len(clicks) == len(set(clicks)) and len(votes) == len(set(votes))  # replayed once, not twice


def test_a_database_built_before_migrations_were_named_keeps_working(tmp_path):
    """A database whose _migrations holds the old numbered names ("events:001_create_event_tables",
    dumped from a database built by the previous version) reruns nothing and gains later migrations."""
    import sqlite3

    from indexer.store import apply_migrations
    from kbserver.db import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((Path(__file__).parent / "fixtures" / "db_numbered_migrations.sql").read_text("utf-8"))
    conn.execute("INSERT INTO votes (ts, slug, helpful) VALUES ('2026-12-01T00:00:00.000Z', 'a', 1)")
    conn.commit()
    conn.close()
    db = open_db(f"sqlite:///{path}")
    names = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    assert "events:create_event_tables" in names and not [n for n in names if ":0" in n]
    assert counts(db)["votes"] == 1  # nothing was recreated

    def create_later_table(db):
        db["later"].create({"id": int}, pk="id")

    # A migration inserted in the middle of a concept's list runs; none of the old ones run again.
    events_list = next(fns for concept, fns in MIGRATIONS if concept == "events")
    later = [(c, [*fns[:2], create_later_table, *fns[2:]] if c == "events" else fns) for c, fns in MIGRATIONS]
    assert len(events_list) >= 3 and apply_migrations(db, later) == ["events:create_later_table"]
    assert apply_migrations(db, later) == []


def test_two_migrations_with_one_name_are_refused(tmp_path):
    from indexer.store import apply_migrations

    def create_x(db):
        db["x"].create({"id": int}, pk="id")

    with pytest.raises(ValueError, match="unique"):
        apply_migrations(open_db(f"sqlite:///{tmp_path}/kb.db", migrate=False), [("a", [create_x, create_x])])
