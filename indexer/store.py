"""The one place that opens kb's database: URL parsing, WAL, pragmas and named migrations.

Shared infrastructure, so it lives in the bottom package and imports no feature package. Each concept
owns its tables and declares their migrations in its own module (analytics/events.py owns searches,
clicks and votes); the top (``kbserver/db.py``) holds the one list of them and passes it to ``open_db``.
This module applies them in order and records each by its name (``concept:function``) in
``_migrations``, so inserting a migration never renames the ones already run.

Two backends behind the same functions: SQLite (the zero-setup default, ``sqlite:///``) and PostgreSQL
(``postgresql://``, through the thin database object in ``indexer/postgres.py``). Feature modules call
the same sqlite-utils-style methods and write the same SQL for both.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import sqlite_utils

from . import postgres
from .clock import now_iso
from .errors import KBError
from .i18n import N_

# One concept's migrations, in order: (concept, [fn, ...]); each is recorded as "concept:fn.__name__".
Migrations = Sequence[tuple[str, Sequence[Callable]]]


# The database server cannot be reached (PostgreSQL down or restarting): wait, do not give up on the rows.
DatabaseUnavailable = postgres.DatabaseUnavailable


class DatabaseError(KBError):
    """The database URL or file cannot be used."""

    status = 500
    code = "database"


def is_postgres(database_url: str) -> bool:
    """True when database_url names a PostgreSQL server (postgresql://user:password@host:port/db)."""
    return postgres.is_postgres_url(database_url)


def sqlite_path(database_url: str) -> Path:
    """The file behind a sqlite:/// URL (or a plain path); DatabaseError for other schemes."""
    if "://" not in database_url:
        raise DatabaseError(N_("数据库地址 %(url)r 缺少协议：请写成 sqlite:///path/to/kb.db（相对路径用三个斜杠，"
                               "绝对路径用四个）"), url=database_url)
    parsed = urlparse(database_url)
    if parsed.scheme != "sqlite":
        raise DatabaseError(N_("数据库地址 %(url)r 用不了：请写成 sqlite:///path/to/kb.db 或 "
                               "postgresql://user:password@host:5432/database"), url=postgres.describe(database_url))
    # SQLAlchemy's convention: sqlite:///relative/kb.db and sqlite:////absolute/kb.db
    path = unquote(parsed.netloc + parsed.path)[1:] if not parsed.netloc else unquote(parsed.netloc + parsed.path)
    if not path or path.endswith("/"):
        raise DatabaseError(N_("数据库地址 %(url)r 没有指定文件：请写成 sqlite:///data/kb.db"), url=database_url)
    return Path(path)


def make_private_dir(path: Path) -> None:
    """Create folder path (and missing parents) if it does not exist, readable by its owner only (0700)."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered through the umask


def _private_files(path: Path) -> None:
    """The database holds accounts, tickets and visitors' searches: owner-only (0600), even if created looser.

    SQLite gives the -wal and -shm files the mode of the database file, so creating it 0600 covers them.
    """
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # an empty file is a valid new database
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            if name.exists() and name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:  # someone else's file (e.g. read by another account): leave it to its owner
            pass


def check_database_url(database_url: str) -> None:
    """DatabaseError when database_url is not a usable sqlite:/// or postgresql:// URL (checked without connecting)."""
    if is_postgres(database_url):
        try:
            postgres.check_url(database_url)
        except postgres.BadURL as exc:
            raise DatabaseError(exc.source, **exc.details) from None
    else:
        sqlite_path(database_url)


def _open_postgres(database_url: str, migrations: Migrations | None) -> postgres.PgDatabase:
    try:
        db = postgres.PgDatabase(postgres.connect(database_url), database_url)
    except postgres.BadURL as exc:
        raise DatabaseError(exc.source, **exc.details) from None
    except postgres.CannotConnect as exc:
        raise DatabaseError(N_("无法连接到 %(database)s：%(reason)s。请检查数据库服务器是否在运行，以及 --database-url / "
                               "KB_DATABASE_URL 里的用户名、密码和数据库名"), database=exc.database, reason=exc.reason) from None
    if migrations is not None:
        try:
            with db.session_lock(postgres.MIGRATION_LOCK):  # several processes starting together migrate once
                apply_migrations(db, migrations)
        except sqlite3.DatabaseError as exc:
            db.conn.close()
            raise DatabaseError(N_("%(database)s 不是可用的 kb 数据库：%(problem)s"),
                                database=postgres.describe(database_url), problem=str(exc)) from None
    return db


def open_db(database_url: str, migrations: Migrations | None = None) -> sqlite_utils.Database | postgres.PgDatabase:
    """Open the database at database_url, applying `migrations` if given: SQLite (created if needed, WAL, folder
    0700, files 0600) or PostgreSQL. The full list is ``kbserver.db.MIGRATIONS`` (``kbserver.db.open_db`` passes it)."""
    if is_postgres(database_url):
        return _open_postgres(database_url, migrations)
    path = sqlite_path(database_url)
    try:
        make_private_dir(path.parent)
        _private_files(path)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(N_("无法打开数据库 %(path)s：%(problem)s。请检查 --data / KB_DATABASE_URL"), path=str(path),
                            problem=str(exc)) from None
    db = sqlite_utils.Database(conn)
    try:
        db.enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        if migrations is not None:
            apply_migrations(db, migrations)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(N_("%(database)s 不是可用的 kb 数据库：%(problem)s"), database=str(path), problem=str(exc)) from None
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: everything inside lands together or not at all.

    ``with db.conn:`` groups nothing under sqlite-utils 4, whose ``execute``/``insert``/``update`` commit on
    their own when no transaction is open. Once this block has opened one, they join it (sqlite-utils uses
    savepoints inside an open transaction). IMMEDIATE takes the write lock at the start, so what the block
    reads cannot be changed by another connection before it writes (others wait, up to busy_timeout).
    Nested blocks are savepoints: an inner failure undoes only its part unless it propagates.
    On PostgreSQL, BEGIN also takes a transaction-scoped advisory lock (indexer/postgres.py): the same one
    writer at a time, across every process and node sharing the database.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"kb_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:  # some errors (e.g. a full disk) already ended the whole transaction
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


_migrate_lock = threading.Lock()


# Before migrations were named, each was recorded as "concept:NNN_fn" (NNN its place in the list).
_NUMBERED = re.compile(r"^([a-z_]+):\d{3}_(\w+)$")


def _rename_numbered(db: sqlite_utils.Database) -> None:
    """Record migrations that ran under their old numbered name ("events:001_create_event_tables") by
    their name ("events:create_event_tables"): the name already held the function, so nothing reruns."""
    for (old,) in db.execute("SELECT name FROM _migrations").fetchall():
        match = _NUMBERED.match(old)
        if match:
            new = f"{match[1]}:{match[2]}"
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [new]).fetchone():
                db.execute("DELETE FROM _migrations WHERE name = ?", [old])
            else:
                db.execute("UPDATE _migrations SET name = ? WHERE name = ?", [new, old])


def migration_names(migrations: Migrations) -> list[str]:
    """The recorded name of every migration, in order; ValueError if two share a name."""
    names = [f"{concept}:{fn.__name__}" for concept, fns in migrations for fn in fns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"migration names must be unique: {', '.join(duplicates)}")
    return names


def apply_migrations(db: sqlite_utils.Database, migrations: Migrations) -> list[str]:
    """Run every migration not yet recorded; return the names of those that ran."""
    names = migration_names(migrations)
    fns = [fn for _, concept_fns in migrations for fn in concept_fns]
    ran = []
    with _migrate_lock:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        if any(_NUMBERED.match(row[0]) for row in db.execute("SELECT name FROM _migrations").fetchall()):
            with transaction(db):  # once per database: the write lock only when there is something to rename
                _rename_numbered(db)
        done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
        for name, fn in zip(names, fns, strict=True):
            if name in done:
                continue
            with transaction(db):  # a migration and its record land together
                fn(db)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, now_iso()])
            ran.append(name)
    return ran
