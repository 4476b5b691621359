"""The small error tree every part of kb raises; kbserver turns it into JSON or a page."""


class KBError(Exception):
    """Something the user can fix; the message says what to do next."""

    status = 400
    code = "error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(KBError):
    """A request or command argument that cannot be used as given."""

    code = "invalid_input"


class NotFound(KBError):
    """An article, query or file that does not exist."""

    status = 404
    code = "not_found"


class ArticleError(KBError):
    """A Markdown source that cannot be read (broken front matter, not UTF-8)."""

    code = "bad_article"

    def __init__(self, message: str, path: str = "", line: int | None = None):
        super().__init__(message, path=path, line=line)
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


class Unauthorized(KBError):
    """Not signed in, or the token is wrong."""

    status = 401
    code = "unauthorized"


class RateLimited(KBError):
    """Too many requests of one kind from one account; try again later."""

    status = 429
    code = "rate_limited"
