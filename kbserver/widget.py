"""The in-product help widget: one <script> tag a company puts into its own web app.

``/widget.js`` draws a help button and a panel (in a shadow root, so no style leaks either way) that
searches, shows the answer box, suggests articles for the page the customer is on, shows an article,
takes 👍/👎 and "联系客服". It talks to ``/api/widget/…`` only, and those routes are the only ones that
answer another origin (CORS), and only the origins in ``--widget-origins``:

- no credentials either way: never ``Access-Control-Allow-Credentials``, the script fetches with
  ``credentials: "omit"``, these views ignore any signed-in user and never set a cookie; the widget's
  anonymous session travels in ``X-KB-Session`` (kept in the host page's storage);
- only public data: the same searches, articles and votes anyone can make on the site;
- everything is logged like the site's own events with ``source="widget"`` (searches, votes,
  questions; clicks and answer votes belong to their search), so the dashboard tells them apart and
  the self-service rate counts widget sessions like site sessions.

The site's own pages keep their strict CSP and frame headers: the widget is a script the host page
loads, not a frame.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from flask import Blueprint, current_app, g, jsonify, request, session

from analytics import events as event_log
from contrib.render import sanitize
from indexer.articles import markdown_html, split_front_matter, url_for
from indexer.errors import InvalidInput, NotFound
from indexer.i18n import N_
from indexer.site import site_dir

from .api import record_answer_feedback, record_click, record_feedback, search_and_log
from .ask import ask_question
from .db import get_db
from .inputs import json_object

bp = Blueprint("widget", __name__)

PREFIX = "/api/widget/"
SOURCE = "widget"
STATIC = Path(__file__).resolve().parent / "static"
SUGGESTIONS = 5  # articles suggested for a page, at most
POPULAR_DAYS = 90  # suggestions are ordered by the clicks of this many days
MAX_PATH = 2000
ARTICLE_CACHE = 500  # rendered articles kept per app
_HEADINGS = ["h2", "h3", "h4", "h5", "h6"]
_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")
_MODULE = re.compile(r"[A-Za-z0-9_.\-]{1,60}")
# Parts of a built article page that belong to the site, not to the article.
_SITE_PARTS = ("aside.kb-reviewed", "nav.md-tags", "form.md-feedback", "a.headerlink", ".md-source-file",
               "a.md-content__button", "h1")


# -- settings ------------------------------------------------------------------------------------
def widget_origins(value: str) -> frozenset[str]:
    """The origins of --widget-origins (comma-separated scheme://host[:port]); InvalidInput for anything else."""
    out = set()
    for item in str(value or "").split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        if not _ORIGIN.fullmatch(origin):
            raise InvalidInput(N_("widget_origins（KB_WIDGET_ORIGINS）：%(item)r 不是一个来源（origin），请写成 "
                                  "scheme://host[:port]，不带路径，例如 https://app.example.com"), item=item.strip())
        for scheme, port in (("https://", ":443"), ("http://", ":80")):
            if origin.startswith(scheme) and origin.endswith(port):
                origin = origin[: -len(port)]  # browsers leave the default port out of Origin
        out.add(origin)
    return frozenset(out)


def page_modules(value: str) -> list[tuple[re.Pattern, str]]:
    """--widget-pages as (path regex, module) pairs, first match wins; InvalidInput for a malformed pair.

    A pattern is a path of the host app; * matches within one segment; it also matches the paths below it."""
    out = []
    for item in str(value or "").split(","):
        item = item.strip()
        if not item:
            continue
        pattern, sep, module = item.rpartition("=")
        pattern, module = pattern.strip(), module.strip()
        if not sep or not pattern.startswith("/") or not _MODULE.fullmatch(module):
            raise InvalidInput(N_("widget_pages（KB_WIDGET_PAGES）：%(item)r 不是「路径模式=模块」的写法，"
                                  "例如 /projects/*/gantt=gantt"), item=item)
        regex = re.escape(pattern.rstrip("/") or "/").replace(r"\*", "[^/]*")
        out.append((re.compile(f"^{regex}(/|$)" if regex != "/" else "^/"), module))
    return out


# -- CORS and the anonymous session --------------------------------------------------------------
def init_app(app) -> None:
    """The widget's routes, its CORS answers and its no-credentials rule."""
    settings = app.config["KB"]
    app.extensions["kb_widget"] = {"origins": widget_origins(settings["widget_origins"]),
                                   "pages": page_modules(settings["widget_pages"])}
    app.before_request(_forget_user)  # after auth's loader: registered later
    app.after_request(_cors)
    app.register_blueprint(bp)


def _forget_user():
    if request.path.startswith(PREFIX):
        g.user, g.auth = None, None  # a manager's cookie is worth nothing here, even if a browser sent it


def _cors(response):
    if not request.path.startswith(PREFIX):
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if origin.lower() in current_app.extensions["kb_widget"]["origins"]:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-KB-Session"
            response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    response.headers.pop("Set-Cookie", None)
    # Flask saves the session after this hook: an ended sign-in that auth's loader cleared would otherwise
    # come back as a Set-Cookie that deletes it. The widget's answers leave kb's cookies alone.
    session.modified = False
    return response


def _session() -> str:
    """The widget's anonymous session (X-KB-Session, made by the script); cookies are not looked at."""
    sid = request.headers.get("X-KB-Session", "")
    return sid if 0 < len(sid) <= 64 and sid.isascii() and sid.isprintable() else secrets.token_hex(12)


def _base() -> str:
    return (current_app.config["KB"]["public_url"] or request.host_url).rstrip("/") + "/"


def _absolute(url: str) -> str:
    return urljoin(_base(), url.lstrip("/"))


# -- the script ----------------------------------------------------------------------------------
@bp.get("/widget.js")
def script():
    """The widget's script, told the company's language (for browsers that ask for neither zh nor en)."""
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    language = current_app.config["KB"]["language"]
    response = current_app.response_class(source.replace('/*KB_LANGUAGE*/"zh"', f'"{language}"', 1),
                                          mimetype="text/javascript")
    response.cache_control.public, response.cache_control.max_age = True, 300
    response.headers["Access-Control-Allow-Origin"] = "*"  # public code; lets hosts load it with integrity=…
    response.add_etag()
    return response.make_conditional(request)


# -- the API the script calls --------------------------------------------------------------------
@bp.get(PREFIX + "search")
def search():
    """GET /api/widget/search?q=&limit= → /api/search's answer with absolute URLs, logged with source=widget."""
    args = request.args.to_dict()
    args.setdefault("limit", "8")
    result = search_and_log(args, session=_session(), source=SOURCE)
    for r in result["results"]:
        r["url"] = _absolute(r["url"])
    if result["answer"]:
        result["answer"]["url"] = _absolute(result["answer"]["url"])
    return jsonify(result)


@bp.get(PREFIX + "suggestions")
def suggestions():
    """GET /api/widget/suggestions?context=&path= → the module of the customer's page and its most opened articles."""
    context = request.args.get("context", "").strip()
    path = request.args.get("path", "")
    if len(context) > 100 or len(path) > MAX_PATH:
        raise InvalidInput(N_("context 最多 100 个字符，path 最多 %(max)s 个字符"), max=MAX_PATH)
    index = current_app.extensions["kb_index"]
    module = page_module(context, path, index.modules(), current_app.extensions["kb_widget"]["pages"])
    articles = index.articles_in(module) if module else []
    clicks = event_log.click_counts(get_db(), [a["slug"] for a in articles], days=POPULAR_DAYS)
    articles.sort(key=lambda a: (-clicks.get(a["slug"], 0), a["title"]))
    return jsonify({"module": module, "articles": [
        {"slug": a["slug"], "title": a["title"], "summary": a.get("summary") or "", "url": _absolute(a["url"])}
        for a in articles[:SUGGESTIONS]]})


def page_module(context: str, path: str, modules: set[str], pages: list[tuple[re.Pattern, str]]) -> str:
    """The module a page is about: data-kb-context if it names one, else --widget-pages, else a path segment
    that is a module's name (the deepest); "" when none."""
    if context in modules:
        return context
    path = urlsplit(path).path or "/"
    for regex, module in pages:
        if regex.match(path):
            return module
    for segment in reversed([s.lower() for s in path.split("/") if s]):
        if segment in modules:
            return segment
    return ""


@bp.get(PREFIX + "articles/<path:slug>")
def article(slug: str):
    """GET /api/widget/articles/<slug> → the article's sanitized HTML, links and images absolute to kb."""
    fields = current_app.extensions["kb_index"].article(slug.strip("/"))
    url = _absolute(fields["url"])
    settings = current_app.config["KB"]
    root = site_dir(settings["data"])
    page = (root / fields["url"] / "index.html").resolve() if root else None
    source = page if page is not None and root in page.parents and page.is_file() else None
    if source is None:  # not built (yet): its Markdown
        source = Path(settings["docs"]) / fields["path"]
    try:
        st = source.stat()
    except OSError:
        raise NotFound(N_("文章 %(slug)r 在索引里，但它的文件已经不在了"), slug=fields["slug"]) from None
    # Rendering costs tens of milliseconds; the page changes only when its file does.
    key = (str(source), st.st_mtime_ns, st.st_size, url)
    cache = current_app.extensions.setdefault("kb_widget_articles", {})
    if key not in cache:
        if len(cache) >= ARTICLE_CACHE:
            cache.clear()
        cache[key] = article_html(source, fields, url, built=source == page)
    return jsonify({"slug": fields["slug"], "title": fields["title"], "url": url, "module": fields.get("module") or "",
                    "summary": fields.get("summary") or "", "html": cache[key]})


def article_html(source: Path, fields: dict, url: str, built: bool) -> str:
    """The article as the site renders it (source: its built page, else its Markdown file), sanitized, every link
    and image absolute to url (the article's own address) and opening outside the host page."""
    text = source.read_text(encoding="utf-8")
    if built:
        content = BeautifulSoup(text, "lxml").select_one("article.md-content__inner")
        if content is None:
            return ""
    else:  # the same Markdown, links to other articles pointed at their pages
        _, body, _ = split_front_matter(text, fields["path"])
        content = BeautifulSoup(markdown_html(body), "html.parser")
        _md_links_to_pages(content, fields["path"])
    for selector in _SITE_PARTS:
        for node in content.select(selector):
            node.decompose()
    for node in content.select(".admonition-title"):  # a note's title stays visibly a title once classes go
        strong = BeautifulSoup("", "html.parser").new_tag("strong")
        strong.extend(list(node.contents))
        node.append(strong)
    heading_ids = [h.get("id") for h in content.find_all(_HEADINGS)]
    out = BeautifulSoup(sanitize(content.decode_contents()), "html.parser")
    headings = out.find_all(_HEADINGS)
    if len(headings) == len(heading_ids):  # the sanitizer drops ids: put the sections' anchors back (answer links)
        for node, anchor in zip(headings, heading_ids, strict=True):
            if anchor:
                node["id"] = anchor
    for node in out.find_all(href=True):
        node["href"] = urljoin(url, node["href"])
        node["target"] = "_blank"
    for node in out.find_all(src=True):
        node["src"] = urljoin(url, node["src"])
    return str(out).strip()


def _md_links_to_pages(soup, relpath: str) -> None:
    """Markdown's relative links and images are relative to the source file: point them where the site has them."""
    here = posixpath.dirname(relpath)
    for node, attr in [(n, "href") for n in soup.find_all("a", href=True)] + [(n, "src") for n in soup.find_all("img", src=True)]:
        target, hash_, anchor = node[attr].partition("#")
        if not target or target.startswith("/") or urlsplit(target).scheme:
            continue
        path = posixpath.normpath(posixpath.join(here, target))
        if path.endswith((".md", ".mdx")):
            path = url_for(path)
        node[attr] = "/" + path + hash_ + anchor


@bp.post(PREFIX + "click")
def click():
    """POST /api/widget/click {query_id, slug, position} → 202 (a result opened in the panel)."""
    record_click(json_object(), session=_session())
    return jsonify({"ok": True}), 202


@bp.post(PREFIX + "feedback")
def feedback():
    """POST /api/widget/feedback {slug, helpful, comment?} → 202 (👍/👎 under the article in the panel)."""
    record_feedback(json_object(), session=_session(), source=SOURCE)
    return jsonify({"ok": True}), 202


@bp.post(PREFIX + "answers/feedback")
def answer_feedback():
    """POST /api/widget/answers/feedback {search_id, helpful, comment?} → 202 (the answer box's vote)."""
    vote = record_answer_feedback(json_object(), session=_session())
    return jsonify({"ok": True, "slug": vote["slug"], "anchor": vote["anchor"]}), 202


@bp.post(PREFIX + "questions")
def questions():
    """POST /api/widget/questions {question, email?, query?} → 201 (联系客服 in the panel)."""
    return jsonify(ask_question(json_object(), session=_session(), source=SOURCE)), 201
