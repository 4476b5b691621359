"""kb's PostgreSQL backend: a thin database object offering the part of sqlite-utils' API kb uses.

Why this shape (and not SQLAlchemy, or a second copy of every query): kb's SQL is small and plain, and
each feature module owns its own. Written portably where that is cheap (timestamps computed in Python
with the project clock, ``ON CONFLICT``, ``RETURNING id``, ``COALESCE``, ``CASE`` instead of summing
booleans), the same statements run on both engines; what is left differs only in spelling and is
translated here, once per statement text (cached):

- placeholders: ``?`` → ``%s`` and ``:name`` → ``%(name)s`` outside quotes, and every literal ``%`` → ``%%``;
- ``INSERT OR IGNORE INTO …`` → ``INSERT INTO … ON CONFLICT DO NOTHING``;
- ``BEGIN IMMEDIATE`` → ``BEGIN`` plus a transaction-scoped advisory lock (see ``WRITE_LOCK``);
- DDL types: ``INTEGER PRIMARY KEY`` → ``BIGSERIAL PRIMARY KEY``, ``INTEGER`` → ``BIGINT``,
  ``REAL``/``FLOAT`` → ``DOUBLE PRECISION`` (PostgreSQL's REAL is 4 bytes: a Unix time would lose
  minutes), ``BLOB`` → ``BYTEA``;
- ``PRAGMA …`` is a no-op (durability is PostgreSQL's ``synchronous_commit``, on by default).

Errors are raised as the DB-API classes of :mod:`sqlite3` (``IntegrityError``, ``OperationalError``,
``DataError``…), so feature modules catch one set whatever the backend. Values come back as SQLite
gives them: ``numeric`` sums as int (or float), booleans in parameters as 0/1.

This module imports no other kb package: it sits at the bottom with the store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import select
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import unquote, urlparse

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus

from .errors import KBError
from .i18n import N_

# One writer at a time inside transaction(db), like SQLite's BEGIN IMMEDIATE: blocks that read, check,
# then write (claims, compare-and-set, "not the last manager") stay correct across processes and nodes.
WRITE_LOCK = 0x6B62_0001
MIGRATION_LOCK = 0x6B62_0002
CONNECT_TIMEOUT = 10
# Like SQLite's busy_timeout: a writer waits this long for the write lock, then gets OperationalError.
LOCK_TIMEOUT = "30s"


class DatabaseUnavailable(sqlite3.OperationalError):
    """The database server cannot be reached (down, restarting, network): worth waiting for, not a bad row."""


def is_postgres_url(url: str) -> bool:
    """True for postgresql:// and postgres:// URLs."""
    return isinstance(url, str) and url.split("://", 1)[0].lower() in ("postgresql", "postgres")


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    parsed = urlparse(url)
    netloc = parsed.hostname or ""
    port = parsed.netloc.rsplit("@", 1)[-1].rpartition(":")[2] if ":" in parsed.netloc.rsplit("@", 1)[-1] else ""
    if port:
        netloc += f":{port}"
    if parsed.username:
        netloc = f"{unquote(parsed.username)}@{netloc}"
    return f"{parsed.scheme}://{netloc}{parsed.path}"


class BadURL(KBError, ValueError):
    """A postgresql:// URL kb cannot use (a ValueError too, for callers that only know the standard library)."""


class CannotConnect(ConnectionError):
    """The server refused or did not answer; database (the URL without its password) and libpq's reason."""

    def __init__(self, database: str, reason: str):
        super().__init__(f"cannot connect to {database}: {reason}")
        self.database, self.reason = database, reason


def check_url(url: str) -> None:
    """BadURL (a ValueError) naming what is wrong with a postgresql:// URL (no database, bad port)."""
    parsed = urlparse(url)
    try:
        parsed.port  # noqa: B018 — raises ValueError on a port that is not a number
    except ValueError:
        raise BadURL(N_("数据库地址 %(url)r 里的端口不是数字"), url=describe(url)) from None
    if not parsed.path.strip("/"):
        raise BadURL(N_("数据库地址 %(url)r 没有指定数据库：请写成 postgresql://user:password@host:5432/kb"),
                     url=describe(url))


class _NumericLoader(Loader):
    # SUM() of a bigint column is numeric in PostgreSQL: give back int (or float), as SQLite does.
    def load(self, data):
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class _Pool:
    """Idle connections to one URL, reused: kb opens a connection per request, and a new PostgreSQL
    connection (a server process, SCRAM authentication) costs ~5-40 ms where opening SQLite costs ~0.1 ms."""

    SIZE = 16
    CHECK_AFTER = 30.0  # seconds idle after which a connection is tested before reuse (the server may have restarted)

    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: list[tuple[psycopg.Connection, float]] = []

    def take(self) -> psycopg.Connection | None:
        while True:
            with self.lock:
                if not self.idle:
                    return None
                raw, since = self.idle.pop()
            if raw.closed or _has_input(raw):  # an idle connection the server ended (restart): its socket has EOF
                raw.close()
                continue
            if time.monotonic() - since > self.CHECK_AFTER:
                try:
                    raw.execute("SELECT 1")
                except psycopg.Error:
                    raw.close()
                    continue
            return raw

    def give(self, raw: psycopg.Connection) -> None:
        if not raw.closed and raw.info.transaction_status == TransactionStatus.INTRANS:
            raw.execute("ROLLBACK")
        if raw.closed or raw.info.transaction_status != TransactionStatus.IDLE:
            raw.close()
            return
        with self.lock:
            if len(self.idle) < self.SIZE:
                self.idle.append((raw, time.monotonic()))
                return
        raw.close()


def _has_input(raw: psycopg.Connection) -> bool:
    # Idle, autocommit, no LISTEN: nothing should arrive; something (an error, EOF) means the server hung up.
    try:
        return bool(select.select([raw.fileno()], [], [], 0)[0])
    except (OSError, ValueError, psycopg.Error):
        return True


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(url: str) -> _Pool:
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None or pool.pid != os.getpid():  # a forked child must not share its parent's sockets
            pool = _pools[url] = _Pool()
        return pool


def close_idle(url: str) -> None:
    """Close this process's idle connections to url (e.g. before the database is dropped or copied)."""
    with _pools_lock:
        pool = _pools.pop(url, None)
    if pool is not None and pool.pid == os.getpid():
        with pool.lock:
            idle, pool.idle = pool.idle, []
        for raw, _ in idle:
            raw.close()


def connect(url: str) -> PgConnection:
    """A connection to the database at url (autocommit, like sqlite-utils outside a transaction), reused
    from this process's idle ones when there is one; close() gives it back."""
    check_url(url)
    pool = _pool(url)
    raw = pool.take()
    if raw is not None:
        return PgConnection(raw, pool, url)
    return PgConnection(_new_raw(url), pool, url)


def _new_raw(url: str) -> psycopg.Connection:
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                              options=f"-c lock_timeout={LOCK_TIMEOUT}")
    except psycopg.Error as exc:
        raise CannotConnect(describe(url), _reason(exc)) from None
    raw.adapters.register_loader("numeric", _NumericLoader)
    return raw


def _reason(exc: psycopg.Error) -> str:
    # libpq's message spans lines ("connection failed: connection to server at …: FATAL:  password
    # authentication failed …\n\tIs the server running …"): keep the server's own words, on one line.
    text = str(exc).strip() or type(exc).__name__
    if "FATAL:" in text:
        return text.split("FATAL:", 1)[1].strip().splitlines()[0]
    return text.splitlines()[0].removeprefix("connection failed: ").strip()


# -- statement translation ---------------------------------------------------------------------
_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_DDL_TYPES = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\b(REAL|FLOAT|DOUBLE)\b(?!\s+PRECISION)", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
]


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str | None:
    """The PostgreSQL spelling of one of kb's SQLite statements; None for a statement with no equivalent (PRAGMA)."""
    text = sql.strip().rstrip(";")
    head = text.split(None, 2)
    first = head[0].upper() if head else ""
    if first == "PRAGMA":
        return None
    if first == "BEGIN":
        return "BEGIN"
    # Odd indexes are quoted literals or identifiers: their ? and :name are text. psycopg reads every % as a
    # placeholder, quoted or not, so a literal % is doubled everywhere.
    parts = [p.replace("%", "%%") for p in _QUOTED.split(text)]
    ddl = first in ("CREATE", "ALTER") and len(head) > 1 and head[1].upper() == "TABLE"
    for i in range(0, len(parts), 2):
        part = parts[i].replace("?", "%s")
        part = _NAMED.sub(r"%(\1)s", part)
        if ddl:
            for pattern, replacement in _DDL_TYPES:
                part = pattern.sub(replacement, part)
        parts[i] = part
    out = "".join(parts)
    if first == "INSERT" and re.match(r"INSERT\s+OR\s+IGNORE\s+INTO\b", out, re.I):
        out = re.sub(r"^INSERT\s+OR\s+IGNORE\s+INTO\b", "INSERT INTO", out, flags=re.I)
        returning = re.search(r"\sRETURNING\s", out, re.I)
        if returning:
            out = f"{out[:returning.start()]} ON CONFLICT DO NOTHING{out[returning.start():]}"
        else:
            out += " ON CONFLICT DO NOTHING"
    elif first == "INSERT" and re.match(r"INSERT\s+OR\s+\w+", out, re.I):
        raise sqlite3.NotSupportedError(f"no PostgreSQL equivalent for {text[:60]!r}: use ON CONFLICT")
    return out


def _params(params):
    if params is None:
        return []  # still a parameterised query: the %% translate() wrote must become % again
    if isinstance(params, dict):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return [int(v) if isinstance(v, bool) else v for v in params]


def _as_sqlite_error(exc: psycopg.Error) -> sqlite3.Error:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, (psycopg.OperationalError, pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
                        pg_errors.LockNotAvailable)):
        return sqlite3.OperationalError(message)
    if isinstance(exc, psycopg.DataError):
        return sqlite3.DataError(message)
    if isinstance(exc, psycopg.ProgrammingError):
        return sqlite3.ProgrammingError(message)
    return sqlite3.DatabaseError(message)


class PgCursor:
    """The part of a sqlite3 cursor kb reads: fetchone/fetchall/iteration, rowcount, description."""

    def __init__(self, cursor: psycopg.Cursor | None):
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def description(self):
        return self._cursor.description if self._cursor is not None else None

    @property
    def lastrowid(self):
        raise sqlite3.NotSupportedError("lastrowid is SQLite-only: write INSERT … RETURNING id and fetch it")

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor is not None and self._cursor.description else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor is not None and self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection behaving like the sqlite3 one kb uses: execute, commit, ``with conn:``."""

    def __init__(self, raw: psycopg.Connection, pool: _Pool | None = None, url: str = ""):
        self.raw = raw
        self._pool = pool
        self.url = url
        self._blocks: list[str | None] = []  # per open `with conn:`: None if it began the transaction, else a savepoint

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    def execute(self, sql: str, params=None) -> PgCursor:
        """Run one statement (SQLite spelling); errors come back as sqlite3's DB-API classes."""
        statement = translate(sql)
        if statement is None:
            return PgCursor(None)
        self._reconnect_if_lost()
        try:
            cursor = self.raw.execute(statement, _params(params))
            if statement == "BEGIN":
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        return PgCursor(cursor)

    def executemany(self, sql: str, rows) -> None:
        """Run one statement for each parameter row (pipelined by psycopg: one round trip for the batch)."""
        statement = translate(sql)
        self._reconnect_if_lost()
        try:
            with self.raw.cursor() as cur:
                cur.executemany(statement, [_params(r) for r in rows])
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _reconnect_if_lost(self) -> None:
        # A connection the server dropped (restart, network) is replaced before the next statement, outside
        # a transaction only: inside one, the lost work must fail, not half-continue on a new connection.
        if not self.url or self._blocks or self.in_transaction:
            return
        if self.raw.broken or self.raw.closed or _has_input(self.raw):  # _has_input: the server hung up while idle
            self.raw.close()
            try:
                self.raw = _new_raw(self.url)
            except ConnectionError as exc:
                raise DatabaseUnavailable(str(exc)) from None

    def _error(self, exc: psycopg.Error) -> sqlite3.Error:
        if self.raw.broken or self.raw.closed:
            return DatabaseUnavailable(f"lost the connection to {describe(self.url)}: {_reason(exc)}")
        return _as_sqlite_error(exc)

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        """Give the connection back to the pool (rolled back if a transaction was left open)."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None and not self._blocks:
                pool.give(self.raw)
            else:
                self.raw.close()
        except psycopg.Error:
            self.raw.close()

    # `with conn:` as in sqlite3 — the block lands together or not at all — but opening the transaction
    # itself (PostgreSQL runs in autocommit here) and without the write lock (event batches only insert).
    def __enter__(self) -> PgConnection:
        self._reconnect_if_lost()
        try:
            if self.in_transaction:
                name = f"kb_{secrets.token_hex(6)}"
                self.raw.execute(f"SAVEPOINT {name}")
            else:
                name = None
                self.raw.execute("BEGIN")
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        self._blocks.append(name)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        name = self._blocks.pop()
        if self.raw.closed or self.raw.broken:
            if exc_type is None:  # the commit cannot have happened
                raise DatabaseUnavailable(f"lost the connection to {describe(self.url)} before COMMIT")
            return False
        try:
            if name is None:
                self.raw.execute("COMMIT" if exc_type is None else "ROLLBACK")
            elif self.raw.info.transaction_status == TransactionStatus.INTRANS or exc_type is not None:
                if exc_type is None:
                    self.raw.execute(f"RELEASE {name}")
                else:
                    self.raw.execute(f"ROLLBACK TO {name}")
                    self.raw.execute(f"RELEASE {name}")
        except psycopg.Error as error:
            if exc_type is None:  # e.g. a deferred constraint, or the connection lost at COMMIT
                raise self._error(error) from error
        return False


class PgTable:
    """``db[name]``: the sqlite-utils table methods kb calls, in PostgreSQL."""

    def __init__(self, db: PgDatabase, name: str):
        self.db, self.name = db, name
        self.last_pk = None

    def _q(self) -> str:
        return _ident(self.name)

    # -- schema
    def create(self, columns: dict, pk=None, not_null=None, foreign_keys=None, if_not_exists: bool = False) -> PgTable:
        """CREATE TABLE with sqlite-utils' Python-type columns; an int pk named in pk becomes BIGSERIAL."""
        pks = [pk] if isinstance(pk, str) else list(pk or [])
        not_null = set(not_null or ())
        defs = []
        for col, kind in columns.items():
            if len(pks) == 1 and col == pks[0] and kind is int:
                defs.append(f"{_ident(col)} BIGSERIAL PRIMARY KEY")
                continue
            spec = f"{_ident(col)} {_pg_type(kind)}"
            if len(pks) == 1 and col == pks[0]:
                spec += " PRIMARY KEY"
            if col in not_null:
                spec += " NOT NULL"
            defs.append(spec)
        if len(pks) > 1:
            defs.append(f"PRIMARY KEY ({', '.join(_ident(p) for p in pks)})")
        for fk in foreign_keys or ():
            col, other, other_col = fk
            defs.append(f"FOREIGN KEY ({_ident(col)}) REFERENCES {_ident(other)} ({_ident(other_col)})")
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.conn.raw_execute(f"CREATE TABLE {exists}{self._q()} ({', '.join(defs)})")
        return self

    def create_index(self, columns, index_name: str | None = None, unique: bool = False,
                     if_not_exists: bool = False) -> PgTable:
        """CREATE INDEX named as sqlite-utils names it (idx_<table>_<columns>)."""
        name = index_name or f"idx_{self.name}_{'_'.join(columns)}"
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.conn.raw_execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {exists}{_ident(name)} ON {self._q()} "
                                 f"({', '.join(_ident(c) for c in columns)})")
        return self

    def add_column(self, name: str, col_type=None) -> PgTable:
        """ALTER TABLE … ADD COLUMN, typed from a Python type (text by default)."""
        self.db.conn.raw_execute(f"ALTER TABLE {self._q()} ADD COLUMN {_ident(name)} {_pg_type(col_type or str)}")
        return self

    @property
    def columns_dict(self) -> dict:
        """{column: Python type}, as sqlite-utils gives it (empty for a table that does not exist)."""
        kinds = {"bigint": int, "integer": int, "smallint": int, "double precision": float, "real": float,
                 "numeric": float, "bytea": bytes}
        rows = self.db.conn.raw_execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position", [self.name]).fetchall()
        return {name: kinds.get(kind, str) for name, kind in rows}

    # -- rows
    @property
    def pks(self) -> list[str]:
        if self.name not in self.db.pks:
            rows = self.db.conn.raw_execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY a.attnum",
                [_ident(self.name)]).fetchall()
            self.db.pks[self.name] = [r[0] for r in rows] or ["id"]
        return self.db.pks[self.name]

    def insert(self, record: dict) -> PgTable:
        """INSERT one row; last_pk is its primary key (generated or given)."""
        cols = list(record)
        pk = self.pks[0]
        sql = (f"INSERT INTO {self._q()} ({', '.join(_ident(c) for c in cols)}) VALUES ({', '.join('?' for _ in cols)}) "
               f"RETURNING {_ident(pk)}")
        row = self.db.execute(sql, list(record.values())).fetchone()
        self.last_pk = row[0] if row else None
        return self

    def insert_all(self, records) -> PgTable:
        """INSERT many rows with the same columns (one statement per row, one round trip per batch)."""
        records = list(records)
        if records:
            cols = list(records[0])
            sql = (f"INSERT INTO {self._q()} ({', '.join(_ident(c) for c in cols)}) "
                   f"VALUES ({', '.join('?' for _ in cols)})")
            self.db.conn.executemany(sql, [[r.get(c) for c in cols] for r in records])
        return self

    def update(self, pk_value, updates: dict | None = None) -> PgTable:
        """UPDATE the row whose primary key is pk_value; sqlite_utils NotFoundError if there is none."""
        from sqlite_utils.db import NotFoundError

        if not updates:
            return self
        sets = ", ".join(f"{_ident(c)} = ?" for c in updates)
        cursor = self.db.execute(f"UPDATE {self._q()} SET {sets} WHERE {_ident(self.pks[0])} = ?",
                                 [*updates.values(), pk_value])
        if cursor.rowcount == 0:
            raise NotFoundError(f"no {self.name} row with {self.pks[0]} {pk_value!r}")
        self.last_pk = pk_value
        return self

    def get(self, pk_value) -> dict:
        """The row whose primary key is pk_value; sqlite_utils NotFoundError if there is none."""
        from sqlite_utils.db import NotFoundError

        rows = list(self.rows_where(f"{_ident(self.pks[0])} = ?", [pk_value]))
        if not rows:
            raise NotFoundError(f"no {self.name} row with {self.pks[0]} {pk_value!r}")
        return rows[0]

    def rows_where(self, where: str | None = None, where_args=None, order_by: str | None = None, select: str = "*",
                   limit: int | None = None, offset: int | None = None) -> Iterator[dict]:
        """Rows as dicts, as sqlite-utils' rows_where gives them."""
        sql = f"SELECT {select} FROM {self._q()}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset is not None:
            sql += f" OFFSET {int(offset)}"
        yield from self.db.query(sql, where_args)

    @property
    def rows(self) -> Iterator[dict]:
        return self.rows_where()

    def count_where(self, where: str | None = None, where_args=None) -> int:
        """How many rows match where."""
        sql = f"SELECT COUNT(*) FROM {self._q()}" + (f" WHERE {where}" if where else "")
        return self.db.execute(sql, where_args).fetchone()[0]

    @property
    def count(self) -> int:
        return self.count_where()

    def exists(self) -> bool:
        return self.name in self.db.table_names()


class PgDatabase:
    """The database object kb's store hands out for a postgresql:// URL (sqlite-utils' Database subset)."""

    backend = "postgresql"

    def __init__(self, conn: PgConnection, url: str):
        self.conn = conn
        self.url = url
        self.pks: dict[str, list[str]] = {}  # primary key columns per table, looked up once per connection

    def __getitem__(self, name: str) -> PgTable:
        return PgTable(self, name)

    def execute(self, sql: str, params=None) -> PgCursor:
        """Run one statement; committed at once unless a transaction is open (as in sqlite-utils 4)."""
        return self.conn.execute(sql, params)

    def query(self, sql: str, params=None) -> Iterator[dict]:
        """Rows as dicts."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))

    def table_names(self) -> list[str]:
        """Tables in the current schema."""
        return [r[0] for r in self.conn.raw_execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]

    @contextlib.contextmanager
    def session_lock(self, key: int) -> Iterator[None]:
        """Hold a session-level advisory lock (e.g. while migrating): other processes wait for it."""
        self.conn.raw_execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            if not self.conn.raw.closed:
                self.conn.raw_execute("SELECT pg_advisory_unlock(%s)", [key])


def _raw_execute(self: PgConnection, sql: str, params=None) -> PgCursor:
    """Run PostgreSQL-spelled SQL as is (used by the table methods); errors as sqlite3's classes."""
    self._reconnect_if_lost()
    try:
        return PgCursor(self.raw.execute(sql, _params(params)))
    except psycopg.Error as exc:
        raise self._error(exc) from exc


PgConnection.raw_execute = _raw_execute


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_type(kind) -> str:
    if isinstance(kind, str):
        return translate(f"CREATE TABLE t (c {kind})").split("(c ", 1)[1][:-1]
    return {int: "BIGINT", float: "DOUBLE PRECISION", str: "TEXT", bytes: "BYTEA", bool: "BIGINT"}.get(kind, "TEXT")
