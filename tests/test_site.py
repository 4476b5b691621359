"""The static site MkDocs builds: pages, navigation by module, theme overrides, offline search."""

import json
import re
import shutil
import subprocess
import sys

import pytest
import requests

from conftest import FIXTURE_DOCS, ROOT, LiveServer
from indexer.build import build_full
from indexer.site import build_site, site_dir, site_manifest, update_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    docs = tmp / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    problems = []
    info = build_site(docs, tmp / "data", on_problem=problems.append)
    info["problems"] = problems
    info["root"] = site_dir(tmp / "data")
    return info


def page(site, path):
    return (site["root"] / path / "index.html").read_text(encoding="utf-8")


def test_every_good_article_becomes_a_page_and_broken_ones_are_reported(site):
    for path in ("import/excel-import", "account/api-rate-limit", "guides/setup", "guides"):
        assert (site["root"] / path / "index.html").is_file(), path
    assert not (site["root"] / "broken").exists()
    assert [p.path for p in site["problems"]] == ["broken.md"]


def test_navigation_is_grouped_by_module_with_section_titles(site):
    home = (site["root"] / "index.html").read_text(encoding="utf-8")
    assert "导入数据" in home and "集成" in home  # kb_modules titles from mkdocs.yml


def test_the_navigation_names_the_home_page_once(site):
    import re

    home = (site["root"] / "index.html").read_text(encoding="utf-8")
    nav = home.split('class="md-nav md-nav--primary"')[1].split("</nav>")[0]
    links = [re.sub(r"<[^>]+>|\s+", "", m) for m in re.findall(r'class="md-nav__link[^"]*"[^>]*>(.*?)</a>', nav, re.S)]
    assert "首页" in links and links.count(re.search(r"<title>([^<]*)</title>", home).group(1)) == 0, links


def test_every_tab_names_the_page_once_and_shows_the_favicon(site):
    import re

    home = (site["root"] / "index.html").read_text(encoding="utf-8")
    article = page(site, "import/excel-import")
    site_name = re.search(r"<title>([^<]*)</title>", home).group(1)
    assert site_name and " - " not in site_name  # not "名称 - 名称"
    title = re.search(r"<title>([^<]*)</title>", article).group(1)
    assert title.endswith(" - " + site_name) and title != f"{site_name} - {site_name}"
    assert 'rel="icon" href="../../assets/images/favicon.svg"' in article.replace("'", '"')
    assert (site["root"] / "assets" / "images" / "favicon.svg").is_file()


def test_articles_show_their_review_date_and_owner(site):
    html = page(site, "import/excel-import")
    assert "最近审核" in html and "2026-09-18" in html and "王敏" in html


def test_search_box_uses_the_kb_worker_with_materials_worker_as_fallback(site):
    html = page(site, "import/excel-import")
    config = json.loads(html.split('<script id="__config" type="application/json">')[1].split("</script>")[0])
    worker, fallback = config["search"].split("?fallback=")
    assert worker.endswith("assets/javascripts/workers/kb-search.js")
    workers = site["root"] / "assets" / "javascripts" / "workers"
    assert (workers / "kb-search.js").is_file() and (workers / fallback).is_file()


def test_feedback_widget_posts_to_the_kb_service(site):
    html = page(site, "import/excel-import")
    assert 'form class="md-feedback"' in html and "/api/feedback" in html and '"import/excel-import"' in html


def test_offline_search_index_keeps_chinese_pages_findable(site):
    index = json.loads((site["root"] / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    assert separator.split("导入\u200b数据") == ["导入", "数据"]  # the regex (also valid JS) splits on U+200B
    texts = " ".join(d["text"] for d in index["docs"])
    assert "\u200b导入\u200b" in texts  # jieba-segmented, and the separator splits on U+200B


def test_nothing_is_fetched_from_the_internet(site):
    html = page(site, "import/excel-import")
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


def test_jieba_is_quiet_and_caches_inside_the_data_folder(tmp_path):
    # A fresh process: jieba initializes (and would log and write /tmp/jieba.cache) once per process.
    result = subprocess.run([sys.executable, "-m", "kbserver.cli", "build", "--docs", str(FIXTURE_DOCS),
                             "--data", str(tmp_path / "data")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "data" / "jieba").glob("jieba*.cache"))
    assert "prefix dict" not in result.stderr and "Loading model" not in result.stderr


def test_pages_name_themselves_with_the_index_slug_and_escape_front_matter(tmp_path):
    docs = tmp_path / "docs"
    (docs / "导入").mkdir(parents=True)
    (docs / "导入" / "Excel 导入.md").write_text(
        "---\ntitle: Excel 导入\nowner: \"<img src=x onerror=alert(1)>\"\nreviewed: 2026-09-01\n---\n# Excel 导入\n\n正文。\n",
        encoding="utf-8")
    (docs / "_drafts").mkdir()
    (docs / "_drafts" / "plan.txt").write_text("secret plan", encoding="utf-8")
    build_site(docs, tmp_path / "data")
    root = site_dir(tmp_path / "data")
    html = next(root.glob("导入/*/index.html")).read_text(encoding="utf-8")
    assert 'var slug = "导入/Excel 导入"' in html or 'var slug = "\\u5bfc\\u5165/Excel \\u5bfc\\u5165"' in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert not (root / "_drafts").exists()


# -- the site's language: the company's (KB_LANGUAGE), in Material's chrome, kb's words and the 404 --------------
# What a reader sees of the chrome in each language: Material's own words, kb's theme words, mkdocs.yml's
# feedback box and the 404 page (the same words as the kb service's own 404).
CHROME = {
    "zh": ['<html lang="zh"', 'placeholder="搜索"', "目录", "回到页面顶部", "这篇文章有帮助吗？", "最近审核：", "负责人："],
    "en": ['<html lang="en"', 'placeholder="Search"', "Table of contents", "Back to top", "Was this article helpful?",
           "Last reviewed:", "Owner:"],
}
NOT_FOUND = {"zh": ["找不到这个页面", "返回帮助中心首页"], "en": ["Page not found", "Back to the help center home page"]}
HOME = {"zh": ["首页", "在右上角的搜索框输入问题"], "en": ["Home", "Type your question into the search box"]}


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """The fixture docs without their home page (kb generates one), built by default and in English.
    (`kb serve` passing KB_LANGUAGE on to the build is checked below, with a real server.)"""
    tmp = tmp_path_factory.mktemp("site-languages")
    shutil.copytree(FIXTURE_DOCS, tmp / "docs", ignore=shutil.ignore_patterns("index.md"))
    build_site(tmp / "docs", tmp / "data-zh")
    build_site(tmp / "docs", tmp / "data-en", language="en")
    build_full(tmp / "docs", tmp / "data-en")  # the browser test serves it: index and site are current
    return tmp, {language: site_dir(tmp / f"data-{language}") for language in ("zh", "en")}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_sites_chrome_and_404_speak_the_company_language(sites, language):
    root = sites[1][language]
    other = "en" if language == "zh" else "zh"
    article = (root / "import" / "excel-import" / "index.html").read_text(encoding="utf-8")
    article = re.sub(r'data-kb-t="[^"]*"', "", article)  # the keys kb-edit-link.js looks for, not shown
    for text in CHROME[language]:
        assert text in article, (language, text)
    for text in CHROME[other][1:]:
        assert text not in article, (language, text)
    not_found = (root / "404.html").read_text(encoding="utf-8")
    assert all(text in not_found for text in NOT_FOUND[language]) and 'class="kb-error-page"' in not_found
    assert "Not found" not in not_found  # Material's own 404 says "404 - Not found" whatever the language
    assert 'href="/assets/stylesheets/kb.css"' in not_found  # served at any depth: absolute links, the site's look
    home = (root / "index.html").read_text(encoding="utf-8")
    assert all(text in home for text in HOME[language])


def test_a_site_built_in_chinese_is_rebuilt_in_english_when_the_company_switches(tmp_path):
    docs, data = tmp_path / "docs", tmp_path / "data"
    shutil.copytree(FIXTURE_DOCS, docs)
    build_site(docs, data, language="zh")
    slugs = {"import/excel-import", "account/reset-password"}
    # `kb serve` rebuilds a site whose manifest differs from the index's: one built in another language is unknown
    assert slugs <= set(site_manifest(data, "zh")) and site_manifest(data, "en") == {}
    update_site(docs, data, ["import/excel-import.md"], language="en")  # another language: the whole site
    root = site_dir(data)
    assert all('<html lang="en"' in (root / p).read_text(encoding="utf-8")
               for p in ("index.html", "404.html", "account/reset-password/index.html"))
    assert slugs <= set(site_manifest(data, "en")) and site_manifest(data, "zh") == {}
    # The server's background updater knows no setting (language=None): the page stays in the site's language.
    source = docs / "import" / "excel-import.md"
    source.write_text(source.read_text(encoding="utf-8").replace("# ", "# 新版 ", 1), encoding="utf-8")
    result = update_site(docs, data, ["import/excel-import.md"])
    assert result["pages"] != ["*"]  # one article's pages, not a rebuild
    html = (site_dir(data) / "import" / "excel-import" / "index.html").read_text(encoding="utf-8")
    assert "新版" in html and '<html lang="en"' in html and "Table of contents" in html


def test_a_path_outside_the_docs_folder_is_refused_in_both_audiences_languages(tmp_path):
    from indexer.i18n import using
    from indexer.site import SiteBuildError

    with pytest.raises(SiteBuildError) as bad:
        update_site(tmp_path / "docs", tmp_path / "data", ["../secret.md"])
    assert bad.value.message == "../secret.md: not a path inside the docs folder"  # the API, the log
    with using("zh"):
        assert bad.value.text == "../secret.md 不在文档文件夹里：请写相对于文档文件夹的路径"
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_zh_data_folder_served_in_english_is_rebuilt_in_english(tmp_path):
    docs, data = tmp_path / "docs", tmp_path / "data"
    shutil.copytree(FIXTURE_DOCS, docs)
    build_full(docs, data)
    build_site(docs, data)  # Chinese, the default; the index is current, so only the language differs
    assert '<html lang="zh"' in (site_dir(data) / "index.html").read_text(encoding="utf-8")
    server = LiveServer(docs, data, {"KB_LANGUAGE": "en", "KB_SEMANTIC_MODEL": "off"})
    try:
        home = requests.get(server.url + "/", timeout=10)
        missing = requests.get(server.url + "/no/such/page/", timeout=10)
    finally:
        server.stop()
    assert '<html lang="en"' in home.text and 'placeholder="Search"' in home.text
    assert missing.status_code == 404 and "Page not found" in missing.text


@pytest.mark.slow
@pytest.mark.browser
def test_an_english_sites_search_box_and_404_page_read_english_in_a_browser(sites, browser):
    expect = pytest.importorskip("playwright.sync_api").expect
    tmp, _ = sites
    server = LiveServer(tmp / "docs", tmp / "data-en", {"KB_LANGUAGE": "en", "KB_SEMANTIC_MODEL": "off"})
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(server.url + "/import/excel-import/")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("input.md-search__input")).to_have_attribute("placeholder", "Search")
        expect(page.locator(".md-sidebar--secondary .md-nav__title").first).to_contain_text("Table of contents")
        expect(page.locator(".kb-reviewed")).to_contain_text("Last reviewed:")
        answer = page.goto(server.url + "/import/no-such-article/")
        assert answer.status == 404
        expect(page).to_have_title(re.compile(r"^Page not found - "))
        expect(page.locator(".kb-error-page h1")).to_have_text("Page not found")
        expect(page.locator(".kb-error-page a")).to_have_text("Back to the help center home page")
        expect(page.locator(".kb-error-status")).to_have_css("font-size", "60px")  # kb.css reached from a deep URL
        page.screenshot(path=str(tmp / "en-404.png"))
        page.locator(".kb-error-page a").click()
        expect(page).to_have_url(server.url + "/")
    finally:
        context.close()
        server.stop()


# -- updating a few pages at scale: a few hundred third-party articles ----------------------------------
from devset import corpus_docs, require_dev_set  # noqa: E402

ARTICLE = "---\ntitle: {title}\nmodule: {module}\ntags: [{tag}]\n---\n# {title}\n\n{body}\n"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The dev set's 392 NocoBase articles (no front matter) plus a few with modules and tags, built once."""
    require_dev_set()
    tmp = tmp_path_factory.mktemp("bigsite")
    docs = tmp / "docs"
    shutil.copytree(corpus_docs("nocobase-zh"), docs)
    shutil.copy(ROOT / "docs" / "tags.md", docs / "tags.md")
    for i in range(3):
        (docs / "import").mkdir(exist_ok=True)
        (docs / "import" / f"case-{i}.md").write_text(
            ARTICLE.format(title=f"导入案例 {i}", module="import", tag="导入", body="原来的正文。"), encoding="utf-8")
    data = tmp / "data"
    progress = []
    info = build_site(docs, data, workers=2, progress=lambda done, total: progress.append((done, total)))
    return {"docs": docs, "data": data, "info": info, "progress": progress}


def html_files(root):
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*.html")}


def text(root, path):
    return (root / path).read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_full_build_reports_progress_and_pages_list_modules_not_every_article(big):
    root = site_dir(big["data"])
    done, total = big["progress"][-1]
    assert done == total == big["info"]["rendered"] and big["info"]["pages"] >= 395
    assert len({d for d, _ in big["progress"]}) > 3  # it moved, not one jump at the end
    page_html = text(root, "import/case-0/index.html")
    assert "导入数据" in page_html and "modules/import/" in page_html  # the module's entry in the navigation
    assert "导入案例 1" not in page_html  # sibling articles are listed on the module page, not on every page
    module = text(root, "modules/import/index.html")
    assert all(f"导入案例 {i}" in module for i in range(3))


@pytest.mark.slow
def test_updating_one_article_rewrites_its_page_and_the_pages_listing_it_only(big):
    docs, data = big["docs"], big["data"]
    root = site_dir(data)
    before = html_files(root)
    (docs / "import" / "case-1.md").write_text(
        ARTICLE.format(title="导入案例 1（已修订）", module="import", tag="导入", body="修订后的正文。"), encoding="utf-8")
    info = update_site(docs, data, ["import/case-1.md"])
    assert site_dir(data) == root
    assert "修订后的正文" in text(root, "import/case-1/index.html")
    assert "导入案例 1（已修订）" in text(root, "modules/import/index.html")
    assert "导入案例 1（已修订）" in text(root, "tags/index.html")
    after = html_files(root)
    changed = {p for p in before if after.get(p) != before[p]}
    # its page, its module's page, the tags index and the home page kb generates (it lists every article)
    assert changed == {"import/case-1/index.html", "modules/import/index.html", "tags/index.html", "index.html"}
    assert "导入案例 1（已修订）" in text(root, "index.html")
    assert len(before) > 390 and info["removed"] == []
    index = json.loads(text(root, "search/search_index.json"))
    titles = [d["title"].replace("\u200b", "") for d in index["docs"] if d["location"].startswith("import/case-1/")]
    assert "导入案例 1（已修订）" in titles and "导入案例 1" not in titles


@pytest.mark.slow
def test_a_new_article_is_listed_and_an_unpublished_one_is_gone(big):
    docs, data = big["docs"], big["data"]
    root = site_dir(data)
    (docs / "import" / "case-new.md").write_text(
        ARTICLE.format(title="新的导入案例", module="import", tag="新标签", body="新文章。"), encoding="utf-8")
    update_site(docs, data, ["import/case-new.md"])
    assert "新文章" in text(root, "import/case-new/index.html")
    assert "新的导入案例" in text(root, "modules/import/index.html")
    assert "新标签" in text(root, "tags/index.html")

    (docs / "import" / "case-new.md").unlink()
    info = update_site(docs, data, ["import/case-new.md"])
    assert info["removed"] == ["import/case-new"]
    assert not (root / "import" / "case-new" / "index.html").exists()
    assert "新的导入案例" not in text(root, "modules/import/index.html")
    assert "新标签" not in text(root, "tags/index.html")
    index = json.loads(text(root, "search/search_index.json"))
    assert not [d for d in index["docs"] if d["location"].startswith("import/case-new/")]


@pytest.mark.slow
def test_a_failed_update_leaves_the_previous_pages_serving(big):
    from indexer.site import SiteBuildError

    docs, data = big["docs"], big["data"]
    root = site_dir(data)
    before = html_files(root)
    (docs / "import" / "case-2.md").write_text(  # a template the theme does not have: rendering fails
        "---\ntitle: 坏模板\nmodule: import\ntemplate: no-such-template.html\n---\n# 坏模板\n\n新正文。\n", encoding="utf-8")
    with pytest.raises(SiteBuildError, match="no-such-template"):
        update_site(docs, data, ["import/case-2.md"])
    assert html_files(root) == before
    assert "原来的正文" in text(root, "import/case-2/index.html")
    assert "坏模板" not in text(root, "modules/import/index.html")


@pytest.mark.slow
def test_site_status_follows_a_background_update_from_queued_to_live_or_failed(big):
    from analytics import accounts
    from indexer.build import build_full
    from kbserver import create_app
    from kbserver.db import open_db

    docs, data = big["docs"], big["data"]
    build_full(docs, data)
    app = create_app({"docs": docs, "data": data, "semantic_model": "off"})
    try:
        _, _, token = accounts.create_user(open_db(app.config["KB"]["database_url"]), "site-admin", "manager")
        client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
        (docs / "import" / "case-0.md").write_text(
            ARTICLE.format(title="导入案例 0", module="import", tag="导入", body="后台更新的正文。"), encoding="utf-8")
        ticket = app.extensions["kb_refresh_site"](["import/case-0.md"])
        assert client.get(f"/api/site/status?ticket={ticket}").status_code == 401
        first = client.get(f"/api/site/status?ticket={ticket}", headers=auth).get_json()
        assert first["state"] in ("queued", "building", "live")
        assert app.extensions["kb_site_updater"].wait(ticket, timeout=120)["state"] == "live"
        assert client.get(f"/api/site/status?ticket={ticket}", headers=auth).get_json()["state"] == "live"
        assert "后台更新的正文" in client.get("/import/case-0/").get_data(as_text=True)

        bad = app.extensions["kb_refresh_site"](["import/case-2.md"])  # still the missing template
        status = app.extensions["kb_site_updater"].wait(bad, timeout=120)
        assert status["state"] == "failed" and "no-such-template" in status["error"]
        assert "原来的正文" in client.get("/import/case-2/").get_data(as_text=True)

        assert client.get("/api/site/status", headers=auth).status_code == 400
        missing = client.get("/api/site/status?ticket=nope", headers=auth)
        assert missing.status_code == 404 and "nope" in missing.get_json()["error"]["message"]
    finally:
        app.extensions["kb_events"].close()
