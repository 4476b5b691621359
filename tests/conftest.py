"""Fixture ladder: fixture docs → a real index in tmp_path → a real app and SQLite file → client/runner.

Live-server fixtures start the real `kb serve` (waitress) in a subprocess on a free port.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from indexer.build import build_full
from kbserver import create_app

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"
REAL_DOCS = ROOT / "docs"


def form_token(client, path="/login") -> str:
    """The CSRF token of the form on path (a page of the back office)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def signed_in_client(app, name: str, password: str):
    """A test client of app signed in as name."""
    client = app.test_client()
    client.post("/login", data={"name": name, "password": password, "csrf_token": form_token(client)})
    return client


def error_banners(response) -> list[str]:
    """The texts of the red error banners on a page."""
    page = response.get_data(as_text=True)
    return [html.unescape(text) for text in re.findall(r'<div class="flash error"[^>]*>(.*?)</div>', page, re.S)]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 at its production 64 MiB per hash was a third of the suite's time: tests hash at 1 MiB."""
    from analytics import accounts

    patch = pytest.MonkeyPatch()
    patch.setenv("KB_PASSWORD_HASH_COST", "1")  # apps and `kb serve` subprocesses started by tests
    patch.setattr(accounts, "DEFAULT_HASH_COST", 1)  # library calls in tests (accounts.create_user(db, ...))
    yield
    patch.undo()


@pytest.fixture
def docs_dir(tmp_path) -> Path:
    """A writable copy of the small fixture docs (one of them has broken front matter)."""
    target = tmp_path / "docs"
    shutil.copytree(FIXTURE_DOCS, target)
    return target


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def built(docs_dir, data_dir) -> Path:
    """The fixture docs indexed into data_dir; returns data_dir."""
    build_full(docs_dir, data_dir)
    return data_dir


@pytest.fixture
def app(docs_dir, built, database_url):
    app = create_app({"docs": docs_dir, "data": built, "database_url": database_url})
    yield app
    app.extensions["kb_events"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def flush(app):
    """Call to wait until the app's queued events are in SQLite; returns an open sqlite-utils db."""
    from kbserver.db import open_db

    def _flush():
        app.extensions["kb_events"].flush()
        return open_db(app.config["KB"]["database_url"])

    return _flush


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """The starter docs indexed once per test session (read-only for tests)."""
    data = tmp_path_factory.mktemp("real") / "data"
    build_full(REAL_DOCS, data)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real `kb serve` process; stop() sends SIGTERM and waits, like systemd or Ctrl-C would."""

    def __init__(self, docs: Path, data: Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KB_DOCS": str(docs), "KB_DATA": str(data), "KB_PORT": str(self.port),
               "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.log = data.parent / f"serve-{self.port}.log"
        data.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "kbserver.cli", "serve"], env=env, cwd=ROOT,
                                     stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kb serve exited: {self.log.read_text()}")
            try:
                if requests.get(self.url + "/api/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kb serve did not come up: {self.log.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def live_site(tmp_path_factory):
    """`kb serve` on the starter docs (site built on first start), shared by the browser tests."""
    root = tmp_path_factory.mktemp("live")
    docs = root / "docs"
    shutil.copytree(REAL_DOCS, docs)  # publishing tests write into docs/practices: never the repository's
    data = root / "data"
    server = LiveServer(docs, data)
    server.data = data
    yield server
    server.stop()


# Debian's chromium, never a downloaded one; the flags keep it offline and quiet on a CI machine.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """One headless chromium (Playwright) shared by every browser test; each test opens its own context."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh Chinese-locale browser page; alerts and confirms are dismissed and kept in page.dialogs."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


# -- PostgreSQL: a real server for the storage-contract tests and the API tests on KB_TEST_BACKEND=postgresql --
TEST_BACKEND = os.environ.get("KB_TEST_BACKEND", "sqlite")
if TEST_BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"KB_TEST_BACKEND must be sqlite or postgresql, got {TEST_BACKEND!r}")


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: $KB_PG_BINDIR, Debian's /usr/lib/postgresql/<newest>/bin, or pg_config --bindir."""
    candidates = [os.environ.get("KB_PG_BINDIR", "")]
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0, reverse=True)
    if shutil.which("pg_config"):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


class PostgresServer:
    """A throwaway PostgreSQL: initdb into a temporary folder, a free port on 127.0.0.1, stopped by stop().

    initdb refuses to run as root: as root the server runs as the `postgres` account Debian's package creates.
    fsync is off (only kb serve is killed in tests, never this server), so CREATE DATABASE takes milliseconds.
    """

    PASSWORD = "kb-test-password"

    def __init__(self, bindir: Path):
        import tempfile

        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="kb-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.log = self.folder / "server.log"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        password = self.folder / "password"
        password.write_text(self.PASSWORD + "\n")
        if self._as:
            shutil.chown(self.folder, "postgres")
            shutil.chown(password, "postgres")
        # A password over TCP (scram), as in production, so a wrong one can be tested; C collation = SQLite's order.
        self._run("initdb", "-D", str(self.data), "-U", "kb", f"--pwfile={password}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N")
        self._options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                         "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self.resume()
        self.url = f"postgresql://kb:{self.PASSWORD}@127.0.0.1:{self.port}"
        self._count = 0
        self._template = None

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{log}")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, prefix: str = "kb", migrated: bool = False) -> str:
        """A new database, empty or (migrated=True) copied from one with kb's migrations applied; returns its URL."""
        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        template = ""
        if migrated:
            if self._template is None:  # migrating takes ~1.5 s, copying a migrated database ~40 ms
                from indexer.postgres import close_idle
                from kbserver.db import open_db

                self._template = "kb_migrated"
                self.admin(f'CREATE DATABASE "{self._template}"')
                open_db(f"{self.url}/{self._template}").conn.close()
                close_idle(f"{self.url}/{self._template}")  # a database being copied must have no connections
            template = f' TEMPLATE "{self._template}"'
        self.admin(f'CREATE DATABASE "{name}"{template}')
        return f"{self.url}/{name}"

    def empty(self, url: str) -> None:
        """Delete every row of every kb table (migrations stay): each test starts as on a fresh database."""
        import psycopg

        with psycopg.connect(url, autocommit=True, options="-c lock_timeout=30s") as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                                 "AND tablename != '_migrations'")]
            if tables:
                conn.execute(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in tables)} RESTART IDENTITY CASCADE")

    def drop_database(self, url: str) -> None:
        """Drop the database at url (its connections are ended first)."""
        from indexer.postgres import close_idle

        close_idle(url)
        name = url.rsplit("/", 1)[1]
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pause(self) -> None:
        """Stop the server, keeping its data (resume() starts it again on the same port)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start (or start again) the server."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL for this session (started on first use). Skipped only without binaries and not under CI."""
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no PostgreSQL binaries (initdb, pg_ctl) found: .ci/run installs postgresql-15")
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql-15 to run these tests")
    server = PostgresServer(bindir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_database(request):
    """A fresh migrated PostgreSQL database for this test module; dropped after it."""
    server = request.getfixturevalue("postgres_server")
    url = server.create_database(migrated=True)
    yield url
    server.drop_database(url)


@pytest.fixture(scope="module", autouse=True)
def _postgres_for_the_module(request):
    """Under KB_TEST_BACKEND=postgresql: KB_DATABASE_URL names the module's database from before its first
    fixture, so apps, `kb` commands and `kb serve` subprocesses all use PostgreSQL."""
    if TEST_BACKEND != "postgresql":
        yield None
        return
    url = request.getfixturevalue("module_database")
    patch = pytest.MonkeyPatch()
    patch.setenv("KB_DATABASE_URL", url)
    yield url
    patch.undo()


@pytest.fixture(autouse=True)
def _postgres_for_every_store(request, _postgres_for_the_module):
    """Each test starts with the module's PostgreSQL tables empty, as it would with a new SQLite file; except in
    modules that build a module-scoped instance (its rows belong to the whole module, as its SQLite file does)."""
    url = _postgres_for_the_module
    if url and not _module_shares_an_instance(request):
        request.getfixturevalue("postgres_server").empty(url)
    return url


def _module_shares_an_instance(request) -> bool:
    module_id = request.node.nodeid.split("::")[0]
    return any(fd.scope in ("module", "class", "package") and fd.baseid == module_id
               for defs in request._fixturemanager._arg2fixturedefs.values() for fd in defs)


def store_url(data: Path) -> str:
    """The database a `kb serve` or `kb` command on data uses in this test: KB_DATABASE_URL, else <data>/kb.db."""
    return os.environ.get("KB_DATABASE_URL") or f"sqlite:///{data}/kb.db"


@pytest.fixture
def database_url(_postgres_for_every_store, data_dir) -> str:
    """The test's database: PostgreSQL under KB_TEST_BACKEND=postgresql, else SQLite in data_dir."""
    if _postgres_for_every_store:
        return _postgres_for_every_store
    return "sqlite:///" + str((data_dir / "kb.db").resolve())
