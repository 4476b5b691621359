"""The static site MkDocs builds: pages, navigation by module, theme overrides, offline search."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURE_DOCS, ROOT
from indexer.site import build_site, site_dir


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
