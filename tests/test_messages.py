"""What the command line says about settings, the index and the analysis: Chinese by default, English when the
company sets KB_LANGUAGE=en; the API's error JSON stays English for programs either way."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from conftest import FIXTURE_DOCS
from kbserver import create_app
from kbserver.cli import cli

ENGLISH = {"KB_LANGUAGE": "en"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The fixture docs (one broken article) and a data folder indexed from them."""
    from indexer.build import build_full

    root = tmp_path_factory.mktemp("messages")
    shutil.copytree(FIXTURE_DOCS, root / "docs")
    build_full(root / "docs", root / "data")
    return {"docs": str(root / "docs"), "data": str(root / "data"), "root": root}


@pytest.mark.parametrize("env, chinese, english", [
    ({"KB_PORT": "0"}, "端口（KB_PORT）必须在 1 到 65535 之间，现在是 0。", "port must be between 1 and 65535, got 0"),
    ({"KB_SECURE_COOKIES": "maybe"},
     "secure_cookies（KB_SECURE_COOKIES）必须是 1/true/yes/on 或 0/false/no/off，现在是 'maybe'。",
     "secure_cookies (KB_SECURE_COOKIES) must be 1/true/yes/on or 0/false/no/off, got 'maybe'"),
    ({"KB_TIME_ZONE": "Mars/Olympus"}, "时区（KB_TIME_ZONE）要写 IANA 时区名，例如 Asia/Shanghai 或 UTC，现在是 'Mars/Olympus'",
     "time_zone (KB_TIME_ZONE) must be an IANA time zone such as Asia/Shanghai or UTC, got 'Mars/Olympus'"),
    ({"KB_EVENT_DURABILITY": "disk"}, "事件持久性（KB_EVENT_DURABILITY）必须是 'process' 或 'power'，现在是 'disk'。",
     "event_durability (KB_EVENT_DURABILITY) must be 'process' or 'power', got 'disk'"),
])
def test_a_bad_setting_is_one_line_in_the_company_language(folders, env, chinese, english):
    runner = CliRunner()
    said = runner.invoke(cli, ["stats", "--data", folders["data"]], env=env)
    assert said.exit_code == 1 and said.output.count("\n") == 1 and chinese in said.output, said.output
    said = runner.invoke(cli, ["stats", "--data", folders["data"]], env={**env, **ENGLISH})
    assert said.exit_code == 1 and said.output.count("\n") == 1 and english in said.output, said.output
    assert "Traceback" not in said.output


def test_setting_help_is_in_the_company_language():
    runner = CliRunner()
    chinese = runner.invoke(cli, ["serve", "--help"], terminal_width=400).output
    assert "`kb serve` 监听的端口。" in chinese and "Port `kb serve` listens on." not in chinese
    english = runner.invoke(cli, ["serve", "--help"], env=ENGLISH, terminal_width=400).output
    assert "Port `kb serve` listens on." in english and "监听的端口" not in english


def test_kb_index_says_what_it_did_in_the_company_language(folders):
    runner = CliRunner()
    env = {"KB_SEMANTIC_MODEL": "off"}
    first = runner.invoke(cli, ["index", "--full", "--docs", folders["docs"], "--data", folders["data"]], env=env)
    assert first.exit_code == 0, first.output
    assert "完整索引：新增 6 篇，修改 0 篇，删除 0 篇，未变 0 篇，用时 " in first.output
    assert "段落向量：已跳过，语义搜索已关闭（--semantic-model off）；搜索只按关键词" in first.output
    again = runner.invoke(cli, ["index", "--docs", folders["docs"], "--data", folders["data"]], env={**env, **ENGLISH})
    assert again.exit_code == 0, again.output
    assert "incremental index: 0 added, 0 changed, 0 removed, 6 unchanged in " in again.output
    assert "增量索引" not in again.output
    assert "semantic search is turned off (--semantic-model off)" in again.output


def test_kb_analyze_summary_follows_the_company_language(folders):
    runner = CliRunner()
    args = ["analyze", "--dry-run", "--docs", folders["docs"], "--data", folders["data"]]
    chinese = runner.invoke(cli, args, env={"KB_SEMANTIC_MODEL": "off"})
    assert chinese.exit_code == 0, chinese.output
    assert "失败的搜索：0" in chinese.output and "这段时间没有失败的搜索" in chinese.output
    english = runner.invoke(cli, args, env={"KB_SEMANTIC_MODEL": "off", **ENGLISH})
    assert english.exit_code == 0, english.output
    assert "failing searches: 0" in english.output and "no failing searches in this window" in english.output


def test_the_api_keeps_english_while_the_cli_speaks_chinese(folders):
    """The same InvalidInput: the CLI's line in the company's language, the API's JSON in English with its details."""
    said = CliRunner().invoke(cli, ["search", "   ", "--data", folders["data"]], env={"KB_SEMANTIC_MODEL": "off"})
    assert said.exit_code == 1 and "查询是空的：请输入几个词，例如 如何导入Excel数据" in said.output, said.output
    app = create_app({"docs": folders["docs"], "data": folders["data"], "semantic_model": "off", "language": "zh"})
    try:
        answer = app.test_client().get("/api/search", query_string={"q": "   "})
        assert answer.status_code == 400
        assert answer.json["error"]["message"] == "query is empty: type a few words, e.g. 如何导入Excel数据"
        too_long = app.test_client().get("/api/search", query_string={"q": "x" * 501}).json["error"]
        assert too_long["message"] == "query is too long (501 characters, at most 500)"
        assert too_long["length"] == 501 and too_long["max_length"] == 500
    finally:
        app.extensions["kb_events"].close()


def test_a_broken_article_is_reported_in_english_and_chinese(tmp_path):
    """ArticleError keeps its path and line, and says where in both languages."""
    from indexer.articles import parse_article
    from indexer.errors import ArticleError
    from indexer.i18n import using

    text = "---\ntitle: 甘特图\nreview_every: soon\n---\n# 甘特图\n"
    with pytest.raises(ArticleError) as caught:
        parse_article(text, "gantt.md")
    assert caught.value.message == "gantt.md:3: 'review_every' must be a whole number of days, got 'soon'"
    assert caught.value.path == "gantt.md" and caught.value.line == 3
    with using("zh"):
        assert caught.value.text == "gantt.md:3：review_every 必须是整数天数，现在是 'soon'"


def test_the_analyze_summary_names_its_codes_for_a_chinese_reader_and_keeps_them_in_english():
    from types import SimpleNamespace

    from analytics.analyze import AnalysisReport
    from indexer.i18n import using

    report = AnalysisReport(start="2026-12-01T00:00", period_start="2026-12-01T00:00", end="2026-12-07T00:00",
                            failed=9, queue={"opened": 2, "auto_resolved": 1}, fixes={"verified": 1})
    report.article_flags = [SimpleNamespace(reason="review_overdue")]
    with using("zh"):
        chinese = report.summary()
    assert "复核逾期 1" in chinese and "新开 2" in chinese and "自动解决 1" in chinese and "已见效 1" in chinese
    assert "review_overdue" not in chinese and "opened" not in chinese
    with using("en"):
        english = report.summary()
    assert "review_overdue 1" in english and "opened 2" in english and "verified 1" in english
