"""`kb` in the company's language: Chinese by default, English with KB_LANGUAGE=en or `kb --language en`.

Three layers are checked: kb's own lines and help (cli.py through the messages catalogue), click's own
words (Usage:, Options:, Error: … through the zh click catalogue), and, statically, that no English-only
string can reach the terminal from cli.py without going through the catalogue.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from conftest import FIXTURE_DOCS, ROOT
from indexer.i18n import CLICK_DOMAIN, catalogue, compiled
from kbserver.cli import cli

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Three lower-case English words in a row is a sentence; a command line quoted in a help text
# (`kb users set-email`) is not.
ENGLISH_SENTENCE = re.compile(r"\b[a-z]{2,}(?: [a-z]{2,}){2,}\b")
COMMAND_LINE = re.compile(r"`?kb [a-z -]+`?")
EN = {"KB_LANGUAGE": "en"}
# Chinese that English help quotes as data: the button a customer presses, an example sender name.
DATA_IN_HELP = re.compile(r"提交问题|帮助中心 <kb@example\.com>")
ZH = {"KB_LANGUAGE": None}  # unset: the default


def english_sentences(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if ENGLISH_SENTENCE.search(COMMAND_LINE.sub("", line))]


# -- click's own words -----------------------------------------------------------------------------------
def _click_messages() -> set:
    """Every msgid the installed click marks (singular, or (singular, plural)), as `pybabel extract` finds them."""
    folder = os.path.dirname(click.__file__)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    return {message for _f, _l, message, _c, _x in extract_from_dir(folder, [("**.py", "python")], keywords=keywords)}


def _click_catalogue():
    with catalogue("zh", domain=CLICK_DOMAIN).open("rb") as f:
        return read_po(f, locale="zh")


def test_every_word_click_prints_has_chinese():
    """A click upgrade that adds a message fails here until click.po translates it (README 'Languages')."""
    translated = _click_catalogue()
    placeholders = re.compile(r"\{\w+(?:![rs])?\}|%\(\w+\)s")
    missing, broken = [], []
    for message in _click_messages() | {"required"}:  # "required" is looked up as _(extra["required"])
        entry = translated.get(message[0] if isinstance(message, tuple) else message)
        string = entry and (entry.string[0] if isinstance(entry.string, tuple) else entry.string)
        if not string or "fuzzy" in entry.flags:
            missing.append(message)
            continue
        wanted = set().union(*(placeholders.findall(m) for m in (message if isinstance(message, tuple) else [message])))
        if set(placeholders.findall(string)) - wanted or not CJK.search(string):
            broken.append((message, string))
    assert missing == [] and broken == []


def test_the_shipped_click_mo_is_compiled_from_its_po():
    shipped = read_mo(io.BytesIO(catalogue("zh", ".mo", CLICK_DOMAIN).read_bytes()))
    fresh = read_mo(io.BytesIO(compiled("zh", CLICK_DOMAIN)))
    def entries(catalogue_):
        return {str(m.id): str(m.string) for m in catalogue_ if m.id}

    assert entries(shipped) == entries(fresh)


# -- help ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["users", "add", "--help"]], ids=" ".join)
def test_help_is_in_chinese_by_default(runner, args):
    result = runner.invoke(cli, prog_name="kb", args=args, env=ZH)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("用法: kb") and "\n选项:\n" in result.output
    assert "显示本帮助后退出。" in result.output and "Usage" not in result.output and "Options" not in result.output
    if args == ["--help"]:
        assert "\n命令:\n" in result.output and "  search    在命令行里搜索索引" in result.output


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["users", "add", "--help"]], ids=" ".join)
def test_no_help_line_is_an_english_sentence(runner, args):
    result = runner.invoke(cli, prog_name="kb", args=args, env=ZH)
    assert english_sentences(result.output) == []


@pytest.mark.parametrize("how", ["KB_LANGUAGE=en", "--language en"])
@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["contrib", "approve", "--help"]], ids=" ".join)
def test_help_is_in_english_when_the_company_chooses(runner, args, how):
    env, flag = (EN, []) if how == "KB_LANGUAGE=en" else (ZH, ["--language", "en"])
    result = runner.invoke(cli, prog_name="kb", args=[*flag, *args], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: kb") and "\nOptions:\n" in result.output
    assert CJK.findall(DATA_IN_HELP.sub("", result.output)) == [], result.output
    assert "Show this message and exit." in result.output


def test_the_translation_the_help_shows_does_not_stick(runner):
    """Help is translated when shown: an English run leaves the next Chinese run Chinese, and back."""
    assert "Serve the help site" in runner.invoke(cli, prog_name="kb", args=["serve", "--help"], env=EN).output
    assert "在生产级 WSGI 服务器上" in runner.invoke(cli, prog_name="kb", args=["serve", "--help"], env=ZH).output
    english = runner.invoke(cli, prog_name="kb", args=["--language", "en", "contrib", "list", "--help"]).output
    assert re.search(r"--json +Print JSON\.", english) and "显示本帮助后退出" not in english


def test_a_usage_error_is_in_the_company_language(runner):
    missing = runner.invoke(cli, prog_name="kb", args=["search"], env=ZH)
    assert missing.exit_code == 2 and "用法: kb search [OPTIONS] QUERY" in missing.output
    assert "错误：缺少参数 'QUERY'" in missing.output and "运行 'kb search --help' 查看帮助。" in missing.output
    unknown = runner.invoke(cli, prog_name="kb", args=["search", "导入", "--bogus"], env=ZH)
    assert unknown.exit_code == 2 and "错误：没有选项 '--bogus'。" in unknown.output
    choice = runner.invoke(cli, prog_name="kb", args=["users", "add", "x", "--role", "admin"], env=ZH)
    assert choice.exit_code == 2 and "'admin' 不是 " in choice.output and "之一" in choice.output
    english = runner.invoke(cli, prog_name="kb", args=["search", "导入", "--bogus"], env=EN)
    assert english.exit_code == 2 and "Error: No such option '--bogus'." in english.output
    assert "Error: Missing argument 'QUERY'" in runner.invoke(cli, prog_name="kb", args=["--language", "en", "search"]).output


def test_version_and_a_confirmation_speak_the_company_language(runner, tmp_path):
    assert runner.invoke(cli, prog_name="kb", args=["--version"], env=ZH).output.startswith("kb，版本 ")
    assert runner.invoke(cli, prog_name="kb", args=["--language", "en", "--version"]).output.startswith("kb, version ")
    data = ["--data", str(tmp_path / "data")]
    assert runner.invoke(cli, prog_name="kb", args=["users", "add", "小王", "--role", "agent", *data]).exit_code == 0
    kept = runner.invoke(cli, prog_name="kb", args=["users", "remove", "小王", *data], input="n\n", env=ZH)
    assert kept.exit_code == 1 and kept.output == "删除客服 '小王'？删除后无法撤销 [y/N]: n\n已取消。\n"
    kept = runner.invoke(cli, prog_name="kb", args=["users", "remove", "小王", *data], input="n\n", env=EN)
    assert kept.exit_code == 1 and kept.output == "remove Support agent '小王'? This cannot be undone [y/N]: n\nAborted!\n"
    removed = runner.invoke(cli, prog_name="kb", args=["users", "remove", "小王", *data], input="y\n", env=ZH)
    assert removed.exit_code == 0 and removed.output.endswith("已删除 '小王'\n")


def test_what_the_operating_system_refuses_is_one_line_in_the_company_language(runner, tmp_path):
    (tmp_path / "a-file").write_text("x")
    args = ["build", "--docs", str(FIXTURE_DOCS), "--data", str(tmp_path / "a-file" / "data")]
    chinese = runner.invoke(cli, prog_name="kb", args=args, env=ZH)
    assert chinese.exit_code == 1 and chinese.output == f"错误：{tmp_path / 'a-file' / 'data'}：不是文件夹\n"
    english = runner.invoke(cli, prog_name="kb", args=args, env=EN)
    assert english.exit_code == 1 and english.output == f"Error: {tmp_path / 'a-file' / 'data'}: Not a directory\n"


# -- kb's own lines, end to end ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-language")
    shutil.copytree(FIXTURE_DOCS, root / "docs")
    return root / "docs", root / "data"


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_build_search_users_and_analyze_speak_the_company_language(runner, folders, language):
    docs, data = folders
    env = {"KB_LANGUAGE": None if language == "zh" else "en", "KB_DOCS": str(docs), "KB_DATA": str(data)}
    zh = language == "zh"

    def kb(*args):
        result = runner.invoke(cli, prog_name="kb", args=list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    built = kb("build")
    assert ("正在索引" if zh else "indexing") in built
    assert ("站点：7 个页面，用时 " if zh else "site: 7 pages in ") in built
    assert ("警告：" if zh else "warning: ") in built  # the fixture's broken article is reported, and skipped

    found = kb("search", "如何导入Excel数据").splitlines()
    assert re.fullmatch(r"\d+ 条结果，用时 [\d.]+ 毫秒" if zh else r"\d+ results in [\d.]+ ms", found[0])
    assert "import/excel-import" in found[1] and ("关键词" if zh else "keyword") in found[1]

    name = "李雷" if zh else "lilei"
    added = kb("users", "add", name, "--role", "manager").splitlines()
    assert added[0] == (f"已创建知识库管理员 '{name}'" if zh else f"created Knowledge manager '{name}'")
    assert re.fullmatch(r"密码：\S+" if zh else r"password: \S+", added[1])
    assert added[2].startswith("API 令牌：kb_" if zh else "api token: kb_")
    assert added[3] == ("它们只显示这一次；kb 只保存它们的哈希值" if zh
                        else "they are shown only now; kb stores only their hashes")

    listed = kb("users", "list")
    assert f"{name}\tmanager\t{'启用中' if zh else 'active'}\t" in listed

    analyzed = kb("analyze", "--dry-run")
    assert ("正在分析" if zh else "analyzing") in analyzed
    counted = kb("stats")
    assert (" 文章数: 6" if zh else " articles: 6") in counted
    if zh:
        mine = ("site:", "password:", "api token", "results in", "created ", "indexing", "analyzing", "articles:")
        assert [line for line in built + "\n".join(found + added) + analyzed + counted
                if any(word in line for word in mine)] == []


# -- nothing English-only reaches the terminal from cli.py ----------------------------------------------
CLI = ROOT / "kbserver" / "cli.py"
MARKERS = {"gettext", "N_"}
# Where cli.py's strings reach a person: printed lines, errors, prompts, progress labels, help.
SINKS = {"echo", "secho", "ClickException", "BadParameter", "UsageError", "confirm", "prompt", "KBError",
         "InvalidInput", "_Progress"}
SINK_KEYWORDS = {"help", "label", "short_help"}
# Strings that reach the terminal untranslated on purpose, and why.
MACHINE_OUTPUT = {
    "kb",  # the program's name in `Usage: kb …`
}
WORDS = re.compile(r"[A-Za-z]{2,}|[\u4e00-\u9fff]")


def _texts(node):
    """The literal text pieces of an expression as it would be printed (not inside a gettext/N_ call)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            yield from _texts(part.value if isinstance(part, ast.FormattedValue) else part)
    elif isinstance(node, ast.BinOp):
        yield from _texts(node.left)
        yield from _texts(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _texts(node.body)
        yield from _texts(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _texts(value)
    elif isinstance(node, ast.Call) and _name(node.func) == "join":
        yield from _texts(node.func.value)  # the separator is printed; the items are data


def _name(func) -> str | None:
    return getattr(func, "id", getattr(func, "attr", None))


def unmarked_output(source: str) -> list[str]:
    """Literal text in cli.py that reaches the terminal without a catalogue marker."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _name(node.func) in MARKERS:
            continue
        reaching = node.args[:1] if _name(node.func) in SINKS else []
        reaching += [k.value for k in node.keywords if k.arg in SINK_KEYWORDS]
        for value in reaching:
            found += [text for text in _texts(value) if WORDS.search(text) and text not in MACHINE_OUTPUT]
    return found


def test_every_line_cli_py_prints_goes_through_the_catalogue():
    assert unmarked_output(CLI.read_text(encoding="utf-8")) == []


def test_the_static_check_catches_an_english_only_line():
    source = '''
click.echo(f"created {name}")
click.echo(gettext("已创建 %(name)s", name=name))
click.secho("warning: " + problem, fg="yellow")
raise click.ClickException(f"{file} is not UTF-8" if bad else gettext("好"))
@option("--json", is_flag=True, help="Print JSON.")
@option("--csv", is_flag=True, help=N_("以 CSV 输出。"))
def export(): pass
progress = _Progress("indexing")
click.echo(json.dumps(result))
click.echo(f"{hit['position']:>3}. {hit['title']}")
click.echo(", ".join(slugs))
'''
    assert unmarked_output(source) == ["created ", "warning: ", " is not UTF-8", "Print JSON.", "indexing"]


def test_the_contrib_actions_help_is_marked():
    """The review actions' help comes from a table in a loop (not a help= literal): each is a msgid."""
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For) and isinstance(n.iter, ast.Tuple)
                and any(isinstance(e, ast.Tuple) and getattr(e.elts[0], "value", "") == "approve" for e in n.iter.elts))
    helps = [row.elts[2] for row in loop.iter.elts]
    assert len(helps) == 6 and all(isinstance(h, ast.Call) and _name(h.func) == "N_" for h in helps)


def test_every_command_has_translated_help(runner):
    """Each command's help is a catalogue msgid with English: `kb X --help` reads differently per language."""
    def commands(group, path):
        for name, command in group.commands.items():
            yield [*path, name]
            if isinstance(command, click.Group):
                yield from commands(command, [*path, name])

    same = []
    for path in commands(cli, []):
        zh = runner.invoke(cli, prog_name="kb", args=[*path, "--help"], env=ZH).output.split("\n\n")[1]
        en = runner.invoke(cli, prog_name="kb", args=[*path, "--help"], env=EN).output.split("\n\n")[1]
        if not CJK.search(zh) or CJK.search(en):
            same.append((" ".join(path), zh.strip(), en.strip()))
    assert same == []


def test_the_language_flag_is_read_before_parsing(monkeypatch):
    from kbserver.cli_language import language_of

    monkeypatch.delenv("KB_LANGUAGE", raising=False)
    assert language_of(["--language", "en", "search"]) == "en"
    assert language_of(["serve", "--language=en"]) == "en"
    assert language_of(["search", "--", "--language", "en"]) == "zh"  # a query, not a flag
    assert language_of(["--language", "fr", "stats"]) == "zh"  # the flag's own check reports it
    monkeypatch.setenv("KB_LANGUAGE", "en")
    assert language_of(["stats"]) == "en" and language_of(["--language", "zh", "stats"]) == "zh"


def test_docs_mention_the_click_catalogue():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pybabel compile -d indexer/translations -D click" in readme
    assert "English for now" not in readme
    assert Path(catalogue("zh", ".mo", CLICK_DOMAIN)).is_file()
