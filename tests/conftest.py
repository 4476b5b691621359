"""Fixture ladder: fixture docs → a real index in tmp_path → a real app and SQLite file → client/runner.

Live-server fixtures start the real `kb serve` (waitress) in a subprocess on a free port.
"""

from __future__ import annotations

import os
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
def app(docs_dir, built):
    app = create_app({"docs": docs_dir, "data": built})
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
