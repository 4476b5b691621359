"""Build the reader-facing static site. The only module that knows the site generator is MkDocs.

Material for MkDocs 9.x reaches end of life in May 2027 (Zensical is its successor): everything
generator-specific lives here, so swapping it means rewriting this file and the theme overrides.

The build stages the docs folder first: articles that fail to parse are left out (and reported),
``.mdx`` files become ``.md``, and navigation is generated from each article's ``module``. The site
is built into a fresh directory and ``<data>/site`` (a symlink) is switched to it atomically, so
a running server never serves half a site.

Why it scales to 10,000 articles. Material renders the whole navigation into every page, so a
navigation listing every article made the build grow with the square of the article count (36
minutes for 7,489 of 10,000 pages). Here the navigation lists the modules only, each pointing at a
generated module page (``modules/<module>.md``) that lists its articles: an article page costs the
same at 100 or 10,000 articles. Article pages are rendered in worker processes (``--site-workers``),
forked after the shared work (configuration, files, tags, listing pages) is done once.

The same split is what makes one article's update cheap (`update_site`): its page, its module's page,
the home page when kb generates it and the tag listing are the only pages that mention it. They are
rendered into a temporary folder and only moved into the live site once all of them were built, so a
failed update leaves the previous site serving.

The site speaks the company's language (``--language``/KB_LANGUAGE, passed as ``language``): Material's
chrome (search box, table of contents, footer), the 404 page and kb's own words on every page are
rendered in it. A static page can only be one language, so the site is built in the company's language
and rebuilt when it changes (the state file records it; `site_manifest` reports a site built in another
language as unknown). kb's scripts on those pages (answer box, ask form, votes) are live and follow the
reader's browser when the kb service serves them.
"""

from __future__ import annotations

import fcntl
import functools
import html
import json
import logging
import multiprocessing
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from .analysis import USER_DICT
from .articles import ARTICLE_SUFFIXES, FRONT_MATTER, find_sources, is_excluded, is_private, parse_article, read_text
from .errors import ArticleError, InvalidInput, KBError
from .i18n import LANGUAGES, N_, current_language, translations, translator

DEFAULT_MKDOCS_CONFIG = Path(__file__).resolve().parent.parent / "mkdocs.yml"
SITE_LINK = "site"
SITES = "sites"
STAGE = "site-src"
SITE_MANIFEST = "site.manifest.json"
SITE_STATE = "site.state.json"  # what update_site needs to know about the current site's articles
SITE_LOCK = "site.lock"
MODULES = "modules"  # generated module pages: modules/<module>.md
TAGS_DIRECTIVE = "<!-- material/tags"
HOMES = ("index.md", "README.md")


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


# -- staging: the docs folder as MkDocs should see it -----------------------------------------------
def _entry(article, source: str) -> dict:
    """What the site needs to remember about an article between builds (JSON)."""
    return {"source": source, "path": article.path, "slug": article.slug, "title": article.title,
            "module": article.module, "tags": list(article.tags), "excluded": is_excluded(article.meta),
            "hash": article.content_hash}


def _stage_article(path: Path, docs_dir: Path, stage: Path, on_problem=None) -> dict | None:
    rel = path.relative_to(docs_dir)
    try:
        text = read_text(path, docs_dir)
        article = parse_article(text, rel.as_posix())
    except ArticleError as exc:
        if on_problem:
            on_problem(exc)
        return None
    target = stage / rel.with_suffix(".md")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(with_slug(text, article.slug), encoding="utf-8")
    os.replace(tmp, target)
    article.path = rel.with_suffix(".md").as_posix()
    return _entry(article, rel.as_posix())


def stage_docs(docs_dir: Path, stage: Path, on_problem=None, workers: int = 1) -> list[dict]:
    """Copy what MkDocs should build into stage; return the staged articles (as `_entry` dicts).

    Articles are parsed (to leave out broken ones and know titles, modules and tags) by `workers` processes."""
    docs_dir = Path(docs_dir)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    sources, targets = [], set()
    found = set(find_sources(docs_dir))
    for path in sorted(docs_dir.rglob("*")):
        rel = path.relative_to(docs_dir)
        if is_private(rel) or not path.is_file() or not _utf8_name(rel):
            continue
        if path in found:
            target = rel.with_suffix(".md")
            if target not in targets:  # x.md next to x.mdx: the .md (sorted first) wins, as MkDocs would
                targets.add(target)
                sources.append(path)
        elif path.suffix.lower() not in ARTICLE_SUFFIXES:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / rel)
    if workers > 1 and len(sources) >= 500 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            staged = pool.map(functools.partial(_stage_quietly, docs_dir=docs_dir, stage=stage), sources,
                              chunksize=max(1, len(sources) // (workers * 8)))
    else:
        staged = [_stage_quietly(path, docs_dir, stage) for path in sources]
    articles = []
    for path, entry in zip(sources, staged, strict=True):
        if entry is None:  # broken: parsed again here, so the problem reaches on_problem with its details
            entry = _stage_article(path, docs_dir, stage, on_problem)
        if entry:
            articles.append(entry)
    return articles


def _stage_quietly(path: Path, docs_dir: Path, stage: Path) -> dict | None:
    return _stage_article(path, docs_dir, stage)


def _group(entry: dict) -> str:
    """The navigation section of an article: its module, else its top folder ('' for top-level files)."""
    if entry["module"]:
        return entry["module"]
    parts = PurePosixPath(entry["path"]).parts
    return parts[0] if len(parts) > 1 else ""


def _module_file(group: str) -> str:
    name = re.sub(r"[^\w-]+", "-", group).strip("-") or "module"
    return f"{MODULES}/{name}.md"


LIST_MARK = "<!-- kb-article-list -->"
LISTS = "site-lists"  # beside the stage: the HTML that replaces LIST_MARK on each generated page


def _links(entries: list[dict], base: str) -> list[str]:
    """An HTML list of links. It goes into the page after Markdown ran: Python-Markdown needs ~1 ms per
    link or per raw HTML tag, 10 s and more for a 10,000-article home page."""
    items = [f'<li><a href="{base}{html.escape(quote(_page_url(e["path"])))}">{html.escape(e["title"])}</a></li>'
             for e in sorted(entries, key=lambda e: (e["title"], e["path"]))]
    return ['<ul class="kb-article-list">', *items, "</ul>"]


def _page_url(path: str) -> str:
    """The URL of a staged page relative to the site root (use_directory_urls, as kb's server expects)."""
    folder = _page_dir(path)
    return folder + "/" if folder else ""


def module_page(title: str, entries: list[dict]) -> tuple[str, str]:
    """A module's page (Markdown, HTML list): every article of the module, by title."""
    lines = ["---", "title: " + json.dumps(title, ensure_ascii=False), "search:", "  exclude: true",
             "hide:", "  - feedback", "---", "", f"# {html.escape(title)}", "", LIST_MARK, ""]
    return "\n".join(lines), "\n".join(_links(entries, "../../"))


def default_home(articles: list[dict], module_names: dict, language: str = LANGUAGES[0]) -> tuple[str, str]:
    """A home page (Markdown, HTML list) listing every article by module, for docs without an index.md."""
    t = translator(language)
    lines = ["---", "search:", "  exclude: true", "hide:", "  - feedback", "---", "", "# " + t(HOME_TITLE), "",
             t(N_("在右上角的搜索框输入问题，或从下面的文章开始。")), "", LIST_MARK, ""]
    body = []
    for group, items in _groups(articles, module_names).items():
        if group:
            body.append(f"<h2>{html.escape(module_names.get(group, group))}</h2>")
        body += _links(items, "")
    return "\n".join(lines), "\n".join(body)


def _groups(articles: list[dict], module_names: dict) -> dict[str, list[dict]]:
    groups: dict[str, list] = {}
    for entry in articles:
        if not entry["excluded"]:
            groups.setdefault(_group(entry), []).append(entry)
    order = [m for m in module_names if m in groups] + sorted(m for m in groups if m not in module_names)
    return {m: groups[m] for m in order}


def _write_generated(stage: Path, articles: list[dict], module_names: dict, groups: set | None,
                     generated_home: bool, language: str = LANGUAGES[0]) -> list[str]:
    """(Re)write the module pages of `groups` (all when None) and the generated home; returns their paths."""
    written, lists = [], stage.parent / LISTS

    def write(path, page):
        _write(stage / path, page[0])
        _write(lists / (path + ".html"), page[1])
        written.append(path)

    for group, entries in _groups(articles, module_names).items():
        if group and (groups is None or group in groups):
            write(_module_file(group), module_page(module_names.get(group, group), entries))
    for group in groups or ():  # a module whose last article went: its page goes too
        path = _module_file(group)
        if group and path not in written and (stage / path).exists():
            (stage / path).unlink()
    if generated_home:
        write("index.md", default_home(articles, module_names, language))
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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


HOME_LABEL = N_("首页")
HOME_TITLE = N_("帮助中心")
# The words of mkdocs.yml's "was this helpful?" box as kb ships them: translated into the site's language.
# A company's own wording (not in the catalogue) is shown as it wrote it.
FEEDBACK_WORDS = (N_("这篇文章有帮助吗？"), N_("有帮助"), N_("没有帮助"), N_("感谢您的反馈！"),
                  N_("感谢反馈，我们会改进这篇文章。"))


def site_language(language: str | None) -> str:
    """The language to build in: language, or the current one (the CLI sets the company's); checked."""
    language = language or current_language()
    if language not in LANGUAGES:
        raise InvalidInput(N_("站点语言只能是 %(choices)s，收到的是 %(language)r"), choices=", ".join(LANGUAGES),
                           language=language, field="language")
    return language


def navigation(articles: list[dict], module_names: dict, language: str = LANGUAGES[0]) -> list:
    """Home first, then one entry per module (its generated page, in the order of module_names), then
    the other top-level pages. Articles are listed on their module's page, not in every page's nav."""
    homes = [a for a in articles if a["path"] in HOMES][:1]
    # "首页", not the home page's title: Material already shows the site's name above the navigation,
    # and the home page is usually titled with that same name (it read twice, one above the other).
    nav = [{translator(language)(HOME_LABEL): a["path"]} for a in homes]
    groups = _groups(articles, module_names)
    nav += [{module_names.get(g, g): _module_file(g)} for g in groups if g]
    nav += [{a["title"]: a["path"]} for a in groups.get("", []) if a["path"] not in HOMES]
    nav += [{a["title"]: a["path"]} for a in articles
            if a["excluded"] and _group(a) == "" and a["path"] not in HOMES]
    return nav


# -- rendering with MkDocs -----------------------------------------------------------------------
class _Site:
    """One MkDocs configuration prepared for rendering some or all pages of the staged docs."""

    def __init__(self, config_file: Path, stage: Path, target: Path, data_dir: Path, articles: list[dict],
                 language: str = LANGUAGES[0]):
        from mkdocs.commands.build import get_navigation
        from mkdocs.config import load_config
        from mkdocs.structure.files import get_files, set_exclusions
        from mkdocs.structure.pages import Page

        _quiet_jieba(data_dir)
        _quiet_mkdocs()
        config = load_config(config_file=str(config_file), docs_dir=str(stage), site_dir=str(target))
        self.module_names = (config.get("extra") or {}).get("kb_modules") or {}
        config["nav"] = navigation(articles, self.module_names, language)
        _speak(config, language)
        search = self.search_plugin(config)
        if search is not None and USER_DICT.exists():
            search.config["jieba_dict_user"] = str(USER_DICT)
        config.plugins.on_startup(command="build", dirty=False)
        self.config = config = config.plugins.on_config(config)
        config.plugins.on_pre_build(config=config)
        files = get_files(config)
        self.env = config.theme.get_env()
        # kb's words in the theme (indexer/theme/*.html) are catalogue msgids, as in kb's own pages: {{ _("中文") }}
        self.env.install_gettext_translations(translations(language), newstyle=True)
        files.add_files_from_theme(self.env, config)
        self.files = files = config.plugins.on_files(files, config=config)
        set_exclusions(files, config)
        self.nav = config.plugins.on_nav(get_navigation(files, config), config=config, files=files)
        self.pages = {}
        for file in files.documentation_pages():
            if file.page is None:
                Page(None, file, config)
            self.pages[file.src_uri] = file.page
        self.known = {a["path"]: a for a in articles}
        self.lists = stage.parent / LISTS

    @staticmethod
    def search_plugin(config):
        return config["plugins"].get("material/search") or config["plugins"].get("search")

    def listing_pages(self, stage: Path) -> list[str]:
        """Pages that list articles: home, module pages, pages with a tags listing, and any page kb did
        not stage as an article (theirs to decide)."""
        found = []
        for src in self.pages:
            entry = self.known.get(src)
            if entry is None or src in HOMES or (entry["excluded"] and _reads(stage / src, TAGS_DIRECTIVE)):
                found.append(src)
        return found

    def prepare(self, listing: list[str], populate: list[str] | None = None) -> None:
        """Tell the plugins every article's tags and title without rendering it, then render the listing
        pages (all, or those in `populate`): they need all of them, the tags index lists every tagged page."""
        config, files = self.config, self.files
        for src, page in self.pages.items():
            entry = self.known.get(src)
            if entry is not None and entry["tags"] and src not in listing:  # untagged: nothing to tell
                page.meta = {"title": entry["title"], "tags": entry["tags"]}
                page.markdown = ""
                config.plugins.on_page_markdown("", page=page, config=config, files=files)
        from mkdocs.commands.build import _populate_page

        for src in listing if populate is None else populate:
            page = self.pages[src]
            _populate_page(page, config, files)
            if LIST_MARK in page.content:
                try:
                    page.content = page.content.replace(LIST_MARK, (self.lists / (src + ".html")).read_text("utf-8"))
                except OSError:
                    pass  # a page of theirs that merely mentions the marker
        self.env = config.plugins.on_env(self.env, config=config, files=files)

    def render(self, sources: list[str], populate: bool = True, progress=None) -> list[dict]:
        """Render these pages into the target folder; returns their offline-search entries."""
        from mkdocs.commands.build import _build_page, _populate_page

        config, files = self.config, self.files
        doc_files = files.documentation_pages()
        search = self.search_plugin(config)
        if search is not None:
            search.search_index.entries = []
        for n, src in enumerate(sources, 1):
            page = self.pages[src]
            if populate:
                page.meta, page.markdown = {}, None
                _populate_page(page, config, files)
            _build_page(page, config, doc_files, self.nav, self.env)
            if progress and n % 50 == 0:
                progress(50)
        if progress:
            progress(len(sources) % 50)
        return list(search.search_index.entries) if search is not None else []

    def search_docs(self, entries: list[dict]) -> list[dict]:
        """Entries as the search plugin writes them (Chinese segmented), for merging into an index."""
        search = self.search_plugin(self.config)
        if search is None:
            return []
        search.search_index.entries = entries
        return json.loads(search.search_index.generate_search_index(None))["docs"]

    def finish(self, entries: list[dict]) -> None:
        """Static files, the theme's templates (404, sitemap) and the offline search index."""
        from mkdocs.commands.build import _build_theme_template

        config = self.config
        self.files.copy_static_files()
        for template in config.theme.static_templates:
            _build_theme_template(template, self.env, self.files, config, self.nav)
        search = self.search_plugin(config)
        if search is not None:
            search.search_index.entries = entries
        config.plugins.on_post_build(config=config)
        config.plugins.on_shutdown()


def _speak(config, language: str) -> None:
    """Material's chrome and the feedback box's words in language."""
    config.theme["language"] = language
    t = translator(language)
    feedback = ((config.get("extra") or {}).get("analytics") or {}).get("feedback") or {}
    if feedback.get("title"):
        feedback["title"] = t(feedback["title"])
    for rating in feedback.get("ratings") or ():
        for key in ("name", "note"):
            if rating.get(key):
                rating[key] = t(rating[key])


def _reads(path: Path, needle: str) -> bool:
    try:
        return needle in path.read_text(encoding="utf-8")
    except OSError:
        return False


def _render_share(site: _Site, sources: list[str], queue) -> None:
    """A worker process: render its share of the article pages, report progress, send back search entries."""
    try:
        entries = site.render(sources, progress=lambda n: queue.put(("done", n)))
        queue.put(("entries", entries))
    except BaseException as exc:  # noqa: BLE001 - the parent reports it; a worker must always answer
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _render_parallel(site: _Site, sources: list[str], workers: int, progress=None) -> list[dict]:
    if workers <= 1 or len(sources) < 200 or "fork" not in multiprocessing.get_all_start_methods():
        return site.render(sources, progress=progress)
    ctx = multiprocessing.get_context("fork")  # the workers inherit the prepared configuration
    queue = ctx.Queue()
    shares = [sources[k::workers] for k in range(workers)]
    procs = [ctx.Process(target=_render_share, args=(site, share, queue), daemon=True) for share in shares]
    for p in procs:
        p.start()
    entries, answers, error = [], 0, None
    try:
        while answers < len(procs):
            try:
                kind, value = queue.get(timeout=5)
            except Exception:  # noqa: BLE001 - queue.Empty: check no worker died without answering
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise SiteBuildError(N_("生成站点的一个工作进程意外退出，请重新运行 kb build")) from None
                continue
            if kind == "done":
                if progress:
                    progress(value)
            elif kind == "entries":
                entries.extend(value)
                answers += 1
            else:
                error, answers = error or value, answers + 1
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    if error:
        raise SiteBuildError(N_("站点生成失败：%(error)s"), error=error)
    return entries


@contextmanager
def _site_lock(data_dir: Path):
    """One site build or update at a time per data folder, across processes (server and CLI)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / SITE_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _config_file(mkdocs_config) -> Path:
    config_file = Path(mkdocs_config or DEFAULT_MKDOCS_CONFIG).resolve()
    if not config_file.is_file():
        raise SiteBuildError(N_("找不到 MkDocs 配置文件 %(path)s：请用 --mkdocs-config 指定，或设置 KB_MKDOCS_CONFIG"),
                             path=str(config_file))
    return config_file


def _module_names(config_file: Path) -> dict:
    from mkdocs.config import load_config

    return (load_config(config_file=str(config_file)).get("extra") or {}).get("kb_modules") or {}


def build_site(docs_dir: Path, data_dir: Path, mkdocs_config: Path | None = None, on_problem=None,
               workers: int = 2, progress=None, language: str | None = None) -> dict:
    """Build the static site from docs_dir into data_dir/site; returns {pages (articles), rendered, seconds, path}.

    progress(done, total) is called as pages are written; article pages render in `workers` processes.
    language (zh, en) is the site's; None means the current language (the CLI sets the company's)."""
    from mkdocs.exceptions import MkDocsException

    started = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    config_file = _config_file(mkdocs_config)
    language = site_language(language)
    with _site_lock(data_dir):
        stage = data_dir / STAGE
        articles = stage_docs(Path(docs_dir), stage, on_problem=on_problem, workers=workers)
        generated_home = not any((stage / h).exists() for h in HOMES)
        sites = data_dir / SITES
        sites.mkdir(parents=True, exist_ok=True)
        target = sites / (time.strftime("%Y%m%dT%H%M%S") + f"-{time.perf_counter_ns() % 1000000}")
        try:
            names = _module_names(config_file)
            _write_generated(stage, articles, names, None, generated_home, language)
            site = _Site(config_file, stage, target, data_dir, _with_home(stage, articles, language), language)
            listing = site.listing_pages(stage)
            pages = [src for src in site.pages if src not in listing]
            done = [0]
            total = len(site.pages)

            def tick(n):
                done[0] += n
                if progress:
                    progress(done[0], total)

            site.prepare(listing)
            entries = _render_parallel(site, pages, workers, tick)
            entries += site.render(listing, populate=False, progress=tick)
            site.finish(entries)
        except (MkDocsException, OSError, ValueError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise SiteBuildError(N_("站点生成失败：%(error)s"), error=str(exc)) from None
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        _switch_site(data_dir, target)
        _save_state(data_dir, articles, generated_home, language)
    return {"pages": len(articles), "rendered": len(site.pages), "seconds": time.perf_counter() - started,
            "path": str(target), "language": language}


def _with_home(stage: Path, articles: list[dict], language: str = LANGUAGES[0]) -> list[dict]:
    """The articles plus the generated home page, if there is one (it is not an article)."""
    if any(a["path"] in HOMES for a in articles) or not (stage / "index.md").exists():
        return articles
    return [{"source": None, "path": "index.md", "slug": "", "title": translator(language)(HOME_TITLE), "module": "",
             "tags": [],
             "excluded": True, "hash": ""}] + articles


def _save_state(data_dir: Path, articles: list[dict], generated_home: bool, language: str) -> None:
    _write(data_dir / SITE_STATE, json.dumps({"articles": articles, "generated_home": generated_home,
                                              "language": language}, ensure_ascii=False))
    manifest = {a["slug"]: a["hash"] for a in articles if not a["excluded"]}  # what the index holds too
    _write(data_dir / SITE_MANIFEST, json.dumps(manifest, ensure_ascii=False))


def update_site(docs_dir: Path, data_dir: Path, changed_paths: list[str], mkdocs_config: Path | None = None,
                on_problem=None, language: str | None = None) -> dict:
    """Bring the site up to date after these docs (paths relative to docs_dir) were added, changed or
    removed, rendering only the pages that show them. Builds the whole site when there is none yet, or
    when a module appears or goes (every page's navigation lists the modules), or when language is given
    and is not the one the site was built in (None: the site's own language, so a background thread that
    knows no company setting keeps the site in one language).

    Returns {pages: [files written], removed: [pages taken down], seconds}; raises SiteBuildError with
    the live site untouched when a page cannot be rendered."""
    started = time.perf_counter()
    docs_dir, data_dir = Path(docs_dir), Path(data_dir).resolve()
    paths = sorted({_clean_rel(p) for p in changed_paths})
    try:
        state = json.loads((data_dir / SITE_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    built_in = _state_language(state)
    language = site_language(language or built_in)
    if (state is None or site_dir(data_dir) is None or not (data_dir / STAGE).is_dir()
            or language != built_in):
        return _full_update(docs_dir, data_dir, mkdocs_config, on_problem, started, language)
    config_file = _config_file(mkdocs_config)
    with _site_lock(data_dir):
        result = _update_pages(docs_dir, data_dir, paths, config_file, state, on_problem, language)
    if result is None:
        return _full_update(docs_dir, data_dir, mkdocs_config, on_problem, started, language)
    result["seconds"] = time.perf_counter() - started
    return result


def _state_language(state: dict | None) -> str | None:
    """The language a site state was built in (sites built before kb recorded it were Chinese)."""
    if state is None:
        return None
    return state.get("language") or LANGUAGES[0]


def _full_update(docs_dir, data_dir, mkdocs_config, on_problem, started, language) -> dict:
    build_site(docs_dir, data_dir, mkdocs_config, on_problem=on_problem, workers=1, language=language)
    return {"pages": ["*"], "removed": [], "seconds": time.perf_counter() - started}


def _update_pages(docs_dir: Path, data_dir: Path, paths: list[str], config_file: Path, state: dict,
                  on_problem, language: str) -> dict | None:
    """update_site's work under the lock; None when the whole site must be built instead."""
    root = site_dir(data_dir)
    stage = data_dir / STAGE
    articles = {a["source"]: a for a in state["articles"]}
    by_path = {a["path"]: a for a in state["articles"]}
    touched, groups, removed, tags_changed = [], set(), [], False
    for rel in paths:
        old = articles.get(rel)
        source = docs_dir / rel
        new = None
        if source.is_file() and PurePosixPath(rel).suffix.lower() in ARTICLE_SUFFIXES:
            owner = by_path.get(PurePosixPath(rel).with_suffix(".md").as_posix())
            if owner is not None and owner["source"] != rel:  # x.md next to x.mdx: the .md wins
                continue
            new = _stage_article(source, docs_dir, stage, on_problem)
            if new is None:  # broken: its last good page stays, as its last good version stays in search
                continue
        elif old is not None:
            (stage / old["path"]).unlink(missing_ok=True)
            removed.append(old["path"])
        for entry in (old, new):
            if entry:
                groups.add(_group(entry))
                tags_changed = tags_changed or bool(entry["tags"])
        if old:
            articles.pop(rel)
            by_path.pop(old["path"], None)
        if new:
            articles[rel] = by_path[new["path"]] = new
            touched.append(new["path"])
    current = sorted(articles.values(), key=lambda a: a["path"])
    if set(_groups(current, {})) != set(_groups(state["articles"], {})):
        return None  # a module appeared or went: every page's navigation changes
    generated_home = state.get("generated_home", False)
    target = data_dir / (SITES + ".update")
    shutil.rmtree(target, ignore_errors=True)
    try:
        written = _write_generated(stage, current, _module_names(config_file), groups,
                                   generated_home and not any(a["path"] in HOMES for a in current), language)
        site = _Site(config_file, stage, target, data_dir, _with_home(stage, current, language), language)
        listing = site.listing_pages(stage)
        tag_pages = [src for src in listing if _reads(stage / src, TAGS_DIRECTIVE)]
        render_listing = [src for src in listing if src in written or src in touched
                          or (tags_changed and src in tag_pages)]
        # the tags index is read even when not rendered: the tag links on the article's page point into it
        site.prepare(listing, populate=sorted(set(render_listing) | set(tag_pages)))
        entries = site.render([src for src in touched if src not in listing])
        entries += site.render(render_listing, populate=False)
        docs = site.search_docs(entries)
    except Exception as exc:  # noqa: BLE001 - a template, plugin or disk error: nothing was moved in
        shutil.rmtree(target, ignore_errors=True)
        raise SiteBuildError(N_("站点更新失败，线上的页面保持不变：%(error)s"), error=str(getattr(exc, "message", exc))) from None
    # Everything rendered: move it in (each file atomically), then take removed pages down.
    urls = {site.pages[src].url for src in touched + render_listing}
    pages = []
    for file in sorted(p for p in target.rglob("*") if p.is_file()):
        rel_out = file.relative_to(target)
        (root / rel_out).parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, root / rel_out)
        pages.append(rel_out.as_posix())
    shutil.rmtree(target, ignore_errors=True)
    gone = []
    for path in removed:
        out = root / _page_dir(path) / "index.html"
        if out.is_file():
            out.unlink()
            gone.append(_page_dir(path))
            urls.add(_page_dir(path) + "/")
    _merge_search_index(root, urls, docs)
    _save_state(data_dir, current, generated_home, language)
    return {"pages": pages, "removed": gone}


def _clean_rel(path) -> str:
    rel = PurePosixPath(Path(path).as_posix())
    if rel.is_absolute() or ".." in rel.parts:
        raise SiteBuildError(N_("%(path)s 不在文档文件夹里：请写相对于文档文件夹的路径"), path=str(path))
    return rel.as_posix()


def _page_dir(path: str) -> str:
    """The output folder of a staged page (use_directory_urls: a/b.md → a/b, a/index.md → a)."""
    folder, _, name = path.rpartition("/")
    return folder if name in HOMES else path[: -len(".md")] if path.endswith(".md") else path


def _merge_search_index(root: Path, urls: set[str], docs: list[dict]) -> None:
    path = root / "search" / "search_index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    index["docs"] = [d for d in index["docs"] if d.get("location", "").split("#")[0] not in urls] + docs
    _write(path, json.dumps(index, ensure_ascii=False, separators=(",", ":")))


def site_manifest(data_dir: Path, language: str | None = None) -> dict[str, str]:
    """{slug: content hash} of the articles the current site was built from; {} if unknown, or when it was
    built in another language than language (None: the current one, the company's in the CLI)."""
    try:
        state = json.loads((Path(data_dir) / SITE_STATE).read_text(encoding="utf-8"))
        if _state_language(state) != (language or current_language()):
            return {}
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
