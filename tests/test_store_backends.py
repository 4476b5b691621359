"""The storage contract on both backends: the same store calls behave the same on SQLite and on a real PostgreSQL.

Every test here takes `db` (parametrized: sqlite, postgresql). The end-to-end API tests run on PostgreSQL
too, with KB_TEST_BACKEND=postgresql (see .ci/run).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from analytics import accounts, answers, events, failing, flags, links, notifications, questions, synonyms, throttle
from conftest import ROOT
from contrib import queue
from indexer.errors import Conflict
from indexer.postgres import translate
from indexer.store import DatabaseError, apply_migrations, transaction
from kbserver.db import MIGRATIONS, open_db


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def pg_url(postgres_server):
    url = postgres_server.create_database(migrated=True)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A database URL with every migration applied and no rows, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.db'}"
    url = request.getfixturevalue("pg_url")
    request.getfixturevalue("postgres_server").empty(url)
    return url


@pytest.fixture
def db(url):
    db = open_db(url)
    yield db
    db.conn.close()


def _columns(db, table) -> list[str]:
    return [d[0] for d in db.execute(f"SELECT * FROM {table} LIMIT 0").description]


# -- the opener, migrations and transactions ----------------------------------------------------------
def test_both_backends_have_the_same_tables_and_columns(tmp_path, pg_url):
    lite, pg = open_db(f"sqlite:///{tmp_path / 'kb.db'}"), open_db(pg_url)
    tables = set(lite.table_names()) - {"sqlite_sequence"}
    assert tables == set(pg.table_names())
    assert {t: _columns(lite, t) for t in tables} == {t: _columns(pg, t) for t in tables}
    assert sorted(r[0] for r in lite.execute("SELECT name FROM _migrations")) == \
        sorted(r[0] for r in pg.execute("SELECT name FROM _migrations"))


@pytest.mark.slow
def test_several_processes_starting_together_migrate_once(postgres_server):
    url = postgres_server.create_database()  # empty: every process finds every migration to run
    code = f"from kbserver.db import open_db; open_db({url!r}).conn.close(); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [o[0].strip() for o in outs] == ["ok"] * 4, [o[1] for o in outs]
    db = open_db(url)
    names = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    assert len(names) == len(set(names)) > 20
    assert apply_migrations(db, MIGRATIONS) == []


def test_transaction_is_all_or_nothing_and_nests(db):
    db["users"].insert({"name": "before", "role": "agent", "created_at": "x", "disabled": 0})
    with pytest.raises(Boom):
        with transaction(db):
            db["users"].insert({"name": "a", "role": "agent", "created_at": "x", "disabled": 0})
            db.execute("UPDATE users SET role = 'manager' WHERE name = 'before'")
            with transaction(db):  # a savepoint inside the same transaction
                db["users"].insert({"name": "b", "role": "agent", "created_at": "x", "disabled": 0})
            raise Boom()
    assert [(r["name"], r["role"]) for r in db["users"].rows_where(order_by="id")] == [("before", "agent")]
    assert not db.conn.in_transaction
    with transaction(db):
        with pytest.raises(Boom):
            with transaction(db):
                db["users"].insert({"name": "inner", "role": "agent", "created_at": "x", "disabled": 0})
                raise Boom()
        db["users"].insert({"name": "outer", "role": "agent", "created_at": "x", "disabled": 0})
    assert [r["name"] for r in db["users"].rows_where(order_by="id")] == ["before", "outer"]


def test_transactions_are_one_writer_at_a_time_like_begin_immediate(url):
    """Read-then-write blocks in two connections never interleave: no lost update (the claim pattern)."""
    setup = open_db(url)
    setup["event_spool"].insert({"segment": "counter", "stored": 0})

    def bump():
        db = open_db(url, migrate=False)
        with transaction(db):
            value = db.execute("SELECT stored FROM event_spool WHERE segment = 'counter'").fetchone()[0]
            time.sleep(0.3)  # the other block would read the same value here without the write lock
            db.execute("UPDATE event_spool SET stored = ? WHERE segment = 'counter'", [value + 1])
        db.conn.close()

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert setup["event_spool"].get("counter")["stored"] == 2


def test_sqlite_utils_table_calls_behave_alike(db):
    table = db["flag_events"]
    first = table.insert({"flag_id": 7, "ts": "t1", "actor": "wang", "from_state": "", "to_state": "open", "note": "%?:x"})
    assert first.last_pk == 1
    table.insert({"flag_id": 7, "ts": "t2", "actor": "li", "from_state": "open", "to_state": "done", "note": "it's"})
    assert table.count == 2 and table.count_where("actor = ?", ["li"]) == 1
    assert table.get(1)["note"] == "%?:x"  # placeholders' characters inside values are values
    table.update(2, {"note": "50% done"})
    rows = list(table.rows_where("flag_id = :flag", {"flag": 7}, order_by="id DESC", limit=1))
    assert [(r["id"], r["note"]) for r in rows] == [(2, "50% done")]
    assert list(db.query("SELECT actor FROM flag_events WHERE note LIKE '50%' ORDER BY id")) == [{"actor": "li"}]
    from sqlite_utils.db import NotFoundError

    with pytest.raises(NotFoundError):
        table.get(99)


def test_aggregates_come_back_as_numbers(db):
    events.insert_events(db, "votes", [{"ts": "2026-12-01T10:00:00.000Z", "slug": "a", "helpful": True, "comment": "",
                                        "session": ""}] * 3)
    row = db.execute("SELECT SUM(helpful), COUNT(*), MAX(id) FROM votes").fetchone()
    assert tuple(row) == (3, 3, 3) and all(type(v) is int for v in row)


def test_a_duplicate_is_an_integrity_error_and_the_connection_still_works(db):
    import sqlite3

    db["users"].insert({"name": "wang", "role": "agent", "created_at": "x", "disabled": 0})
    with pytest.raises(sqlite3.IntegrityError):
        db["users"].insert({"name": "wang", "role": "agent", "created_at": "x", "disabled": 0})
    with pytest.raises(sqlite3.IntegrityError):
        with transaction(db):
            db["users"].insert({"name": "wang", "role": "agent", "created_at": "x", "disabled": 0})
    assert db["users"].count == 1 and not db.conn.in_transaction


# -- every concept's store functions ---------------------------------------------------------------------
def test_accounts_sessions_and_tokens(db):
    user, password, token = accounts.create_user(db, "wang", "manager", hash_cost=1)
    with pytest.raises(Conflict):
        accounts.create_user(db, "wang", "agent", hash_cost=1)
    assert accounts.authenticate(db, "wang", password, hash_cost=1)["id"] == user["id"]
    assert accounts.authenticate(db, "wang", "wrong", hash_cost=1) is None
    assert accounts.user_for_token(db, token)["name"] == "wang"
    sid = accounts.create_session(db, user["id"], 3600)
    assert accounts.user_for_session(db, sid)["name"] == "wang" and accounts.count_sessions(db, user["id"]) == 1
    other, _, _ = accounts.create_user(db, "li", "agent", hash_cost=1)
    with pytest.raises(Conflict):  # the last manager cannot be demoted
        accounts.set_role(db, user["id"], "agent")
    accounts.set_disabled(db, other["id"], True)
    assert [u["name"] for u in accounts.list_users(db)] == ["wang"]
    accounts.set_contact(db, user["id"], email="wang@example.com", mode="digest")
    assert accounts.get_contact(db, user["id"])["email"] == "wang@example.com"
    accounts.end_session(db, sid)
    assert accounts.user_for_session(db, sid) is None


def test_events_counts_health_and_failing_figures(db):
    day = "2026-12-01T10:00:0{}.000Z"
    events.insert_events(db, "searches", [
        {"query_id": f"{i:016x}", "ts": day.format(i), "session": "s1", "query": "导出", "normalized": "导出",
         "results": 0 if i == 0 else 3, "top_slugs": [] if i == 0 else ["export", "import"], "took_ms": 1.5,
         "module": "", "tag": "", "page": 1, "source": "site"} for i in range(3)])
    events.insert_events(db, "searches", [{"query_id": f"{1:016x}", "ts": day.format(1), "session": "s1",
                                           "query": "dup", "normalized": "dup", "results": 1}])  # ignored: same id
    events.insert_events(db, "clicks", [{"ts": day.format(5), "query_id": f"{1:016x}", "slug": "export", "position": 1,
                                         "session": "s1", "client": "c"}])
    events.insert_events(db, "votes", [{"ts": day.format(6), "slug": "export", "helpful": False, "comment": "",
                                        "session": "s1"},
                                       {"ts": day.format(7), "slug": "export", "helpful": True, "comment": "",
                                        "session": "s1"}])
    assert events.counts(db) == {"searches": 3, "clicks": 1, "votes": 2}
    [health] = events.daily_health(db, "2026-12-01", "2026-12-02")
    assert health["searches"] == 3 and health["zero_result_rate"] == pytest.approx(1 / 3)
    assert health["click_through_rate"] == pytest.approx(1 / 3) and health["helpful_rate"] == 0.5
    assert failing.votes_by_article(db, "2026-12-01", "2026-12-02") == {"export": (1, 1)}  # the session's last vote
    assert failing.searches_by_top_slug(db, "2026-12-01", "2026-12-02") == {"export": 2}
    assert len(events.events_between(db, "2026-12-01", "2026-12-02", "2026-12-03")["searches"]) == 3


def test_flags_compare_and_set(db):
    candidate = {"key": "article:a:low_helpfulness", "kind": "article", "slug": "a", "reason": "low_helpfulness",
                 "title": "A", "path": "a.md", "score": 0.5, "evidence": {"votes": 10}, "suggestion": "fix it"}
    flags.sync(db, [candidate])
    flag = flags.list_flags(db)[0]
    flags.transition(db, flag["id"], "acknowledged", "wang", flag["version"])
    with pytest.raises(Conflict):  # a stale version: someone else acted first
        flags.transition(db, flag["id"], "dismissed", "li", flag["version"])
    after = flags.get_flag(db, flag["id"])
    assert after["state"] == "acknowledged" and after["evidence"] == {"votes": 10} and len(after["history"]) == 2


def test_submission_workflow_and_its_audit_trail(db):
    vip, _, _ = accounts.create_user(db, "vip", "vip", hash_cost=1)
    manager, _, _ = accounts.create_user(db, "boss", "manager", hash_cost=1)
    fields = {"title": "跨部门审批用看板管理", "summary": "用看板泳道跟踪跨部门审批进度。",
              "body": "## 做法\n\n1. 按部门建泳道\n2. 每周同步一次\n", "tags": ["看板", "审批"], "module": "approvals",
              "organisation": "Acme 公司", "consent": True}
    sub, created = queue.create(db, vip, fields, submit=True)
    assert created and queue.create(db, vip, fields, submit=True)[1] is False  # the same text again: no duplicate
    sub = queue.transition(db, sub["id"], "start_review", manager, sub["version"])
    with pytest.raises(Conflict):
        queue.transition(db, sub["id"], "approve", manager, sub["version"] - 1)
    queue.comment(db, sub["id"], manager, "写得好")
    sub = queue.transition(db, sub["id"], "approve", manager, sub["version"])
    got = queue.get(db, sub["id"])
    assert got["state"] == "approved" and [c["body"] for c in got["comments"]] == ["写得好"]
    assert [h["to_state"] for h in got["history"]][-2:] == ["in_review", "approved"]


def test_links_visits_and_outcomes(db):
    link = links.record_link(db, "agent1", "T-1", "export", ["导出"])
    assert links.record_link(db, "agent1", "T-1", "export", ["导出"])["id"] == link["id"]  # one per ticket/article/agent
    assert links.record_visit(db, link["ref"], "export", "visitor") is True
    assert links.record_visit(db, link["ref"], "export", "visitor") is False  # the same visitor counts once
    links.set_outcome(db, link, "solved", "agent1")
    assert links.article_stats(db) == [{"slug": "export", "links": 1, "solved": 1, "not_helped": 0, "visits": 1}]


def test_questions_webhooks_and_notifications(db):
    accounts.create_user(db, "boss", "manager", hash_cost=1)
    q = questions.add_question(db, "怎么归档项目？", "a@example.com", address="1.2.3.4", limit=2)
    questions.add_question(db, "怎么删除项目？", address="1.2.3.4", limit=2)
    from indexer.errors import KBError

    with pytest.raises(KBError):  # RateLimited: the third from one address within the hour
        questions.add_question(db, "第三个问题", address="1.2.3.4", limit=2)
    assert questions.get_question(db, q["id"])["question"] == "怎么归档项目？" and questions.count_questions(db) == 2
    hook, secret = notifications.add_webhook(db, "https://hooks.example.com/kb", ["question.asked"])
    notifications.notify(db, "question.asked", {"question_id": 9, "title": "t"}, "managers")
    [delivery] = notifications.deliveries(db, webhook_id=hook["id"])
    again = notifications.replay(db, delivery["id"])
    assert again["id"] != delivery["id"] and len(notifications.deliveries(db, webhook_id=hook["id"])) == 2


def test_synonyms_answers_and_throttle(db):
    proposal = {"customer": "导出", "article": "下载", "sessions": 3, "examples": [["导出", "下载"]], "slugs": ["export"]}
    synonyms.record_proposals(db, [proposal])
    synonyms.record_proposals(db, [proposal])  # updated, not duplicated
    [syn] = synonyms.list_synonyms(db)
    synonyms.decide(db, syn["id"], "approve", "wang", syn["version"])
    assert synonyms.approved_pairs(db) == [("导出", "下载")]
    events.insert_events(db, "searches", [{"query_id": "a" * 16, "ts": "2026-12-01T10:00:00.000Z", "session": "s",
                                           "query": "q", "normalized": "q", "results": 1,
                                           "answer": '{"slug": "export", "anchor": "", "heading": ""}'}])
    answers.record_vote(db, query_id="a" * 16, helpful=True)
    answers.record_vote(db, query_id="a" * 16, helpful=False, comment="不对")  # the same answer: replaces the vote
    assert [(v["helpful"], v["comment"]) for v in answers.votes(db)] == [(0, "不对")]
    policy = throttle.LoginPolicy(window=900, per_account=2, per_address=50)
    assert throttle.reserve_attempt(db, "wang", "1.2.3.4", policy, now=1000.0) == 0
    assert throttle.reserve_attempt(db, "wang", "1.2.3.4", policy, now=1000.5) == 0
    assert throttle.reserve_attempt(db, "wang", "1.2.3.4", policy, now=1001.0) > 0  # REAL keeps sub-second times
    throttle.clear_account(db, "wang")
    assert throttle.retry_after(db, "wang", "1.2.3.4", policy, now=1001.0) == 0


# -- SQLite spelling → PostgreSQL, and bad URLs --------------------------------------------------------------
@pytest.mark.parametrize("sqlite, postgres", [
    ("SELECT a FROM t WHERE b = ? AND c LIKE '50%?'", "SELECT a FROM t WHERE b = %s AND c LIKE '50%%?'"),
    ("SELECT 1 WHERE x = :start AND y::text = 'a:b'", "SELECT 1 WHERE x = %(start)s AND y::text = 'a:b'"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, at REAL NOT NULL, n INTEGER, b BLOB)",
     "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, n BIGINT, b BYTEA)"),
    ("SELECT 100 % 7", "SELECT 100 %% 7"),
    ("BEGIN IMMEDIATE", "BEGIN"),
    ("PRAGMA synchronous=FULL", None),
])
def test_translation(sqlite, postgres):
    assert translate(sqlite) == postgres


@pytest.mark.parametrize("url, message", [
    ("postgresql://kb@127.0.0.1:1/kb", "cannot connect to postgresql://kb@127.0.0.1:1/kb"),
    ("postgresql://kb@127.0.0.1:5432", "names no database"),
    ("postgresql://kb@127.0.0.1:port/kb", "port that is not a number"),
    ("mysql://kb@host/kb", "use sqlite:///path/to/kb.db or postgresql://"),
])
def test_bad_urls_are_one_readable_error(url, message):
    with pytest.raises(DatabaseError) as err:
        open_db(url)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_wrong_password_names_what_to_check_and_hides_the_password(postgres_server, pg_url, runner):
    from kbserver.cli import cli

    wrong = pg_url.replace(postgres_server.PASSWORD, "not-the-password")
    result = runner.invoke(cli, ["users", "list", "--database-url", wrong])
    assert result.exit_code != 0 and "Traceback" not in result.output
    line = result.output.strip()
    assert line.startswith("错误：") and "\n" not in line and "password" in line and "not-the-password" not in line


def test_one_nodes_restart_keeps_the_other_nodes_spool_bookkeeping(url, db, tmp_path):
    """Two nodes share the database: B's start must not drop A's "stored up to" rows (A would replay twice)."""
    from analytics import spool

    node_a, node_b = tmp_path / "a" / "event-spool", tmp_path / "b" / "event-spool"
    log_a = events.EventLog(url, spool_dir=node_a)
    log_a.log_vote(slug="export", helpful=True, session="s1")
    log_a.flush()
    [segment] = spool.segment_names(node_a)
    assert spool.folder_id(node_a) != spool.folder_id(node_b) and spool.folder_id(node_a) in segment
    events.replay_spool(db, node_b)  # node B starts
    assert [r[0] for r in db.execute("SELECT segment FROM event_spool")] == [segment]
    log_a.close()  # A stores everything and deletes its segment and its row
    events.replay_spool(db, node_a)
    assert db["event_spool"].count == 0


def test_a_connection_given_back_inside_a_transaction_is_rolled_back_before_reuse(pg_url, postgres_server):
    postgres_server.empty(pg_url)
    first = open_db(pg_url, migrate=False)
    first.conn.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO event_spool (segment, stored) VALUES ('half', 1)")
    first.conn.close()  # e.g. a request that failed mid-transaction: its connection goes back to the pool
    again = open_db(pg_url, migrate=False)
    assert again.conn.raw is first.conn.raw  # reused, not reconnected
    assert not again.conn.in_transaction and again["event_spool"].count == 0
    with transaction(again):  # and the write lock was released with the rollback
        again.execute("INSERT INTO event_spool (segment, stored) VALUES ('whole', 1)")
    again.conn.close()


@pytest.mark.slow
def test_events_acknowledged_while_postgresql_restarts_are_all_stored_once(tmp_path):
    """PostgreSQL stops for a few seconds under a stream of events: they wait in the spool, none is lost or doubled,
    and the connections the restart broke are replaced (pooled ones too)."""
    from conftest import PostgresServer, postgres_bindir

    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries")
    server = PostgresServer(bindir)  # its own server: the session's one keeps serving the other tests
    try:
        url = server.create_database()
        open_db(url).conn.close()
        log = events.EventLog(url, spool_dir=tmp_path / "spool", interval=0.05)
        for i in range(100):
            log.log_vote(slug="a", helpful=True, comment=f"before-{i}")
        assert log.flush()
        server.pause()
        for i in range(100):
            log.log_vote(slug="a", helpful=True, comment=f"during-{i}")  # acknowledged: in the spool
        time.sleep(2)  # the writer finds the server gone and waits
        server.resume()
        for i in range(100):
            log.log_vote(slug="a", helpful=True, comment=f"after-{i}")
        assert log.flush(timeout=60)
        log.close()
        db = open_db(url, migrate=False)  # a pooled connection from before the restart is not handed out
        comments = [r[0] for r in db.execute("SELECT comment FROM votes")]
        assert len(comments) == len(set(comments)) == 300 and log.dead_letters == 0
    finally:
        server.stop()
