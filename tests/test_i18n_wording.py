"""Small wording defects an audit of the back office found: each reads right now, in both languages."""

from __future__ import annotations

import re
import struct

import pytest

from analytics import accounts, notifications
from indexer.i18n import using
from kbserver.db import open_db


@pytest.fixture
def manager(app, client):
    """The client signed in as a manager."""
    db = open_db(app.config["KB"]["database_url"])
    _, password, _ = accounts.create_user(db, "wording", "manager")
    db.conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"name": "wording", "password": password, "csrf_token": token}).status_code == 302
    return client


def test_the_favicon_answers_at_the_sites_root(client):
    """Browsers and bookmarks ask /favicon.ico whatever a page links: an icon, not the site's 404."""
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.mimetype == "image/vnd.microsoft.icon"
    icon = answer.data
    reserved, kind, count = struct.unpack("<HHH", icon[:6])
    assert (reserved, kind) == (0, 1) and count >= 2  # an .ico with several sizes
    sizes = []
    for i in range(count):
        width, _, _, _, _, _, length, offset = struct.unpack("<BBBBHHII", icon[6 + 16 * i: 22 + 16 * i])
        assert icon[offset: offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + length <= len(icon)
        sizes.append(width)
    assert {16, 32} <= set(sizes)
    assert "max-age" in answer.headers["Cache-Control"]


def test_an_english_e_mail_names_the_summary_and_the_reviewers_note_differently():
    """说明 (a submission's summary) and 备注 (a reviewer's note) were both "Note" in English."""
    data = {"title": "Kanban lanes", "summary": "lanes by owner", "note": "add a screenshot", "author": "vipco"}
    with using("en"):
        _, body = notifications._message("submission.changes_requested", data)
    labels = [line.split(":")[0] for line in body.splitlines() if ": " in line]
    assert "Summary: lanes by owner" in body and "Note: add a screenshot" in body, body
    assert len(labels) == len(set(labels)), body
    with using("zh"):
        _, body = notifications._message("submission.changes_requested", data)
    assert "说明：lanes by owner" in body and "备注：add a screenshot" in body


def test_the_questions_page_names_the_reason_in_words(app, manager):
    page = manager.get("/questions").get_data(as_text=True)
    assert "原因：找不到答案，提交了问题" in page and "asked" not in page


def test_english_page_titles_start_with_a_capital(app, manager):
    app.config["KB"]["language"] = "en"
    try:
        for path in ("/synonyms", "/questions", "/review", "/users", "/notifications", "/edit", "/dashboard"):
            title = re.search(r"<title>\s*(.*?)\s*</title>", manager.get(path).get_data(as_text=True), re.S).group(1)
            assert title[:1].isupper(), (path, title)
    finally:
        app.config["KB"]["language"] = "zh"
