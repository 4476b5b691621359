"""The one front-matter parser: what an article is, and how broken files are reported."""

import datetime as dt

import pytest

from indexer.articles import load_articles, parse_article, slug_for, split_front_matter, url_for
from indexer.errors import ArticleError


def test_front_matter_fields_become_the_article():
    text = "---\ntitle: 设置任务依赖\nsummary: 前后置任务\ntags: [甘特图, 依赖]\nmodule: gantt\nowner: 李娜\n" \
           "reviewed: 2026-09-18\nreview_every: 180\n---\n# 设置任务依赖\n\n## 操作步骤\n打开甘特图。\n"
    a = parse_article(text, "gantt/dependencies.md")
    assert (a.slug, a.url, a.path) == ("gantt/dependencies", "gantt/dependencies/", "gantt/dependencies.md")
    assert a.title == "设置任务依赖" and a.tags == ["甘特图", "依赖"] and a.module == "gantt"
    assert a.reviewed == dt.date(2026, 9, 18) and a.review_every == 180
    assert a.headings == ["操作步骤"]
    assert "打开甘特图" in a.body and "设置任务依赖" not in a.body  # the h1 is the title, not body text


def test_without_front_matter_title_comes_from_first_heading_and_slug_from_path():
    a = parse_article("# 快速开始\n\n创建第一个项目。\n", "guides/setup/index.md")
    assert a.title == "快速开始" and a.slug == "guides/setup" and a.url == "guides/setup/"
    assert a.tags == [] and a.reviewed is None


def test_without_heading_or_front_matter_title_comes_from_file_name():
    assert parse_article("just text", "faq/billing-cycle.md").title == "billing cycle"


def test_unknown_front_matter_keys_are_kept_but_ignored():
    a = parse_article("---\ntitle: X\nfavourite_colour: blue\n---\nbody", "x.md")
    assert a.title == "X" and a.meta["favourite_colour"] == "blue"


@pytest.mark.parametrize("path,slug,url", [
    ("index.md", "index", ""), ("README.md", "index", ""), ("guides/README.md", "guides", "guides/"),
    ("a/b/c.mdx", "a/b/c", "a/b/c/"),
])
def test_slugs_and_urls_follow_mkdocs(path, slug, url):
    assert slug_for(path) == slug and url_for(path) == url


def test_broken_front_matter_names_file_and_line():
    with pytest.raises(ArticleError) as err:
        split_front_matter('---\ntitle: ok\ntags: [a, b\nmodule: x\n---\nbody', "faq/broken.md")
    assert err.value.path == "faq/broken.md" and err.value.line >= 3
    assert str(err.value).startswith("faq/broken.md:")


def test_bad_dates_and_numbers_are_reported():
    with pytest.raises(ArticleError, match="reviewed"):
        parse_article("---\nreviewed: last week\n---\n", "a.md")
    with pytest.raises(ArticleError, match="review_every"):
        parse_article("---\nreview_every: often\n---\n", "a.md")


def test_loading_a_folder_skips_broken_files_and_goes_on(docs_dir):
    (docs_dir / "latin1.md").write_bytes("# caf\xe9\n".encode("latin-1"))
    problems = []
    articles = load_articles(docs_dir, on_problem=problems.append)
    slugs = {a.slug for a in articles}
    assert {"import/excel-import", "account/api-rate-limit", "guides", "guides/setup"} <= slugs
    assert "index" not in slugs  # `search: exclude: true` pages are not articles
    assert sorted(p.path for p in problems) == ["broken.md", "latin1.md"]
    assert any("broken.md:4" in str(p) for p in problems)


def test_missing_docs_folder_says_what_to_do(tmp_path):
    with pytest.raises(ArticleError, match="KB_DOCS"):
        load_articles(tmp_path / "nope")


@pytest.mark.parametrize("front,line", [("reviewed: 2026-02-30", 2), ("reviewed: 2026-09-18 25:00:00", 2),
                                        ("title: x\nreview_every: often", 3), ("title: x\nreviewed: last week", 3)])
def test_impossible_values_are_reported_with_file_and_line(front, line):
    with pytest.raises(ArticleError) as err:
        parse_article(f"---\n{front}\n---\n# X\n", "faq/x.md")
    assert str(err.value).startswith(f"faq/x.md:{line}:")


def test_a_file_name_that_is_not_utf8_is_reported_and_skipped(docs_dir):
    import os

    os.makedirs(docs_dir, exist_ok=True)
    with open(os.path.join(os.fsencode(docs_dir), b"caf\xe9.md"), "w") as f:
        f.write("# cafe\n")
    problems = []
    articles = load_articles(docs_dir, on_problem=problems.append)
    assert any("not UTF-8" in str(p) for p in problems) and len(articles) == 6


def test_markdown_renders_correctly_from_many_threads_at_once():
    """Editors' previews and saves render in request threads while the indexer renders too; a shared
    Markdown object mixed their outputs (one editor saw another's text) or raised."""
    import threading

    from indexer.articles import markdown_html

    texts = [f"# 标题 {i}\n\n" + "\n\n".join(f"段落 {i}-{j} **粗体** 与 [链接](/a{i})" for j in range(40))
             for i in range(8)]
    expected = [markdown_html(t) for t in texts]
    wrong = []

    def render(i):
        for _ in range(15):
            if markdown_html(texts[i]) != expected[i]:
                wrong.append(i)

    threads = [threading.Thread(target=render, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
