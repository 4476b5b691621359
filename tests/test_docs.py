"""The starter knowledge base and the README are part of the product: both are tested."""

import re

import pytest
from click.testing import CliRunner

from conftest import REAL_DOCS, ROOT
from indexer.articles import find_sources, read_source
from kbserver.cli import cli
from kbserver.settings import SETTINGS

README = (ROOT / "README.md").read_text(encoding="utf-8")
REQUIRED = ("title", "summary", "tags", "module", "owner", "reviewed", "review_every")
AREAS = ["projects", "tasks", "gantt", "milestones", "kanban", "resources", "budget", "risks", "approvals", "reports",
         "import", "account", "permissions", "integrations", "billing", "security", "troubleshooting", "faq"]


def starter_articles():
    articles = [read_source(p, REAL_DOCS) for p in find_sources(REAL_DOCS)]
    # practices/ holds customers' published contributions (e.g. from trying the README): not starter articles
    return [a for a in articles if not (a.meta.get("search") or {}).get("exclude") and not a.slug.startswith("practices/")]


def test_starter_docs_are_a_real_knowledge_base():
    articles = starter_articles()
    assert len(articles) >= 40
    english = [a for a in articles if not re.search(r"[\u4e00-\u9fff]", a.title)]
    assert len(english) >= 6 and len(articles) - len(english) > len(articles) / 2
    assert {a.module for a in articles} >= set(AREAS)


@pytest.mark.parametrize("article", starter_articles(), ids=lambda a: a.slug)
def test_every_article_has_complete_front_matter_and_actionable_sections(article):
    missing = [k for k in REQUIRED if not article.meta.get(k)]
    assert not missing, f"{article.path} lacks {missing}"
    assert article.reviewed and article.review_every
    sections = " ".join(article.headings)
    chinese = ("适用场景", "操作步骤", "常见误区", "示例")
    english = ("When this applies", "Steps", "Common mistakes", "Example")
    assert all(s in sections for s in chinese) or all(s in sections for s in english), article.path
    assert len(article.body) > 400, f"{article.path} is too thin to act on"


def test_readme_documents_every_setting():
    for s in SETTINGS:
        assert s.env in README and s.flag in README, s.name


def test_readme_documents_every_command():
    for name in cli.commands:
        assert f"kb {name}" in README, name


def test_readme_has_the_two_setup_commands():
    assert "pip install -e . && kb serve" in README
    assert "bash .ci/run" in README


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and len(result.output) > 80
