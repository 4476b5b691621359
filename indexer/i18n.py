"""The languages kb speaks: Chinese source strings, and message catalogues that translate them.

Source strings (msgids) are the Chinese text people read, so templates and code stay readable in the
product's first language; ``translations/en/LC_MESSAGES/messages.po`` gives each its English, and
``translations/zh`` is the identity catalogue (every msgstr empty, so the msgid is shown). The
compiled ``.mo`` files are committed and checked against their ``.po`` by the tests, and
``compile_catalogues`` (run by ``kb build`` and at server start) recompiles a stale one, so a fresh
clone serves both languages with no extra step.

This module is at the bottom of the package tree (it imports no other kb package) so the web app, the
analytics that write e-mails and the CLI share one catalogue.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("zh", "en")  # the first is the source language
TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"
log = logging.getLogger(__name__)


CLICK_DOMAIN = "click"  # the command line library's own words (Usage:, Error:, …): English msgids, a zh catalogue


def catalogue(language: str, suffix: str = ".po", domain: str = DOMAIN) -> Path:
    """The catalogue file of language (.po, or .mo when suffix is ".mo")."""
    return TRANSLATIONS / language / "LC_MESSAGES" / (domain + suffix)


def compiled(language: str, domain: str = DOMAIN) -> bytes:
    """The .mo bytes the .po of language compiles to."""
    import io

    with catalogue(language, domain=domain).open("rb") as po:
        messages = read_po(po, locale=language)
    out = io.BytesIO()
    write_mo(out, messages, use_fuzzy=False)
    return out.getvalue()


def compile_catalogues() -> list[str]:
    """Recompile every .mo older than its .po (or missing); returns the catalogues compiled ("en", "zh/click").

    A read-only install (site-packages owned by root) keeps the committed .mo and says so in the log."""
    done = []
    for language in LANGUAGES:
        for domain in (DOMAIN, CLICK_DOMAIN):
            po, mo = catalogue(language, domain=domain), catalogue(language, ".mo", domain)
            if not po.is_file() or (mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime):
                continue
            try:
                data = compiled(language, domain)
                if not mo.is_file() or mo.read_bytes() != data:
                    mo.write_bytes(data)
                done.append(language if domain == DOMAIN else f"{language}/{domain}")
            except OSError as exc:
                log.warning("could not compile the %s %s catalogue (%s); using the shipped one", language, domain, exc)
    if done:
        translations.cache_clear()
    return done


@functools.cache
def translations(language: str, domain: str = DOMAIN) -> NullTranslations:
    """The compiled catalogue of language (NullTranslations, i.e. the source text, when there is none)."""
    if (domain == DOMAIN and language == LANGUAGES[0]) or not catalogue(language, ".mo", domain).is_file():
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language], domain)


def translator(language: str):
    """gettext for language, outside a web request (e-mails, the CLI): ``t("…%(n)s…", n=3)``."""
    catalogue_ = translations(language)

    def t(message: str, **values) -> str:
        text = catalogue_.gettext(message)
        return text % values if values else text

    return t


# The language of text written outside a web request's templates: e-mails, the analysis' suggestions, CLI
# messages. A context variable (per thread and per request, like Django's translation.override), set by
# whoever knows the company's setting: the CLI once per command, the server per request and per
# background thread. Library code calls gettext() below and never needs a language argument threaded
# through every call.
_language = contextvars.ContextVar("kb_language", default=LANGUAGES[0])


def current_language() -> str:
    """The language gettext() translates into here."""
    return _language.get()


def set_language(language: str) -> contextvars.Token:
    """Write in language from now on in this context (a CLI command); returns the token to reset it."""
    return _language.set(language)


def reset_language(token: contextvars.Token) -> None:
    """Undo set_language."""
    _language.reset(token)


@contextlib.contextmanager
def using(language: str):
    """Write in language inside the block (a background job, one request)."""
    token = _language.set(language)
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str, **values) -> str:
    """message in the current language, with %(name)s filled from values."""
    return translator(_language.get())(message, **values)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark message for extraction where it is defined; it is translated where it is shown."""
    return message
