"""Build the reader-facing static site. The only module that knows the site generator is MkDocs.

Material for MkDocs 9.x reaches end of life in May 2027 (Zensical is its successor): everything
generator-specific lives here, so swapping it means rewriting this file and the theme overrides.

The build stages the docs folder first: articles that fail to parse are left out (and reported),
``.mdx`` files become ``.md``, and navigation is generated from each article's ``module``. The site
is built into a fresh directory and ``<data>/site`` (a symlink) is switched to it atomically, so
a running server never serves half a site.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from .analysis import USER_DICT
from .articles import ARTICLE_SUFFIXES, FRONT_MATTER, find_sources, is_excluded, is_private, parse_article, read_text
from .errors import ArticleError, KBError

DEFAULT_MKDOCS_CONFIG = Path(__file__).resolve().parent.parent / "mkdocs.yml"
SITE_LINK = "site"
SITES = "sites"
SITE_MANIFEST = "site.manifest.json"


class SiteBuildError(KBError):
    """MkDocs could not build the site."""

    status = 500
    code = "site_build"


def site_dir(data_dir: Path) -> Path | None:
    """The directory the current site lives in, or None before the first build."""
    link = Path(data_dir) / SITE_LINK
    if not link.exists():
        return None
    return link.resolve()


def stage_docs(docs_dir: Path, stage: Path, on_problem=None) -> list:
    """Copy what MkDocs should build into stage; return the articles staged."""
    docs_dir = Path(docs_dir)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    articles = []
    sources = set(find_sources(docs_dir))
    for path in sorted(docs_dir.rglob("*")):
        rel = path.relative_to(docs_dir)
        if is_private(rel) or not path.is_file() or not _utf8_name(rel):
            continue
        if path in sources:
            try:
                article = parse_article(read_text(path, docs_dir), rel.as_posix())
            except ArticleError as exc:
                if on_problem:
                    on_problem(exc)
                continue
            target = stage / rel.with_suffix(".md")
            if target.exists():  # x.md next to x.mdx: the .md wins, as MkDocs would
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(with_slug(read_text(path, docs_dir), article.slug), encoding="utf-8")
            article.path = rel.with_suffix(".md").as_posix()
            articles.append(article)
        elif path.suffix.lower() not in ARTICLE_SUFFIXES:
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if not (stage / "index.md").exists() and not (stage / "README.md").exists():
        (stage / "index.md").write_text(default_home(articles), encoding="utf-8")
    return articles


def default_home(articles: list) -> str:
    """A home page listing every article by module, for docs folders that have no index.md."""
    lines = ["---", "search:", "  exclude: true", "hide:", "  - feedback", "---", "", "# 帮助中心", "",
             "在右上角的搜索框输入问题，或从下面的文章开始。", ""]
    groups: dict[str, list] = {}
    for a in sorted(articles, key=lambda a: (a.module, a.title)):
        groups.setdefault(a.module or "", []).append(a)
    for module, items in groups.items():
        if module:
            lines += [f"## {module}", ""]
        lines += [f"- [{a.title}]({a.path})" for a in items] + [""]
    return "\n".join(lines)


def with_slug(text: str, slug: str) -> str:
    """The source with `kb_slug` added to its front matter, so pages name themselves exactly as the
    index does (page URLs are percent-encoded: 导入/Excel 导入 would not match)."""
    line = "kb_slug: " + json.dumps(slug, ensure_ascii=False) + "\n"
    match = FRONT_MATTER.match(text)
    if match:
        opening = text.index("\n") + 1
        return text[:opening] + line + text[opening:]
    return "---\n" + line + "---\n" + text.lstrip("\ufeff")


def _utf8_name(rel: Path) -> bool:
    try:
        str(rel).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def navigation(articles: list, module_names: dict) -> list | None:
    """Nav grouped by module (in the order of module_names), or None to let MkDocs walk folders."""
    if not any(a.module for a in articles):
        return None
    top, groups = [], {}
    for article in sorted(articles, key=lambda a: a.path):
        if is_excluded(article.meta) or not article.module:
            top.append({article.title: article.path})
        else:
            groups.setdefault(article.module, []).append({article.title: article.path})
    order = list(module_names) + sorted(m for m in groups if m not in module_names)
    nav = [entry for entry in top if list(entry.values())[0] in ("index.md", "README.md")]
    nav += [{module_names.get(m, m): groups[m]} for m in order if m in groups]
    nav += [entry for entry in top if entry not in nav]
    return nav


def build_site(docs_dir: Path, data_dir: Path, mkdocs_config: Path | None = None, on_problem=None) -> dict:
    """Build the static site from docs_dir into data_dir/site; returns {pages, seconds, path}."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    started = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    config_file = Path(mkdocs_config or DEFAULT_MKDOCS_CONFIG).resolve()
    if not config_file.is_file():
        raise SiteBuildError(f"MkDocs config {config_file} not found: pass --mkdocs-config or set KB_MKDOCS_CONFIG")
    stage = data_dir / "site-src"
    articles = stage_docs(Path(docs_dir), stage, on_problem=on_problem)
    sites = data_dir / SITES
    sites.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%S") + f"-{time.perf_counter_ns() % 1000000}"
    target = sites / name
    _quiet_jieba(data_dir)
    _quiet_mkdocs()
    try:
        config = load_config(config_file=str(config_file), docs_dir=str(stage), site_dir=str(target))
        module_names = (config.get("extra") or {}).get("kb_modules") or {}
        nav = navigation(articles, module_names)
        if nav is not None:
            config["nav"] = nav
        search = config["plugins"].get("material/search") or config["plugins"].get("search")
        if search is not None and USER_DICT.exists():
            search.config["jieba_dict_user"] = str(USER_DICT)
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    except (MkDocsException, OSError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise SiteBuildError(f"site build failed: {exc}") from None
    _switch_site(data_dir, target)
    manifest = {a.slug: a.content_hash for a in articles if not is_excluded(a.meta)}  # what the index holds too
    (data_dir / SITE_MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return {"pages": len(articles), "seconds": time.perf_counter() - started, "path": str(target)}


def site_manifest(data_dir: Path) -> dict[str, str]:
    """{slug: content hash} of the articles the current site was built from ({} if unknown)."""
    try:
        return json.loads((Path(data_dir) / SITE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _switch_site(data_dir: Path, target: Path) -> None:
    link = data_dir / SITE_LINK
    previous = site_dir(data_dir)
    tmp = data_dir / (SITE_LINK + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, data_dir), tmp)
    os.replace(tmp, link)
    for old in (data_dir / SITES).iterdir():
        if old != target and old != previous:
            shutil.rmtree(old, ignore_errors=True)


def _quiet_jieba(data_dir: Path) -> None:
    # Material's search plugin segments Chinese with jieba, which logs to stderr and caches in /tmp.
    import jieba

    jieba.setLogLevel(logging.WARNING)
    cache = data_dir / "jieba"
    cache.mkdir(exist_ok=True)
    jieba.dt.tmp_dir = str(cache)


def _quiet_mkdocs() -> None:
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
