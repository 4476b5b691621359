"""Trust: bad input is a 4xx never a 500, security headers on every answer, private files, counted visits."""

import os
import re
import stat

import pytest

from analytics import accounts
from kbserver import create_app
from kbserver.cli import cli
from kbserver.db import open_db

NESTED = "[" * 100_000 + "]" * 100_000
NESTED_OBJECT = '{"note": ' + "[" * 5000 + "]" * 5000 + "}"


@pytest.fixture
def db(app):
    return open_db(app.config["KB"]["database_url"])


@pytest.fixture
def tokens(db):
    out = {}
    for name, role in (("agent1", "agent"), ("wang", "manager"), ("acme", "vip")):
        _, _, token = accounts.create_user(db, name, role)
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


@pytest.fixture
def fake_site(built):
    """A tiny built site (index, a page, a 404 page) where `kb build` would put one."""
    root = built / "site-test"
    (root / "import" / "excel-import").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>home</title><script>var a = 1;</script>", encoding="utf-8")
    (root / "import" / "excel-import" / "index.html").write_text("<title>page</title>", encoding="utf-8")
    (root / "404.html").write_text("<title>404</title>", encoding="utf-8")
    (built / "site").symlink_to(root.name)
    return root


def _post(client, path, data, headers):
    return client.post(path, data=data, content_type="application/json", headers=headers)


# -- defect 8: 500s where a 4xx is due -----------------------------------------------------------------------------
@pytest.mark.parametrize("path,who", [
    ("/api/flags/1", "wang"), ("/api/contrib/submissions/1/approve", "wang"), ("/api/contrib/submissions/1/comments", "acme"),
    ("/api/contrib/submissions", "acme"), ("/api/contrib/preview", "acme"), ("/api/agent/links", "agent1"),
    ("/api/feedback", None),
])
@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT], ids=["array", "in-a-field"])
def test_deeply_nested_json_is_a_400_on_every_action(client, tokens, path, who, body):
    r = _post(client, path, body, tokens[who] if who else {})
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert "nested" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("path,who,body", [
    ("/api/agent/links", "agent1", '{"ticket_id": "T1", "slug": "import/excel-import", "phrases": ["\\ud800"]}'),
    ("/api/flags/1", "wang", '{"state": "resolved", "version": 1, "note": "\\udfff"}'),
    ("/api/contrib/submissions/1/reject", "wang", '{"note": "bad \\ud800 note"}'),
    ("/api/contrib/submissions/1/comments", "acme", '{"body": "\\ud800"}'),
    ("/api/agent/suggest", "agent1", '{"phrases": ["\\ud800"]}'),
    ("/api/contrib/similar", "acme", '{"title": "x", "\\ud800": 1}'),
])
def test_lone_surrogates_anywhere_in_a_json_body_are_a_400(client, tokens, path, who, body):
    r = _post(client, path, body, tokens[who])
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert "Unicode" in r.get_json()["error"]["message"]


def test_the_refused_link_is_not_stored(client, tokens, db):
    _post(client, "/api/agent/links", '{"ticket_id": "T1", "slug": "import/excel-import", "phrases": ["\\ud800"]}',
          tokens["agent1"])
    assert db["agent_links"].count == 0


def test_moderate_nesting_and_paired_surrogates_are_fine(client, tokens):
    r = _post(client, "/api/contrib/preview", '{"body": "emoji \\ud83d\\ude00", "x": [[[[1]]]]}', tokens["acme"])
    assert r.status_code == 200 and "\U0001f600" in r.get_json()["html"]


@pytest.mark.parametrize("body", ['{"body": null}', '{"body": 5}', '{"body": ["x"]}'])
def test_preview_of_something_that_is_not_text_is_a_400(client, tokens, body):
    r = _post(client, "/api/contrib/preview", body, tokens["acme"])
    assert r.status_code == 400 and "body" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("path", ["/a%00b", "/%00", "/import/%00/", "/" + "x" * 8000, "/import/" + "y" * 8000 + "/",
                                  "/" + "/".join(["z" * 200] * 40)])
def test_nul_bytes_and_overlong_site_paths_are_404(client, fake_site, path):
    r = client.get(path)
    assert r.status_code == 404 and "<title>404</title>" in r.get_data(as_text=True)
    assert client.get("/import/excel-import/").status_code == 200


def test_site_pages_still_answer_conditional_requests(client, fake_site):
    first = client.get("/import/excel-import/")
    again = client.get("/import/excel-import/", headers={"If-None-Match": first.headers["ETag"]})
    assert first.status_code == 200 and again.status_code == 304 and "Content-Security-Policy" in again.headers


@pytest.mark.parametrize("path", ["/api/articles/a%00b", "/api/articles/" + "x" * 8000])
def test_nul_bytes_and_overlong_slugs_in_the_api_are_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


# -- defect 9: headers and files ----------------------------------------------------------------------------------
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
                    "Referrer-Policy": "same-origin"}


def _assert_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp and "base-uri 'self'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    return csp


def test_every_kind_of_answer_carries_the_security_headers(client, tokens, fake_site):
    for r in (client.get("/api/search?q=excel"), client.get("/api/nothing"), client.post("/api/feedback", data="x"),
              client.get("/login"), client.get("/dashboard"), client.get("/dashboard", headers=tokens["agent1"]),
              client.get("/agent", headers=tokens["agent1"]), client.get("/"), client.get("/no/such/page/"),
              client.get("/a%00b")):
        _assert_security_headers(r)


def test_inline_scripts_of_server_pages_carry_the_pages_nonce(client, tokens):
    r = client.get("/agent", headers=tokens["agent1"])
    nonce = re.search(r"'nonce-([^']+)'", _assert_security_headers(r)).group(1)
    scripts = re.findall(r"<script([^>]*)>", r.get_data(as_text=True))
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)
    again = re.search(r"'nonce-([^']+)'", client.get("/agent", headers=tokens["agent1"]).headers["Content-Security-Policy"])
    assert again.group(1) != nonce  # a new nonce per answer


def test_inline_scripts_of_the_static_site_are_allowed_by_hash_only(client, fake_site):
    import base64
    import hashlib

    csp = _assert_security_headers(client.get("/"))
    digest = base64.b64encode(hashlib.sha256(b"var a = 1;").digest()).decode()
    assert f"'sha256-{digest}'" in csp and "'nonce-" not in csp


def test_session_cookies_are_secure_only_when_the_setting_says_so(docs_dir, built, db):
    password = "pw-" + "s" * 12
    user, _, _ = accounts.create_user(db, "wang", "manager")
    db["users"].update(user["id"], {"password_hash": accounts._hasher.hash(password)})
    for secure in (False, True):
        app = create_app({"docs": docs_dir, "data": built, "secure_cookies": secure})
        try:
            client = app.test_client()
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
            r = client.post("/login", data={"name": "wang", "password": password, "csrf_token": token})
            cookies = r.headers.getlist("Set-Cookie") + client.get("/api/search?q=x").headers.getlist("Set-Cookie")
            assert {c.split("=", 1)[0] for c in cookies} >= {"kb_session", "kb_sid"}
            assert all(("; Secure" in c) is secure for c in cookies), cookies
        finally:
            app.extensions["kb_events"].close()


def test_secure_cookies_setting_reads_its_environment_variable():
    from kbserver.settings import load_settings

    assert load_settings({}, environ={"KB_SECURE_COOKIES": "1"})["secure_cookies"] is True
    assert load_settings({}, environ={})["secure_cookies"] is False
    with pytest.raises(Exception, match="KB_SECURE_COOKIES"):
        load_settings({}, environ={"KB_SECURE_COOKIES": "maybe"})


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_folder_and_database_files_are_private(docs_dir, tmp_path):
    old = os.umask(0o022)  # the usual umask: files would be world-readable
    try:
        data = tmp_path / "fresh-data"
        app = create_app({"docs": docs_dir, "data": data})
        db = open_db(app.config["KB"]["database_url"])
        db["probe"].insert({"x": 1})  # the WAL and shared-memory files exist while a connection is open
        assert _mode(data) == 0o700
        for name in ("kb.db", "kb.db-wal", "kb.db-shm", "secret.key"):
            assert (data / name).exists() and _mode(data / name) == 0o600, (name, oct(_mode(data / name)))
        app.extensions["kb_events"].close()
    finally:
        os.umask(old)


def test_a_database_elsewhere_gets_a_private_folder_and_file(tmp_path):
    old = os.umask(0o022)
    try:
        db = open_db(f"sqlite:///{tmp_path}/elsewhere/sub/kb.db")
        db["probe"].insert({"x": 1})
        assert _mode(tmp_path / "elsewhere" / "sub") == 0o700
        assert all(_mode(tmp_path / "elsewhere" / "sub" / n) == 0o600 for n in ("kb.db", "kb.db-wal", "kb.db-shm"))
    finally:
        os.umask(old)


def test_secret_key_on_the_command_line_warns_that_ps_shows_it(runner):
    result = runner.invoke(cli, ["serve", "--secret-key", "abc", "--threads", "0"])
    assert result.exit_code == 1
    warning = [line for line in result.output.splitlines() if line.startswith("警告")]
    assert len(warning) == 1 and "ps" in warning[0] and "KB_SECRET_KEY" in warning[0] and "secret.key" in warning[0]
    result = runner.invoke(cli, ["serve", "--threads", "0"], env={"KB_SECRET_KEY": "abc"})
    assert result.exit_code == 1 and "警告" not in result.output


# -- defect 10 (first item): visits per link per address ------------------------------------------------------------
def test_a_visit_counts_once_per_address_whatever_the_browser_id(client, tokens, db):
    link = client.post("/api/agent/links", headers=tokens["agent1"],
                       json={"ticket_id": "ZD-5", "slug": "import/excel-import"}).get_json()
    visit = {"ref": link["ref"], "slug": "import/excel-import"}
    counted = []
    for i in range(20):
        customer = client.application.test_client()
        r = customer.post("/api/agent/visit", json=visit, headers={"User-Agent": f"browser-{i}", "X-KB-Session": f"s{i}"},
                          environ_base={"REMOTE_ADDR": "203.0.113.7"})
        counted.append(r.get_json()["counted"])
    assert counted == [True] + [False] * 19
    other = client.post("/api/agent/visit", json=visit, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.get_json()["counted"] is True
    assert client.get("/api/agent/links", headers=tokens["agent1"]).get_json()["links"][0]["visits"] == 2
    stored = [row["session"] for row in db["link_visits"].rows]
    assert not any("203.0.113.7" in s or "198.51.100.9" in s for s in stored)  # addresses are not kept in clear


def test_a_missing_index_does_not_tell_the_internet_where_the_data_folder_is(tmp_path):
    from kbserver import create_app

    data = tmp_path / "secret-data-folder"
    app = create_app({"docs": tmp_path / "docs", "data": data, "database_url": f"sqlite:///{tmp_path}/kb.db",
                      "secret_key": "k" * 32})
    answer = app.test_client().get("/api/search?q=导入", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 503
    assert "secret-data-folder" not in answer.get_data(as_text=True)
    assert answer.json["error"]["code"] == "index_missing" and "kb build" in answer.json["error"]["message"]
    assert answer.json["error"]["text"] == "帮助中心正在准备搜索索引，请稍后再试。"


def test_an_error_detail_json_cannot_encode_is_sent_as_text(tmp_path):
    """A front matter value YAML reads as a set or a date reaches the API as text, not a 500."""
    from indexer.errors import InvalidInput
    from kbserver import create_app

    app = create_app({"docs": tmp_path / "docs", "data": tmp_path / "data", "database_url": f"sqlite:///{tmp_path}/kb.db",
                      "secret_key": "k" * 32})

    @app.get("/api/boom")
    def boom():
        raise InvalidInput("review_every must be a whole number of days, got %(value)r", value={"a"})

    answer = app.test_client().get("/api/boom")
    assert answer.status_code == 400 and answer.json["error"]["value"] == "{'a'}"
