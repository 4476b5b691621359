"""`kb` as a person runs it: build, index, stats, search, serve, and readable errors."""

import json
import os
import shutil
import subprocess
import sys
import time

import requests

from conftest import ROOT, LiveServer, free_port
from kbserver.cli import cli


def test_build_makes_index_and_site_and_reports_broken_files(runner, docs_dir, data_dir):
    result = runner.invoke(cli, ["build", "--docs", str(docs_dir), "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "完整索引：新增 6 篇" in result.output and "站点：7 个页面" in result.output
    assert "警告：broken.md:4：前置信息（front matter）写错了" in result.output
    assert (data_dir / "site" / "import" / "excel-import" / "index.html").is_file()


def test_index_is_incremental_and_says_what_it_did(runner, docs_dir, built):
    (docs_dir / "import" / "csv-encoding.md").write_text("# CSV\n\nUTF-8。\n", encoding="utf-8")
    result = runner.invoke(cli, ["index", "--docs", str(docs_dir), "--data", str(built)])
    assert result.exit_code == 0, result.output
    assert "增量索引：新增 0 篇，修改 1 篇，删除 0 篇，未变 5 篇" in result.output
    assert "  修改：import/csv-encoding" in result.output


def test_settings_come_from_environment_variables(runner, docs_dir, data_dir):
    env = {"KB_DOCS": str(docs_dir), "KB_DATA": str(data_dir)}
    assert runner.invoke(cli, ["index"], env=env).exit_code == 0
    result = runner.invoke(cli, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"articles": 6, "searches": 0, "clicks": 0, "votes": 0}


def test_search_from_the_command_line(runner, built):
    result = runner.invoke(cli, ["search", "如何导入Excel数据", "--data", str(built)])
    assert result.exit_code == 0, result.output
    assert "import/excel-import" in result.output.splitlines()[1]


def test_errors_are_one_readable_line_not_a_traceback(runner, tmp_path, built):
    cases = [
        (["build", "--docs", str(tmp_path / "missing"), "--data", str(tmp_path / "d")], "KB_DOCS"),
        (["stats", "--data", str(tmp_path / "empty")], "kb build"),
        (["search", "   ", "--data", str(built)], "查询是空的"),
        (["stats", "--data", str(built), "--database-url", "mysql://x/kb"], "请写成 sqlite:///path/to/kb.db 或 postgresql://"),
        (["stats", "--data", str(built), "--database-url", "postgresql://kb:secret@x/kb"],
         "无法连接到 postgresql://kb@x/kb：failed to resolve host"),
        (["serve", "--port", "99999"], "端口（KB_PORT）必须在 1 到 65535 之间"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code != 0, args
        assert message in result.output and "Traceback" not in result.output, result.output


def test_bad_number_in_environment_is_explained(runner):
    result = runner.invoke(cli, ["serve"], env={"KB_PORT": "eighty"})
    assert result.exit_code == 1 and "KB_PORT" in result.output and "eighty" in result.output


def test_a_company_points_kb_at_its_own_docs(tmp_path):
    """Any folder of Markdown: nested, README/index pages, .mdx, no front matter, unknown keys."""
    docs = tmp_path / "their-docs"
    (docs / "billing" / "deep").mkdir(parents=True)
    (docs / "README.md").write_text("# Acme Help\n\nWelcome.\n", encoding="utf-8")
    (docs / "billing" / "index.md").write_text("# Billing\n\nInvoices are sent monthly.\n", encoding="utf-8")
    (docs / "billing" / "deep" / "refunds.mdx").write_text(
        "---\nweird_key: 1\n---\n# 退款流程\n\n提交退款申请后 5 个工作日内到账。\n", encoding="utf-8")
    data = tmp_path / "kbdata"
    server = LiveServer(docs, data)
    try:
        hits = requests.get(server.url + "/api/search", params={"q": "退款"}).json()["results"]
        assert (hits[0]["slug"], hits[0]["path"], hits[0]["title"]) == (
            "billing/deep/refunds", "billing/deep/refunds.mdx", "退款流程")
        # Once the background embedding is done, Billing may follow by meaning (invoices ~ refunds),
        # never by a word it does not contain.
        assert all(h["matched"] == ["meaning"] for h in hits[1:]), hits
        page = requests.get(server.url + "/billing/deep/refunds/")
        assert page.status_code == 200 and "退款流程" in page.text
        assert requests.get(server.url + "/").status_code == 200
        assert requests.get(server.url + "/no/such/page").status_code == 404
    finally:
        server.stop()


def test_serve_rebuilds_when_docs_changed(tmp_path, docs_dir, data_dir):
    server = LiveServer(docs_dir, data_dir)
    server.stop()
    shutil.copy(docs_dir / "import" / "excel-import.md", docs_dir / "import" / "excel-copy.md")
    server = LiveServer(docs_dir, data_dir)
    try:
        assert requests.get(server.url + "/import/excel-copy/").status_code == 200
        assert requests.get(server.url + "/api/articles/import/excel-copy").ok
    finally:
        server.stop()


def test_serve_remembers_the_docs_folder_a_data_folder_was_built_from(runner, tmp_path, monkeypatch):
    """`kb build --docs X --data D` then `kb serve --data D`, from any directory, serves X."""
    docs = tmp_path / "their-docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# 退款流程\n\n五个工作日内到账。\n", encoding="utf-8")
    data = tmp_path / "kbdata"
    assert runner.invoke(cli, ["build", "--docs", str(docs), "--data", str(data)]).exit_code == 0
    monkeypatch.chdir(tmp_path)  # no ./docs here, and the repo's docs must not leak in
    env = {k: v for k, v in os.environ.items() if k != "KB_DOCS"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kbserver.cli", "serve", "--data", str(data), "--port", str(port)],
                            env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                body = requests.get(f"http://127.0.0.1:{port}/api/search", params={"q": "退款"}).json()
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert [r["slug"] for r in body["results"]] == ["refunds"]
        assert requests.get(f"http://127.0.0.1:{port}/api/health").json()["articles"] == 1
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "44 added" not in output and "removed" not in output.replace("0 removed", "")
    assert f"kb 正在 http://127.0.0.1:{port}/ 提供帮助中心（按 Ctrl-C 停止）" in output  # the company's language


def test_serve_rebuilds_a_site_that_lags_the_index(runner, docs_dir, data_dir):
    assert runner.invoke(cli, ["build", "--docs", str(docs_dir), "--data", str(data_dir)]).exit_code == 0
    shutil.copy(docs_dir / "import" / "excel-import.md", docs_dir / "import" / "excel-two.md")
    assert runner.invoke(cli, ["index", "--docs", str(docs_dir), "--data", str(data_dir)]).exit_code == 0
    server = LiveServer(docs_dir, data_dir)  # nothing changed since `kb index`, but the site lags
    try:
        assert requests.get(server.url + "/import/excel-two/").status_code == 200
    finally:
        server.stop()


def test_settings_are_checked_before_any_long_work(runner, tmp_path, docs_dir):
    data = tmp_path / "d"
    cases = [
        (["build", "--docs", str(docs_dir / "import" / "excel-import.md"), "--data", str(data)], "是一个文件"),
        (["build", "--docs", str(docs_dir), "--data", str(data), "--mkdocs-config", str(tmp_path / "no.yml")],
         "找不到 MkDocs 配置文件"),
        (["serve", "--docs", str(docs_dir), "--data", str(data), "--database-url", "garbage"], "缺少协议"),
        (["serve", "--docs", str(docs_dir), "--data", str(data), "--database-url", "mysql://x/y"], "或 postgresql://"),
        (["serve", "--docs", str(docs_dir), "--data", str(data), "--database-url", "postgresql://x:5432"],
         "没有指定数据库"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert not (data / "index.current").exists()  # refused before building anything


def test_an_unusable_host_is_one_line(tmp_path, docs_dir):
    result = subprocess.run([sys.executable, "-m", "kbserver.cli", "serve", "--docs", str(docs_dir), "--data",
                             str(tmp_path / "d"), "--host", "999.1.1.1", "--port", str(free_port())],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "not a valid address" in result.stderr and "Traceback" not in result.stderr


def test_docs_without_a_home_page_get_one(tmp_path):
    docs = tmp_path / "docs"
    (docs / "billing").mkdir(parents=True)
    (docs / "billing" / "refunds.md").write_text("---\nmodule: billing\n---\n# 退款流程\n\n五个工作日。\n", encoding="utf-8")
    from indexer.site import build_site, site_dir

    build_site(docs, tmp_path / "data")
    home = (site_dir(tmp_path / "data") / "index.html").read_text(encoding="utf-8")
    assert "退款流程" in home and "refunds/" in home


def test_analysis_windows_are_settings_with_readable_errors(runner, built, docs_dir):
    args = ["analyze", "--docs", str(docs_dir), "--data", str(built), "--dry-run"]
    assert runner.invoke(cli, [*args, "--click-window", "600"]).exit_code == 0
    bad = runner.invoke(cli, [*args, "--click-window", "0"])
    assert bad.exit_code == 1 and "click_window" in bad.output
    bad = runner.invoke(cli, args, env={"KB_PERIOD": "a week"})
    assert bad.exit_code == 1 and "KB_PERIOD" in bad.output and "Traceback" not in bad.output
