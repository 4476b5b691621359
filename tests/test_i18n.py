"""Languages: every string a person reads goes through the catalogues, and both languages are complete.

The static checks fail when someone adds a Chinese string to a template, a page-producing module or a
site script without marking it for translation, or marks it without giving it English; the app tests
check which language each kind of page speaks (company's for the back office, the reader's for public
pages).
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from indexer.i18n import LANGUAGES, catalogue, compiled
from kbserver import create_app
from kbserver.i18n import JS_STRINGS
from kbserver.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
TEMPLATES = ROOT / "kbserver" / "templates"
SCRIPTS = ROOT / "indexer" / "theme" / "assets" / "javascripts"
GETTEXT_CALLS = {"_", "gettext", "ngettext", "N_", "t"}
# Modules whose strings a person reads on a page, in a flash message or an e-mail (analysis suggestions,
# fix verdicts and notification e-mails are written by analytics).
PAGE_MODULES = sorted((ROOT / "kbserver").glob("*.py")) + [
    ROOT / "analytics" / name for name in ("notifications.py", "gaps.py", "staleness.py", "closure.py", "answers.py")] + \
    sorted((ROOT / "contrib").glob("*.py")) + [  # errors, revision notes and drafts the contribution workflow writes
    # errors and reports the CLI prints (kb build/index/analyze), and the API's errors a page may show
    ROOT / "analytics" / name for name in ("analyze.py", "report.py")] + [
    # their errors, said by the CLI and on pages (simulate.py and tickets.py hold Chinese data: queries, patterns)
    ROOT / "analytics" / name for name in ("accounts.py", "flags.py", "links.py", "questions.py", "synonyms.py")] + [
    ROOT / "indexer" / name for name in ("articles.py", "build.py", "dense.py", "postgres.py", "query.py", "snapshot.py",
                                         "store.py", "validate.py")]
# Chinese that is data, not interface: request examples in the API description, the example query of an
# English API error.
# The separator of agent.py's pasted snippet joins an article's own title and summary (data, not interface).
NOT_INTERFACE = {"openapi.py", "api.py", "agent.py"}
# Data in a module otherwise checked: the example query the empty-query error shows in both languages and the
# query that warms the index up (query.py), the punctuation the front matter parser splits on (articles.py).
DATA_STRINGS = {"query.py": {"如何导入Excel数据", "预热 warm up"}, "articles.py": {"：", "；", "[,，]"}}


def _untranslated_in_template(text: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}|<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"\{%\s*trans\b.*?\{%\s*endtrans\s*%\}", "", text, flags=re.S)
    text = re.sub(r"""_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", "_(", text)
    text = re.sub(r"""ngettext\(\s*("(?:[^"\\]|\\.)*")\s*,\s*("(?:[^"\\]|\\.)*")""", "ngettext(", text)
    return [line.strip() for line in text.splitlines() if CJK.search(line)]


def test_every_chinese_string_in_templates_is_marked_for_translation():
    left = {p.name: _untranslated_in_template(p.read_text(encoding="utf-8")) for p in TEMPLATES.glob("*.html")}
    assert {name: lines for name, lines in left.items() if lines} == {}


def test_the_template_check_catches_an_unmarked_string():
    assert _untranslated_in_template('<h1>{{ _("知识库管理") }}</h1><p>新的说明</p>') == ['<h1>{{ _() }}</h1><p>新的说明</p>']
    assert _untranslated_in_template('<p title="{{ _("说明") }}">{% trans %}你好{% endtrans %}</p>{# 注释 #}') == []
    assert _untranslated_in_template('{{ ngettext("%(num)s 篇", "%(num)s 篇", n) }}') == []


def _untranslated_in_python(source: str) -> list[str]:
    tree = ast.parse(source)
    marked, docstrings = set(), set()
    for node in ast.walk(tree):
        name = getattr(node.func, "id", getattr(node.func, "attr", None)) if isinstance(node, ast.Call) else None
        if name in GETTEXT_CALLS:  # ngettext(singular, plural, n): both are marked
            marked.update(id(arg) for arg in node.args[:2 if name == "ngettext" else 1])
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value)
            and id(node) not in marked and id(node) not in docstrings]


@pytest.mark.parametrize("module", [p for p in PAGE_MODULES if p.name not in NOT_INTERFACE], ids=lambda p: p.name)
def test_every_chinese_string_in_page_modules_is_marked_for_translation(module):
    left = _untranslated_in_python(module.read_text(encoding="utf-8"))
    assert [text for text in left if text not in DATA_STRINGS.get(module.name, ())] == []


def test_the_python_check_catches_an_unmarked_string():
    source = 'def f():\n    """文档"""\n    flash(gettext("已保存。"))\n    flash(f"没有保存：{x}")\n'
    assert _untranslated_in_python(source) == ["没有保存："]


def test_every_chinese_string_in_the_site_scripts_is_translated():
    listed = set(JS_STRINGS)
    for script in SCRIPTS.glob("*.js"):
        code = re.sub(r"/\*.*?\*/|^\s*//.*$", "", script.read_text(encoding="utf-8"), flags=re.S | re.M)
        code = re.sub(r"""\bt\(\s*"((?:[^"\\]|\\.)*)\"""", lambda m: "" if m.group(1) in listed else m.group(0), code)
        assert [line.strip() for line in code.splitlines() if CJK.search(line)] == [], script.name


def _extracted() -> set[str]:
    """Every msgid the code and templates mark, extracted the way `pybabel extract` does (babel.cfg)."""
    method_map = [("kbserver/templates/**.html", "jinja2"), ("kbserver/**.py", "python"), ("analytics/**.py", "python"),
                  ("contrib/**.py", "python"), ("indexer/**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        found.update([message] if isinstance(message, str) else message)
    return found


def test_every_marked_string_has_english():
    with catalogue("en").open("rb") as f:
        english = {}
        for m in read_po(f):  # a plural entry (ngettext) gives each of its ids its English form
            ids, forms = (m.id, m.string) if isinstance(m.id, tuple) else ((m.id,), (m.string,))
            english.update({id_: forms[min(k, len(forms) - 1)] for k, id_ in enumerate(ids) if id_})
    missing = sorted(_extracted() - set(english))
    assert missing == [], "run the pybabel update of README 'Languages' and translate these"
    # an English message may name the Chinese title marks it suggests instead of quotes (contrib/validate.py)
    untranslated = sorted(k for k, v in english.items() if not v or CJK.search(v.replace("《》", "")))
    assert untranslated == []
    placeholders = re.compile(r"%\(\w+\)[a-z]")
    assert [k for k, v in english.items() if sorted(placeholders.findall(k)) != sorted(placeholders.findall(v))] == []


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_mo_files_are_compiled_from_the_po_files(language):
    """A fresh clone serves translations with no build step: the committed .mo must match its .po."""
    shipped = read_mo(io.BytesIO(catalogue(language, ".mo").read_bytes()))
    fresh = read_mo(io.BytesIO(compiled(language)))

    def table(messages):  # read_mo gives a plural entry's ids and forms as lists
        return {_frozen(m.id): _frozen(m.string) for m in messages if m.id}

    assert table(shipped) == table(fresh)


def test_a_fresh_clone_and_an_install_carry_the_compiled_catalogues():
    """`git clone` + `pip install -e . && kb serve` needs no compile step: the .mo files are committed, and
    pyproject's package-data puts them into a (non-editable) install too."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "indexer/translations"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert {f"indexer/translations/{lang}/LC_MESSAGES/messages.mo" for lang in LANGUAGES} <= set(tracked.stdout.split())
    assert '"translations/*/LC_MESSAGES/*"' in (ROOT / "pyproject.toml").read_text()


def test_language_setting_is_validated():
    assert load_settings({}, environ={})["language"] == "zh"
    assert load_settings({}, environ={"KB_LANGUAGE": "en"})["language"] == "en"
    with pytest.raises(Exception, match="KB_LANGUAGE"):
        load_settings({}, environ={"KB_LANGUAGE": "fr"})


# -- the app speaks the right language ----------------------------------------------------------------
@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    from conftest import FIXTURE_DOCS
    from indexer.build import build_full

    root = tmp_path_factory.mktemp("i18n")
    build_full(FIXTURE_DOCS, root / "data")
    made = {lang: create_app({"docs": FIXTURE_DOCS, "data": root / "data", "language": lang}) for lang in LANGUAGES}
    yield made
    for app in made.values():
        app.extensions["kb_events"].close()


def test_back_office_follows_the_company_language_not_the_browser(apps):
    zh = apps["zh"].test_client().get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "用户名" in zh and "User name" not in zh and '<html lang="zh">' in zh
    en = apps["en"].test_client().get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "User name" in en and '<html lang="en">' in en
    assert not CJK.search(re.sub(r"<style>.*?</style>", "", en, flags=re.S))


def test_wrong_password_is_an_error_banner_in_the_company_language(apps):
    client = apps["en"].test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"name": "nobody", "password": "x", "csrf_token": token})
    assert answer.status_code == 401
    assert 'class="flash error"' in answer.get_data(as_text=True)
    assert "Wrong user name or password." in answer.get_data(as_text=True)


def test_site_script_strings_follow_accept_language(apps):
    client = apps["zh"].test_client()
    english = client.get("/assets/javascripts/kb-strings.js", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.status_code == 200 and english.mimetype == "text/javascript"
    assert '"这个答案有帮助吗？": "Was this answer helpful?"' in english.get_data(as_text=True)
    assert "Accept-Language" in english.headers["Vary"]
    chinese = client.get("/assets/javascripts/kb-strings.js", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '"这个答案有帮助吗？": "这个答案有帮助吗？"' in chinese.get_data(as_text=True)
    # A language kb does not speak: the company's.
    french = apps["en"].test_client().get("/assets/javascripts/kb-strings.js", headers={"Accept-Language": "fr"})
    assert "Was this answer helpful?" in french.get_data(as_text=True)


def test_public_error_page_follows_the_browser(apps):
    """The site is not built in this fixture: its pages answer kb's own 503 page, in the reader's language."""
    client = apps["zh"].test_client()
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert english.status_code == 503 and "Temporarily unavailable" in english.get_data(as_text=True)
    assert "Back to the help center home page" in english.get_data(as_text=True)
    chinese = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert "暂时无法处理" in chinese.get_data(as_text=True)
    # A back-office page refused to a visitor speaks the company's language, whatever the browser says.
    refused = apps["zh"].test_client().get("/users", headers={"Accept-Language": "en", "Accept": "text/html"})
    assert refused.status_code in (302, 401, 403)
    if refused.status_code != 302:
        assert "Sign-in required" not in refused.get_data(as_text=True)


def test_api_errors_stay_english(apps):
    answer = apps["zh"].test_client().get("/api/search", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 400 and answer.json["error"]["message"].startswith("missing q")


# -- text written outside templates: the analysis and e-mails -------------------------------------------
def test_analysis_suggestions_are_written_in_the_current_language():
    import datetime as dt

    from analytics.staleness import review_flags
    from indexer.i18n import using

    article = {"slug": "a", "title": "甘特图", "path": "a.md", "reviewed": "2026-01-01", "review_every": 30}
    assert "已逾期" in review_flags([article], dt.date(2026, 3, 1))[0].suggestion
    with using("en"):
        english = review_flags([article], dt.date(2026, 3, 1))[0].suggestion
    assert english == "Review the article and update its reviewed date (due 2026-01-31, 29 days overdue)."
    assert "已逾期" in review_flags([article], dt.date(2026, 3, 1))[0].suggestion  # the block ended


def test_notification_emails_are_written_in_the_company_language(tmp_path):
    from analytics import accounts, notifications
    from indexer.i18n import using
    from kbserver.db import open_db

    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    user, _, _ = accounts.create_user(db, "lee", "manager")
    accounts.set_contact(db, user["id"], "lee@example.com", "instant")
    with using("en"):
        notifications.notify(db, "question.asked", {"title": "能导出甘特图吗？", "email": "c@example.com"}, "managers")
    notifications.notify(db, "question.asked", {"title": "第二个问题", "email": "d@example.com"}, "managers")
    rows = db.execute("SELECT subject, body FROM notify_emails ORDER BY id").fetchall()
    assert rows[0][0] == "A customer asked the support team: 能导出甘特图吗？"
    assert "Customer e-mail: c@example.com" in rows[0][1]
    assert rows[1][0] == "客户向支持团队提交了问题：第二个问题" and "客户邮箱：d@example.com" in rows[1][1]
    db.conn.close()


def test_the_cli_writes_the_analysis_in_kb_language(tmp_path, runner):
    """`kb analyze` with KB_LANGUAGE=en sets the language for what it writes (suggestions, e-mails)."""
    from indexer.i18n import current_language, set_language
    from kbserver.cli import _settings

    token = set_language("zh")
    try:
        _settings(data=str(tmp_path / "data"), language="en")
        assert current_language() == "en"
    finally:
        from indexer.i18n import reset_language

        reset_language(token)


def test_a_form_error_is_said_in_the_page_language(apps):
    """The library's InvalidInput on a form: the page's language, the field by its name (「标题」, not title)."""
    from contrib.validate import clean_submission
    from indexer.errors import InvalidInput
    from indexer.i18n import using
    from kbserver.i18n import said_to_people

    fields = {"title": "看板", "summary": "s", "body": "b", "tags": "", "module": "m", "organisation": "o"}
    with pytest.raises(InvalidInput) as no_consent:
        clean_submission(fields, final=True)
    with pytest.raises(InvalidInput) as no_title:
        clean_submission({**fields, "title": ""}, final=True)
    with pytest.raises(InvalidInput) as long_summary:
        clean_submission({**fields, "summary": "长" * 301}, final=True)
    with pytest.raises(InvalidInput) as unknown:
        clean_submission({**fields, "colour": "red"}, final=True)
    with apps["zh"].test_request_context("/contrib/new"), using("en"):  # the page's language, not the current one
        assert said_to_people(no_consent.value) == "发布前需要你同意以 CC BY 4.0 许可发布（请勾选同意框）"
        assert said_to_people(no_title.value) == "请填写「标题」"
        assert said_to_people(long_summary.value) == "「摘要」太长了：301 个字符，最多 300 个"
        assert said_to_people(unknown.value) == "不认识这些字段：colour"
    # English keeps the identifiers, as the API's message has them
    with apps["en"].test_request_context("/contrib/new"):
        assert said_to_people(no_consent.value) == no_consent.value.message
        assert said_to_people(no_title.value) == "title is required" == no_title.value.message
        assert said_to_people(long_summary.value) == "summary is too long (301 characters, at most 300)"
        assert said_to_people(unknown.value) == "unknown field(s): colour" == unknown.value.message
    assert no_title.value.details == {"field": "title"}  # the API's details keep the identifier


def test_the_themes_own_words_are_translated_on_the_static_pages():
    """main.html is rendered once by MkDocs: its words are marked data-kb-t and swapped by the site script."""
    text = (ROOT / "indexer" / "theme" / "main.html").read_text(encoding="utf-8")
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    marked = [key for keys in re.findall(r'data-kb-t="([^"]+)"', text) for key in keys.split("|")]
    assert marked and set(marked) <= set(JS_STRINGS)
    rest = re.sub(r'data-kb-t="[^"]+"', "", text)
    for key in marked:
        rest = rest.replace(key, "")
    assert [line.strip() for line in rest.splitlines() if CJK.search(line)] == []
    assert "data-kb-t" in (SCRIPTS / "kb-edit-link.js").read_text(encoding="utf-8")


def test_an_error_speaks_english_to_programs_and_the_current_language_to_people():
    """The API's JSON keeps English; the CLI line and a page banner follow the language kb writes in."""
    from indexer.errors import InvalidInput
    from indexer.i18n import using

    error = InvalidInput("必须是 %(choices)s 之一", choices="zh, en")
    assert error.message == "must be one of zh, en" and str(error) == "must be one of zh, en"
    with using("zh"):
        assert error.text == "必须是 zh, en 之一"
    with using("en"):
        assert error.text == "must be one of zh, en"
    untranslated = InvalidInput("a message kb never translated")
    with using("zh"):
        assert untranslated.text == untranslated.message == "a message kb never translated"


def test_the_cli_reports_a_bad_language_flag_in_the_environment_language(runner):
    from kbserver.cli import cli

    chinese = runner.invoke(cli, ["--language", "fr", "stats"])
    assert chinese.exit_code == 2 and "必须是 zh, en 之一" in chinese.output
    english = runner.invoke(cli, ["--language", "fr", "stats"], env={"KB_LANGUAGE": "en"})
    assert english.exit_code == 2 and "must be one of zh, en" in english.output


def test_every_plural_message_has_both_english_forms_and_pages_pick_by_count(apps):
    """ngettext entries (counts in pages, relative times): "1 vote" and "3 votes", never "1 votes"."""
    from flask import render_template_string
    from flask_babel import force_locale

    with catalogue("en").open("rb") as f:
        plurals = [m for m in read_po(f) if m.id and isinstance(m.id, tuple)]
    assert plurals and [m.id[0] for m in plurals if len(set(m.string)) != 2 or not all(m.string)] == []
    page = ('{{ ngettext("（%(num)s 篇）", "（%(num)s 篇）", n) }}|'  # as edit_list.html and questions.html say them
            '{{ ngettext("已尝试 %(num)s 次：%(error)s", "已尝试 %(num)s 次：%(error)s", n, error="timeout") }}')
    app, shown = apps["zh"], {}
    for language in ("zh", "en"):
        with app.test_request_context("/edit"), force_locale(language):
            shown[language] = [render_template_string(page, n=n) for n in (1, 3)]
    assert shown == {"zh": ["（1 篇）|已尝试 1 次：timeout", "（3 篇）|已尝试 3 次：timeout"],
                     "en": [" (1 article)|Tried 1 time: timeout", " (3 articles)|Tried 3 times: timeout"]}


@pytest.mark.parametrize("language, headline", [("zh", "出错了"), ("en", "Something went wrong")])
def test_an_unexpected_error_is_a_styled_page_in_the_company_language_without_a_traceback(tmp_path, language, headline):
    from conftest import FIXTURE_DOCS

    app = create_app({"docs": FIXTURE_DOCS, "data": tmp_path / "data", "language": language,
                      "database_url": f"sqlite:///{tmp_path}/kb.db"})

    @app.get("/dashboard/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    answer = app.test_client().get("/dashboard/boom")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 500 and headline in page and "<style>" in page and "<header" in page  # the back office look
    assert "secret internal detail" not in page and "Traceback" not in page
    app.extensions["kb_events"].close()


def test_an_error_inside_an_error_is_said_in_the_same_language():
    """A save refused because the article would not parse: the reason is in the person's language too."""
    from indexer.errors import ArticleError, InvalidInput
    from indexer.i18n import using

    inner = ArticleError("%(path)s:%(line)s：前置信息（front matter）写错了：%(problem)s", path="a.md", line=3)
    inner.details["problem"] = "x"
    outer = InvalidInput("这样保存后文章将无法读取：%(problem)s", field="fields", problem=inner)
    assert outer.message == "the article would not be readable: a.md:3: broken front matter: x"
    with using("zh"):
        assert outer.text == "这样保存后文章将无法读取：a.md:3：前置信息（front matter）写错了：x"
