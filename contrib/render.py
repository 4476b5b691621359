"""Customer Markdown → HTML that is safe to show anywhere (preview, review pages, the published site).

Markdown is rendered without raw-HTML trust, then sanitized with nh3 (the Ammonia sanitizer): only
plain formatting tags survive, no script, style, iframe, form or event handler, and links may only
be http(s), mailto or relative. `<script>` and `<style>` disappear with their content.
"""

from __future__ import annotations

import re

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


def sanitize(html: str) -> str:
    """HTML with everything but plain formatting removed."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
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
