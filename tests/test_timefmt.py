"""Times on pages: the company's time zone, relative for the recent past, the exact time kept."""

import datetime as dt
import os
import re
import subprocess
import sys

import pytest
from flask_babel import force_locale

from analytics import accounts
from conftest import ROOT
from indexer.errors import InvalidInput
from kbserver.db import open_db
from kbserver.settings import load_settings
from kbserver.timefmt import time_zone, when

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)
SHANGHAI = time_zone("Asia/Shanghai")


@pytest.mark.parametrize("stored, shown", [
    ("2026-12-06T11:59:40.000Z", "刚刚"),
    ("2026-12-06T11:35:00Z", "25 分钟前"),
    ("2026-12-06 09:00:00", "3 小时前"),  # SQLite's datetime('now') form, UTC
    ("2026-12-04T12:00:00+00:00", "2 天前"),
    ("2026-11-01T03:26:22.089Z", "2026-11-01 11:26"),  # a date beyond a week, in Shanghai time (UTC+8)
])
def test_stored_utc_times_read_in_the_company_zone(stored, shown):
    html = str(when(stored, SHANGHAI, now=NOW))
    assert re.search(r">([^<]+)</time>", html).group(1) == shown
    assert 'title="' in html and "(Asia/Shanghai)" in html  # the exact local time on hover


@pytest.mark.parametrize("stored, chinese, english", [
    ("2026-12-06T11:59:00Z", "1 分钟前", "1 minute ago"),
    ("2026-12-06T11:57:00Z", "3 分钟前", "3 minutes ago"),
    ("2026-12-06T11:00:00Z", "1 小时前", "1 hour ago"),
    ("2026-12-06T09:00:00Z", "3 小时前", "3 hours ago"),
    ("2026-12-05T11:00:00Z", "1 天前", "1 day ago"),
    ("2026-12-04T12:00:00Z", "2 天前", "2 days ago"),
])
def test_relative_times_have_english_plurals_and_one_chinese_form(app, stored, chinese, english):
    shown = {}
    for language in ("zh", "en"):
        with app.test_request_context("/users"), force_locale(language):
            shown[language] = re.search(r">([^<]+)</time>", str(when(stored, SHANGHAI, now=NOW))).group(1)
    assert shown == {"zh": chinese, "en": english}


def test_another_zone_and_unreadable_values():
    assert ">2026-11-01 04:26<" in str(when("2026-11-01T03:26:22Z", time_zone("Europe/Berlin"), now=NOW))
    assert str(when("", SHANGHAI)) == "—" and str(when("<b>x</b>", SHANGHAI)) == "&lt;b&gt;x&lt;/b&gt;"


def test_an_unknown_zone_is_one_readable_error():
    with pytest.raises(InvalidInput, match="KB_TIME_ZONE") as bad:
        load_settings({"time_zone": "Mars/Olympus"})
    assert bad.value.message == ("time_zone (KB_TIME_ZONE) must be an IANA time zone such as Asia/Shanghai or UTC, "
                                 "got 'Mars/Olympus'")  # the API's and the log's English
    assert bad.value.details == {"zone": "Mars/Olympus"}


@pytest.mark.parametrize("language, line", ids=["zh", "en"], argvalues=[
    ("zh", "时区（KB_TIME_ZONE）要写 IANA 时区名，例如 Asia/Shanghai 或 UTC，现在是 'Mars/Olympus'"),
    ("en", "time_zone (KB_TIME_ZONE) must be an IANA time zone such as Asia/Shanghai or UTC, got 'Mars/Olympus'"),
])
def test_the_cli_says_an_unknown_zone_in_the_company_language(tmp_path, language, line):
    done = subprocess.run([sys.executable, "-m", "kbserver.cli", "serve", "--time-zone", "Mars/Olympus",
                           "--data", str(tmp_path / "data")], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "KB_LANGUAGE": language})
    assert done.returncode == 1 and line in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was written


def test_the_users_page_shows_creation_times_relative_in_chinese(app, client):
    db = open_db(app.config["KB"]["database_url"])
    user, password, _ = accounts.create_user(db, "wang", "manager")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": token})
    html = client.get("/users").get_data(as_text=True)
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+\(Asia/Shanghai\)\">(刚刚|\d+ 分钟前)</time>", html)
