"""The event log: batched off the request path, and nothing acknowledged is lost on SIGTERM."""

import threading
import time

import pytest
import requests

from analytics.events import EventLog, counts, new_query_id
from analytics.store import DatabaseError, open_db, sqlite_path
from conftest import LiveServer


def test_events_are_written_in_batches_by_one_writer(tmp_path):
    url = f"sqlite:///{tmp_path}/kb.db"
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


def test_database_is_in_wal_mode_with_migrations_recorded(tmp_path):
    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [
        "events:001_create_event_tables", "events:002_add_session_indexes", "flags:001_create_flag_tables",
        "accounts:001_create_user_tables", "accounts:002_create_sessions", "contrib:001_create_contrib_tables",
        "links:001_create_link_tables",
        "links:002_one_link_per_ticket_article_agent", "throttle:001_create_throttle_tables"]
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
    db = open_db(f"sqlite:///{data_dir}/kb.db")
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
    stored = open_db(f"sqlite:///{data_dir}/kb.db")["votes"].count
    assert code == 0 and sum(acknowledged) > 50
    assert sum(acknowledged) <= stored <= sum(attempted)
