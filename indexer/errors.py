"""The small error tree every part of kb raises; kbserver turns it into JSON or a page.

An error is said to two audiences: programs read the API's JSON, always in English (``message``), and
people read the CLI's line or a page's banner in the company's language (``text``). So kb raises with
the Chinese source text marked for the catalogue and its values as details::

    raise NotFound(N_("没有编号为 %(id)s 的投稿"), id=sid)

``message`` is then the English translation and ``text`` the translation into the current language
(indexer.i18n.set_language: the CLI's ``--language``, the company's during a request). A message given
in English (not in the catalogue) reads the same for both.

Some details are stored identifiers (a submission's state, a role): the English message keeps them as
programs read them, and a person reads their names (「需修改」, not changes_requested). An error says
which details those are and of what concept (indexer/labels.py), per raise or per class::

    raise Conflict(N_("「%(state)s」的问题不能改为「%(to_state)s」"), state=s, to_state=t,
                   labels={"state": "flag", "to_state": "flag"})
"""

from indexer.i18n import current_language, translations
from indexer.labels import label_list


class KBError(Exception):
    """Something the user can fix; the message says what to do next."""

    status = 400
    code = "error"
    labels: dict[str, str] = {}  # detail name → concept (indexer/labels.py) of the identifiers it holds

    def __init__(self, message: str, *, labels: dict[str, str] | None = None, **details):
        self.source = message  # the catalogue's msgid (Chinese), or an English message kb never translated
        self.details = details
        if labels:
            self.labels = {**type(self).labels, **labels}
        super().__init__(self.message)

    def said_in(self, language: str) -> str:
        """The message in language, its %(name)s filled from the details; outside English the stored
        identifiers among them (``labels``) are named, not spelled as identifiers."""
        text = translations(language).gettext(self.source)
        if "%(" not in text:
            return text
        # An error inside another (a save refused because the article would not parse) is said in the same language.
        values = {key: value.said_in(language) if isinstance(value, KBError) else value
                  for key, value in self.details.items()}
        if language != "en" and self.labels:
            values = {key: label_list(value, self.labels[key], language) if key in self.labels else value
                      for key, value in values.items()}
        try:
            return text % values
        except (KeyError, ValueError, TypeError):  # a message that is not a template: show it as written
            return text

    @property
    def message(self) -> str:
        """In English, for the API and the logs."""
        return self.said_in("en")

    @property
    def text(self) -> str:
        """In the current language (indexer.i18n), for a person: the CLI, a page's banner."""
        return self.said_in(current_language())


class InvalidInput(KBError):
    """A request or command argument that cannot be used as given."""

    code = "invalid_input"
    labels = {"field": "field"}


class NotFound(KBError):
    """An article, query or file that does not exist."""

    status = 404
    code = "not_found"


class ArticleError(KBError):
    """A Markdown source that cannot be read (broken front matter, not UTF-8)."""

    code = "bad_article"

    def __init__(self, message: str, path: str = "", line: int | None = None, **details):
        super().__init__(message, path=path, line=line, **details)
        self.path = path
        self.line = line


class IndexMissing(KBError):
    """No search index has been built in the data folder yet."""

    status = 503
    code = "index_missing"


class Conflict(KBError):
    """The thing changed since the caller last saw it (another reviewer, a stale form)."""

    status = 409
    code = "conflict"


class Gone(KBError):
    """What was asked for existed once and was deleted (restoring it needs an explicit re-create)."""

    status = 410
    code = "gone"


class TooLarge(KBError):
    """Accepted input, but over its size limit."""

    status = 413
    code = "too_large"


class Forbidden(KBError):
    """Signed in, but this role may not do that."""

    status = 403
    code = "forbidden"
    labels = {"role": "role", "roles": "role"}


class Unauthorized(KBError):
    """Not signed in, or the token is wrong."""

    status = 401
    code = "unauthorized"


class RateLimited(KBError):
    """Too many requests of one kind from one account; try again later."""

    status = 429
    code = "rate_limited"
