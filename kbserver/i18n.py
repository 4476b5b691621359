"""Pages in the company's language, public pages in the reader's: Flask-Babel over indexer/i18n's catalogues.

The back office (sign-in, dashboard, review, editor, users, …) follows ``--language`` (KB_LANGUAGE): a
support team reads one language. What customers see — the site's own script strings, the ask form's
messages, error pages of the public site — follows the browser's Accept-Language when it is zh or en,
else the company's. API error messages stay English (they are for programs).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, has_request_context, request
from flask_babel import Babel, gettext

from indexer.i18n import LANGUAGES, N_, TRANSLATIONS, compile_catalogues, reset_language, set_language

bp = Blueprint("i18n", __name__)

# Requests a customer makes (blueprint names, or single endpoints): the reader's language.
PUBLIC_BLUEPRINTS = {"site", "i18n", "api", "widget"}
PUBLIC_ENDPOINTS = {"ask.ask"}

# The strings the site's scripts show (indexer/theme/assets/javascripts), by their Chinese text: the
# scripts call t("…") and read the translation from kb-strings.js. tests/test_i18n.py checks that every
# Chinese string in the scripts is listed here.
JS_STRINGS = (
    N_("答案"), N_("查看完整章节 →"), N_("这个答案有帮助吗？"), N_("有帮助"), N_("没帮助"), N_("没有帮助"),
    N_("发送失败，请稍后再试。"), N_("感谢您的反馈！"), N_("感谢反馈，我们会改进这个答案。"),
    N_("提交太频繁了，请稍后再试。"), N_("邮箱格式不正确（例如 name@example.com），也可以不填。"),
    N_("问题太长了，请控制在 %(n)s 字以内。"), N_("请填写您的问题。"), N_("提交失败，请稍后再试。"), N_("提交问题"),
    N_("您的问题"), N_("邮箱（可选，方便我们回复您）"), N_("发送"), N_("正在提交……"), N_("已提交，客服团队会尽快处理。谢谢！"),
    N_("网络不可用，请稍后再试。"), N_("没有找到完全匹配的文章"),
    N_("下面是可能相关的文章。没有您要的答案？可以直接问我们的客服团队。"),
    N_("编辑文章"), N_("在 kb 中编辑这篇文章（%(name)s）"), N_("修订历史"), N_("哪里没有帮到您？（可选）"),
    N_("例如：步骤和界面对不上、缺少某个场景……"), N_("已收到您的意见，谢谢！"), N_("你是不是要找 "),
    # indexer/theme/main.html's words around an article's own front matter (data-kb-t)
    N_("客户最佳实践 · 来自"), N_("最近审核："), N_("负责人："),
)


def is_public() -> bool:
    """Whether this request is one a customer makes (so it follows the browser's language)."""
    return request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS


def language() -> str:
    """The language of what this request shows: the company's, or the reader's on public pages.

    A signed-in browser calling the API is one of kb's own back-office pages (the editor, the agent desk):
    what the API says to a person there (an error's ``text``) is in the page's language, the company's."""
    company = current_app.config["KB"]["language"]
    if has_request_context() and is_public() and not (request.blueprint == "api" and g.get("auth") == "session"):
        return request.accept_languages.best_match(LANGUAGES) or company
    return company


def _company_language() -> None:
    # What library code writes during this request (e-mails it queues, an analysis run from the
    # dashboard) is for the company: its language, whatever the browser asked for.
    g.kb_language_token = set_language(current_app.config["KB"]["language"])


def _reset_language(_exc=None) -> None:
    token = g.pop("kb_language_token", None)
    if token is not None:
        reset_language(token)


def _vary(response):
    if is_public():
        response.vary.add("Accept-Language")
    return response


@bp.get("/assets/javascripts/kb-strings.js")
def strings():
    """The site scripts' strings in the reader's language: ``window.KB_STRINGS = {"中文": "…"}``."""
    table = {text: gettext(text) for text in JS_STRINGS}
    body = "window.KB_STRINGS = " + json.dumps(table, ensure_ascii=False).replace("</", "<\\/") + ";\n"
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app) -> None:
    """Flask-Babel with kb's catalogues; ``_``/``gettext`` and ``{% trans %}`` in every template."""
    compile_catalogues()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = LANGUAGES[0]
    Babel(app, locale_selector=language)
    app.jinja_env.globals["page_language"] = language
    app.after_request(_vary)
    app.before_request(_company_language)
    app.teardown_request(_reset_language)
    app.register_blueprint(bp)


def said_to_people(exc) -> str:
    """A KBError in the page's language (the company's, or the reader's on public pages), stored identifiers
    by their names (「需修改」, 「标题」), for a banner or an error page."""
    return exc.said_in(language())
