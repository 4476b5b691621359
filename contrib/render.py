"""Customer Markdown → HTML that is safe to show anywhere (preview, review pages, the published site).

Markdown is rendered without raw-HTML trust, then sanitized with nh3 (the Ammonia sanitizer): only
plain formatting tags survive, no script, style, iframe, form or event handler, and links may only
be http(s), mailto or relative. `<script>` and `<style>` disappear with their content.
"""

from __future__ import annotations

import markdown
import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "dl", "dt", "dd", "sup", "sub", "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    """HTML with everything but plain formatting removed."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "template"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def render_markdown(text: str) -> str:
    """Sanitized HTML of a customer's Markdown (h1 becomes h2: the page title is the only h1)."""
    html = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    html = html.replace("<h1", "<h2").replace("</h1>", "</h2>")
    return sanitize(html)
