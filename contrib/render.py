"""Customer Markdown → HTML that is safe to show anywhere (preview, review pages, the published site).

Markdown is rendered without raw-HTML trust, then sanitized with nh3 (the Ammonia sanitizer): only
plain formatting tags survive, no script, style, iframe, form or event handler, and links may only
be http(s), mailto or relative. `<script>` and `<style>` disappear with their content.
"""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import unquote

import markdown
import nh3
from bs4 import BeautifulSoup

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "dl", "dt", "dd", "sup", "sub", "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
# A Markdown link or image whose destination starts with a scheme the sanitizer will refuse anyway.
_UNSAFE_DESTINATION = re.compile(r"\]\(\s*<?\s*(?!https?:|mailto:)[a-z][a-z0-9+.-]*:", re.I)


def sanitize(html: str, tags: set[str] = ALLOWED_TAGS) -> str:
    """HTML with everything but plain formatting removed."""
    return nh3.clean(html, tags=tags, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "template"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def render_markdown(text: str) -> str:
    """Sanitized HTML of a customer's Markdown (h1 becomes h2: the page title is the only h1)."""
    html = markdown.markdown(_drop_unsafe_destinations(text), extensions=["tables", "fenced_code", "sane_lists"],
                             output_format="html")
    html = html.replace("<h1", "<h2").replace("</h1>", "</h2>")
    return _without_husks(sanitize(html))


def _drop_unsafe_destinations(text: str) -> str:
    """`[点我](javascript:alert('x'))` → `[点我]()`: the whole destination goes, balanced parentheses
    included, so nothing of it (a stray `)`, a "title" made of its quotes) is left in the text."""
    out, pos = [], 0
    for match in _UNSAFE_DESTINATION.finditer(text):
        if match.start() < pos:
            continue
        depth, end = 1, match.start() + 2
        while end < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if text[end] == "\n" and text[end - 1] == "\n":
                break  # a paragraph ended before the parenthesis closed: leave the rest as text
            end += 1
        if depth:
            continue
        out += [text[pos:match.start()], "]()"]
        pos = end
    return "".join(out) + text[pos:]


def _without_husks(html: str) -> str:
    """What sanitizing left empty: an image without a source becomes its alt text, a link without a
    target its text, so readers see neither a broken image nor a dead link."""
    if "<img" not in html and "<a" not in html:
        return html
    soup = BeautifulSoup(html, "html.parser")
    changed = False
    for img in soup.find_all("img"):
        if not img.get("src"):
            img.replace_with(img.get("alt") or "")
            changed = True
    for link in soup.find_all("a"):
        if not link.get("href"):
            link.unwrap()
            changed = True
    return str(soup) if changed else html


# -- sanitized HTML → Markdown (published practices are stored as Markdown the article editor can edit) ----------
# The site's Markdown set-up (kb's mkdocs.yml): what a practice's Markdown is checked against before it is stored.
SITE_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "toc", "pymdownx.details", "pymdownx.superfences",
                   "pymdownx.highlight", "pymdownx.inlinehilite"]
_INLINE_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_[]{}|"} | {"<": "&lt;"})
_LINE_START = re.compile(r"^(#|>|[-+](\s|$)|=|\d+[.)]|!!!|\?\?\?|~~~|:)")  # text's own * _ ` are escaped already
_ENTITY = re.compile(r"&(?=#?\w+;)")


def _escape(text: str) -> str:
    """Text as Markdown that renders as exactly that text: nothing in it becomes markup (attr_list braces,
    emphasis, links, raw HTML, entities)."""
    return _ENTITY.sub("&amp;", text).translate(_INLINE_ESCAPES)


def _line_safe(line: str) -> str:
    """A block's first line that cannot open a heading, list, quote, admonition, details or fence."""
    match = _LINE_START.match(line)
    if not match:
        return line
    if line[0].isdigit():
        return re.sub(r"^(\d+)([.)])", r"\1\\\2", line)
    return ("\\" + line[0] if line[0] in "#>-+!" else f"&#{ord(line[0])};") + line[1:]


def _url(url: str) -> str:
    """A link destination Markdown reads back as the same address (parentheses kept when balanced)."""
    depth = 0
    for c in url:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            break
    unsafe = r"[\s<>\\]" if depth == 0 else r"[\s()<>\\]"
    return re.sub(unsafe, lambda m: f"%{ord(m.group()):02X}", url)


def _inline(node) -> str:
    from bs4 import NavigableString, Tag

    if isinstance(node, NavigableString):
        return _escape(re.sub(r"\s+", " ", str(node)))
    if not isinstance(node, Tag):
        return ""
    inner = "".join(_inline(c) for c in node.children)
    name = node.name
    if name == "br":
        return "<br>"
    if name in ("strong", "b", "em", "i"):
        mark = "**" if name in ("strong", "b") else "*"
        core = inner.strip()
        if not core:
            return inner
        lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()):]
        return f"{lead}{mark}{core}{mark}{trail}"
    if name in ("u", "s", "sup", "sub"):
        return f"<{name}>{inner}</{name}>"
    if name == "code":
        text = re.sub(r"\s+", " ", node.get_text())
        ticks = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") or text.startswith("#!") else ""
        return f"{ticks}{pad}{text}{pad}{ticks}" if text.strip() else ""
    if name == "a":
        href = node.get("href") or ""
        return f"[{inner.strip()}]({_url(href)})" if href and inner.strip() else inner
    if name == "img":
        src = node.get("src") or ""
        alt = _escape(re.sub(r"\s+", " ", node.get("alt") or ""))
        return f"![{alt}]({_url(src)})" if src else alt
    return inner  # span, and block tags met inside a line (a list inside a table cell): their text


def _indent(text: str, prefix: str, first: str | None = None) -> str:
    lines = text.split("\n")
    first = prefix if first is None else first
    return "\n".join((first if i == 0 else prefix) + line if line else line for i, line in enumerate(lines))


def _blocks(node) -> list[str]:
    """The Markdown blocks of a node's children (paragraphs, headings, lists, code, quotes, tables)."""
    from bs4 import NavigableString, Tag

    out, line, previous = [], [], None

    def flush():
        nonlocal previous
        text = "".join(line).strip()
        line.clear()
        if text:
            out.append(_line_safe(text))
            previous = None

    for child in node.children:
        if isinstance(child, NavigableString) or (isinstance(child, Tag) and child.name not in _BLOCK_TAGS):
            line.append(_inline(child))
            continue
        flush()
        block = _block(child)
        if block:
            if child.name in ("ul", "ol") and previous in ("ul", "ol"):
                out.append("<!-- -->")  # the site's Markdown would run two adjacent lists into one
            out.append(block)
            previous = child.name
    flush()
    return out


_BLOCK_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote", "hr", "table", "dl", "div",
               "li", "dt", "dd", "thead", "tbody", "tr", "th", "td"}


def _block(node) -> str:
    name = node.name
    if name == "p" or name == "div":
        return "\n\n".join(_blocks(node))
    if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
        text = "".join(_inline(c) for c in node.children).strip()
        text = text[:-1] + "&#35;" if text.endswith("#") else text
        return f"{'#' * max(2, int(name[1]))} {text}" if text else ""
    if name in ("ul", "ol"):
        items, loose = [], False
        for n, li in enumerate(node.find_all("li", recursive=False), start=1):
            tight = li.find(["p", "pre", "blockquote", "table", "h2", "h3", "h4", "h5", "h6"], recursive=False) is None
            loose = loose or not tight
            body = ("\n" if tight else "\n\n").join(_blocks(li)) or "&#8203;"
            items.append(_indent(body, "    ", f"{n}.".ljust(4) if name == "ol" else "-   "))
        return ("\n\n" if loose else "\n").join(items)
    if name == "pre":
        code = node.get_text().rstrip("\n")
        fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", code)), default=0) + 1)
        return f"{fence}\n{code}\n{fence}"
    if name == "blockquote":
        inner = "\n\n".join(_blocks(node))
        return _indent(inner, "> ").replace("\n\n", "\n>\n") if inner else ""
    if name == "hr":
        return "* * *"
    if name == "table":
        return _table(node)
    if name == "dl":
        parts = []
        for item in node.find_all(["dt", "dd"], recursive=False):
            text = "\n\n".join(_blocks(item))
            parts.append(f"**{text}**" if item.name == "dt" and text else text)
        return "\n\n".join(p for p in parts if p)
    return "\n\n".join(_blocks(node))


def _table(node) -> str:
    rows = node.find_all("tr")
    if not rows:
        return ""

    def cells(tr):
        return [("".join(_inline(c) for c in cell.children).strip() or " ", cell.get("align") or "")
                for cell in tr.find_all(["th", "td"], recursive=False)]

    grid = [cells(tr) for tr in rows]
    width = max(len(r) for r in grid)
    head, body = grid[0], grid[1:]
    head += [(" ", "")] * (width - len(head))
    rule = {"left": ":---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(t for t, _ in head) + " |",
             "| " + " | ".join(rule.get(a, "---") for _, a in head) + " |"]
    for r in body:
        r = r + [(" ", "")] * (width - len(r))
        lines.append("| " + " | ".join(t for t, _ in r[:width]) + " |")
    return "\n".join(lines)


def html_to_markdown(html: str) -> str:
    """Markdown for sanitized HTML (``sanitize``'s output): what the article editor shows and saves."""
    soup = BeautifulSoup(html, "html.parser")
    return "\n\n".join(b for b in _blocks(soup) if b.strip()) + "\n"


def site_html(md_text: str) -> str:
    """Markdown rendered as the site (MkDocs, kb's mkdocs.yml extensions) renders it."""
    return markdown.markdown(md_text, extensions=SITE_EXTENSIONS, output_format="html")


def _shape(html: str) -> list:
    """What a reader gets from HTML, ignoring what the site's extensions add (ids, highlight spans, divs) and
    paragraph breaks: the allowed elements with their link/image targets and any other attribute, and the text."""
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for tag in soup.find_all(True):
        extra = sorted(set(tag.attrs) - {"href", "src", "alt", "id", "class", "rel", "title"})  # e.g. attr_list's
        if tag.name in ALLOWED_TAGS | {"h1"} and tag.name not in ("span", "p"):  # paragraphs: loose or tight, text
            name = {"b": "strong", "i": "em"}.get(tag.name, tag.name)
            out.append((name, *(unquote(tag.get(a) or "") for a in ("href", "src", "alt")), *extra))
        elif extra:  # any other element (the site's own wrappers) only matters by what it could carry
            out.append((tag.name, *extra))
    out.append(re.sub(r"[\s\u200b]+", "", soup.get_text()))  # (an empty list item holds a zero-width space)
    return out


def markdown_of(title: str, safe_html: str) -> str | None:
    """Markdown for a page titled `title` with sanitized HTML `safe_html`, checked against the site's own
    renderer: None unless that Markdown shows exactly the sanitized page (nothing more, nothing less)."""
    title = re.sub(r"\s+", " ", title).strip()
    heading = _escape(title)
    heading = heading[:-1] + "&#35;" if heading.endswith("#") else heading  # not a closing hash
    md = f"# {heading}\n\n" + html_to_markdown(safe_html)
    return md if renders_as(md, f"<h1>{html_lib.escape(title)}</h1>{safe_html}") else None


def renders_as(md: str, expected_html: str) -> bool:
    """Whether the site's renderer shows `md` as `expected_html` (elements, targets, attributes, text) and
    with nothing the sanitizer would take away."""
    rendered = _shape(site_html(md))
    return rendered == _shape(expected_html) and rendered == _shape(sanitize(site_html(md), ALLOWED_TAGS | {"h1"}))


def practice_markdown(title: str, body: str) -> str | None:
    """A VIP's practice as stored in docs/practices (after its front matter): the Markdown rendered and
    sanitized, written back as Markdown and checked (``markdown_of``); None: keep the sanitized HTML."""
    return markdown_of(title, render_markdown(body))


LEGACY_PRACTICE = re.compile(r'^\s*<div class="kb-practice" markdown="0">', re.I)


def legacy_practice_markdown(body: str) -> str | None:
    """The Markdown of a practice file body an older kb wrote as sanitized HTML (``<div class="kb-practice">``),
    for the article editor; None if the body is not one, or would not convert exactly."""
    if not LEGACY_PRACTICE.match(body):
        return None
    soup = BeautifulSoup(body, "html.parser")
    block = soup.find("div", class_="kb-practice")
    heading = block.find("h1") if block else None
    if heading is None:
        return None
    title = heading.get_text()
    heading.decompose()
    return markdown_of(title, _without_husks(sanitize(block.decode_contents())))
