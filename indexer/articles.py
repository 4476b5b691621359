"""What an article is: one front-matter parser and the document model.

The indexer, the site build and (later) the contribution publisher all read
articles through :func:`parse_article`, so they agree on titles, slugs and
dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import markdown
import yaml
from bs4 import BeautifulSoup

from .errors import ArticleError
from .i18n import N_

ARTICLE_SUFFIXES = (".md", ".mdx", ".markdown")
INDEX_STEMS = ("index", "readme")

FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
# libyaml's C loader when PyYAML was built with it: front matter parsing is half of a 10k-article build.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BLOCKS = ["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "td", "th", "div", "blockquote", "dt", "dd"]
_MD_EXTENSIONS = ["tables", "fenced_code", "admonition", "toc", "attr_list"]
_MD_PER_THREAD = threading.local()


def markdown_html(md_text: str) -> str:
    """HTML of Markdown with the site's extensions. A Markdown object keeps state while it converts, so
    two threads sharing one mix their outputs (an editor's preview showing another's text): one each."""
    md = getattr(_MD_PER_THREAD, "md", None)
    if md is None:
        md = _MD_PER_THREAD.md = markdown.Markdown(extensions=_MD_EXTENSIONS)
    md.reset()
    return md.convert(md_text)


@dataclass(frozen=True)
class Block:
    """One quotable block of a page: a whole list (numbers kept), a paragraph, or a table row with its header."""

    heading: str
    anchor: str
    kind: str  # "list", "paragraph" or "row"
    html: str  # rendered from the article's Markdown; sanitize before showing it
    text: str  # plain text, list numbers included


@dataclass
class Article:
    """One help article as every part of kb sees it."""

    slug: str
    path: str  # source file relative to the docs folder, POSIX style
    url: str  # site URL relative to the site root, e.g. "gantt/critical-path/"
    title: str
    summary: str = ""
    headings: list[str] = field(default_factory=list)
    body: str = ""
    tags: list[str] = field(default_factory=list)
    module: str = ""
    owner: str = ""
    reviewed: dt.date | None = None
    review_every: int | None = None
    content_hash: str = ""
    meta: dict = field(default_factory=dict)  # the whole front matter, unknown keys included
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (heading, anchor, text), page order
    blocks: list[Block] = field(default_factory=list)  # the passages the answer box may quote, page order

    def to_dict(self) -> dict:
        """A JSON-ready view of the article."""
        return {
            "slug": self.slug,
            "path": self.path,
            "url": self.url,
            "title": self.title,
            "summary": self.summary,
            "headings": self.headings,
            "tags": self.tags,
            "module": self.module,
            "owner": self.owner,
            "reviewed": self.reviewed.isoformat() if self.reviewed else None,
            "review_every": self.review_every,
            "content_hash": self.content_hash,
        }


def split_front_matter(text: str, source: str = "<text>") -> tuple[dict, str, int]:
    """Return (front matter, Markdown body, line where the body starts).

    Raises ArticleError naming the file and line when the YAML is broken.
    """
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text.lstrip("\ufeff"), 1
    raw = match.group(1) or ""
    try:
        meta = yaml.load(raw, Loader=_YAML_LOADER) or {}
    except (ValueError, RecursionError) as exc:  # e.g. reviewed: 2026-02-30 (YAML reads it as a date)
        raise ArticleError(N_("%(path)s:%(line)s：前置信息（front matter）写错了：%(problem)s"), source, 2,
                       problem=str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for the opening ---, +1 for 1-based
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ArticleError(N_("%(path)s:%(line)s：前置信息（front matter）写错了：%(problem)s"), source, line,
                       problem=problem) from None
    if not isinstance(meta, dict):
        raise ArticleError(N_("%(path)s:%(line)s：前置信息（front matter）必须是一行一个「键: 值」"), source, 2)
    body_line = text[: match.end()].count("\n") + 1
    return meta, text[match.end() :], body_line


def slug_for(relpath: str) -> str:
    """The stable slug of a source file: its path without suffix; index/README pages take the folder's."""
    p = PurePosixPath(relpath)
    parts = list(p.parent.parts)
    stem = p.stem
    if stem.lower() not in INDEX_STEMS:
        parts.append(stem)
    return "/".join(parts) or "index"


def url_for(relpath: str) -> str:
    """The site URL MkDocs gives this file (use_directory_urls), relative to the site root."""
    slug = slug_for(relpath)
    return "" if slug == "index" and "/" not in relpath else slug + "/"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in re.split(r"[,，]", value) if t.strip()]
    if isinstance(value, (list, tuple)):
        return [str(t).strip() for t in value if str(t).strip()]
    return [str(value)]



def _line_of(text: str, key: str) -> int:
    """1-based line of `key:` in a source file (for error messages), else 1."""
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.M)
    return text[: match.start()].count("\n") + 1 if match else 1


def _as_date(value, source: str, text: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ArticleError(N_("%(path)s:%(line)s：reviewed（审核日期）必须是 2026-09-30 这样的日期，现在是 %(value)r"), source,
                       _line_of(text, "reviewed"), value=value) from None


def _as_int(value, key: str, source: str, text: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ArticleError(N_("%(path)s:%(line)s：%(key)s 必须是整数天数，现在是 %(value)r"), source, _line_of(text, key),
                       key=key, value=value) from None
    if number <= 0:
        raise ArticleError(N_("%(path)s:%(line)s：%(key)s 必须大于 0，现在是 %(number)s"), source, _line_of(text, key),
                       key=key, number=number)
    return number


def markdown_to_text(md_text: str) -> tuple[str, list[str], str | None]:
    """Render Markdown and return (plain text, headings h2-h4, first h1 or None)."""
    text, headings, first_heading, _ = render_markdown(md_text)
    return text, headings, first_heading


def render_markdown(md_text: str) -> tuple[str, list[str], str | None, list[tuple[str, str, str]]]:
    """Render Markdown once: (plain text, headings h2-h4, first h1 or None, sections).

    Sections are (heading, anchor, text) in page order: the part before the first h2-h4 heading
    (heading "") and then one per heading, with the anchor id the site gives that heading (the same
    Markdown ``toc`` extension), so a passage can link to its place on the page.
    """
    return _render(md_text)[:4]


def _render(md_text: str):
    soup = BeautifulSoup(markdown_html(md_text), "lxml")
    h1 = soup.find("h1")
    first_heading = h1.get_text(" ", strip=True) if h1 else None
    headings = [h.get_text(" ", strip=True) for h in soup.find_all(["h2", "h3", "h4"])]
    if h1:
        h1.decompose()
    blocks = _blocks(soup.body or soup)  # before the line breaks below are added to the tree
    # Line breaks after blocks only: bold or a link inside a sentence stays in its sentence.
    for block in soup.find_all(_BLOCKS):
        block.append("\n")
    sections: list[tuple[str, str, list[str]]] = [("", "", [])]
    container = soup.body or soup
    for node in container.children:
        name = getattr(node, "name", None)
        if name in ("h2", "h3", "h4"):
            heading = node.get_text(" ", strip=True)
            sections.append((heading, node.get("id") or "", []))
        elif name is not None or str(node).strip():
            sections[-1][2].append(node.get_text("") if name else str(node))
    text = _tidy(soup.get_text(""))
    tidy_sections = [(heading, anchor, _tidy("".join(parts))) for heading, anchor, parts in sections]
    tidy_sections = [s for s in tidy_sections if s[0] or s[2]]
    return text, headings, first_heading, tidy_sections, blocks


_INTRO_END = (":", "：")  # "按以下步骤操作：" belongs with the list after it
_SKIP_BLOCKS = {"hr", "script", "style", "h5", "h6"}


def _blocks(container) -> list[Block]:
    """The page cut where a reader sees units: each list whole, each paragraph, each table row with the header."""
    out: list[Block] = []
    heading, anchor = "", ""
    intro = None  # a paragraph ending in a colon, waiting for the list it introduces
    for node in container.children:
        name = getattr(node, "name", None)
        if name in ("h2", "h3", "h4"):
            heading, anchor, intro = node.get_text(" ", strip=True), node.get("id") or "", None
            continue
        if name is None or name in _SKIP_BLOCKS:
            continue
        if name in ("ol", "ul"):
            text = _list_text(node)
            html = str(node)
            if intro is not None and out and out[-1] is intro:
                out.pop()
                text, html = f"{intro.text}\n{text}", f"{intro.html}{html}"
            if text:
                out.append(Block(heading, anchor, "list", html, text))
            intro = None
        elif name == "table":
            out += _table_rows(node, heading, anchor)
            intro = None
        else:
            text = _tidy(node.get_text(" "))
            if not text:
                continue
            out.append(Block(heading, anchor, "paragraph", str(node), text))
            intro = out[-1] if name == "p" and text.endswith(_INTRO_END) else None
    return out


def _list_text(node) -> str:
    ordered = node.name == "ol"
    try:
        number = int(node.get("start") or 1)
    except ValueError:
        number = 1
    lines = []
    for item in node.find_all("li", recursive=False):
        line = _tidy(item.get_text(" ")).replace("\n", " ")
        lines.append(f"{number}. {line}" if ordered else f"• {line}")
        number += 1
    return "\n".join(lines)


def _table_rows(table, heading: str, anchor: str) -> list[Block]:
    header = table.find("thead")
    names = [_tidy(th.get_text(" ")) for th in header.find_all(["th", "td"])] if header else []
    rows = []
    for tr in table.find_all("tr"):
        if header and tr.find_parent("thead") is header:
            continue
        cells = [_tidy(td.get_text(" ")) for td in tr.find_all(["td", "th"])]
        if not any(cells):
            continue
        text = "；".join(f"{n}: {c}" if n else c for n, c in zip(names + [""] * len(cells), cells, strict=False))
        html = f"<table>{header or ''}<tbody>{tr}</tbody></table>"
        rows.append(Block(heading, anchor, "row", html, text))
    return rows


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def content_hash(text: str) -> str:
    """Fingerprint of a source file's text: what incremental indexing compares."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_article(text: str, relpath: str) -> Article:
    """Parse one article's source text; relpath is its path inside the docs folder."""
    meta, body_md, _ = split_front_matter(text, relpath)
    reviewed = _as_date(meta.get("reviewed"), relpath, text)
    review_every = _as_int(meta.get("review_every"), "review_every", relpath, text)
    body, headings, first_heading, sections, blocks = _render(body_md)
    slug = slug_for(relpath)
    title = str(meta.get("title") or first_heading or PurePosixPath(relpath).stem.replace("-", " ")).strip()
    return Article(
        slug=slug,
        path=relpath,
        url=url_for(relpath),
        title=title,
        summary=str(meta.get("summary") or "").strip(),
        headings=headings,
        body=body,
        tags=_as_list(meta.get("tags")),
        module=str(meta.get("module") or "").strip(),
        owner=str(meta.get("owner") or "").strip(),
        reviewed=reviewed,
        review_every=review_every,
        content_hash=content_hash(text),
        meta=meta,
        sections=sections,
        blocks=blocks,
    )


def is_excluded(meta: dict) -> bool:
    """Pages that opt out of search (Material's `search: {exclude: true}`), e.g. a tags index."""
    search = meta.get("search")
    return isinstance(search, dict) and bool(search.get("exclude"))


def is_private(relpath: PurePosixPath | Path) -> bool:
    """Files under folders or names starting with "." or "_" (drafts, tooling) are never published."""
    return any(part.startswith((".", "_")) for part in relpath.parts)


def find_sources(docs_dir: Path) -> list[Path]:
    """All Markdown sources below docs_dir, sorted, skipping private folders."""
    found = []
    for path in sorted(docs_dir.rglob("*")):
        if is_private(path.relative_to(docs_dir)):
            continue
        if path.is_file() and path.suffix.lower() in ARTICLE_SUFFIXES:
            found.append(path)
    return found


def read_text(path: Path, docs_dir: Path) -> str:
    """A source file's text, or ArticleError naming it when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        relpath = path.relative_to(docs_dir).as_posix()
        raise ArticleError(N_("%(path)s：不是 UTF-8 编码的文字（第 %(byte)s 个字节：%(reason)s），请另存为 UTF-8"), relpath,
                       reason=exc.reason, byte=exc.start) from None


def read_source(path: Path, docs_dir: Path) -> Article:
    """Read and parse one source file, naming it in any error."""
    return parse_article(read_text(path, docs_dir), path.relative_to(docs_dir).as_posix())


def load_articles(docs_dir: Path, on_problem=None, known: dict[str, str] | None = None) -> list[Article]:
    """Every readable article in docs_dir; broken files go to on_problem(ArticleError) and are skipped.

    With known ({slug: content_hash}), files whose text still has that hash are not parsed again:
    they come back as a bare Article(slug, path, content_hash) so incremental indexing stays fast.
    """
    docs_dir = Path(docs_dir)
    if not docs_dir.is_dir():
        raise ArticleError(N_("文章文件夹 %(path)s 不存在：请用 --docs 指定或设置 KB_DOCS"), str(docs_dir))
    articles: dict[str, Article] = {}
    for path in find_sources(docs_dir):
        relpath = path.relative_to(docs_dir).as_posix()
        try:
            relpath.encode("utf-8")
        except UnicodeEncodeError:  # e.g. GBK names from a zip made on Windows
            if on_problem:
                shown = relpath.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                on_problem(ArticleError(N_("%(path)s：文件名不是 UTF-8 编码，请重命名"), shown))
            continue
        try:
            text = read_text(path, docs_dir)
            fingerprint = content_hash(text)
            if known and known.get(slug_for(relpath)) == fingerprint:
                article = Article(slug=slug_for(relpath), path=relpath, url=url_for(relpath), title="",
                                  content_hash=fingerprint)
            else:
                article = parse_article(text, relpath)
        except ArticleError as exc:
            if on_problem:
                on_problem(exc)
            continue
        if is_excluded(article.meta):
            continue
        if article.slug in articles:
            # index.md and README.md in one folder: MkDocs prefers index.md, so do we.
            if PurePosixPath(article.path).stem.lower() == "readme":
                continue
        articles[article.slug] = article
    return list(articles.values())
