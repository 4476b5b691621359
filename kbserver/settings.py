"""Every setting kb has, declared once: name, default, environment variable and help text.

The CLI turns each into a flag (``--data``) that also reads its variable (``KB_DATA``);
``create_app`` takes the same names as a dict. ``tests/test_docs.py`` fails when one is missing
from the README.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import InvalidInput
from indexer.i18n import LANGUAGES


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    env: str
    help: str
    type: type = str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS = [
    Setting("docs", "docs", "KB_DOCS", "Folder of Markdown articles (.md, .mdx) to build and index."),
    Setting("data", "data", "KB_DATA", "Folder for the search index, the event database and the built site."),
    Setting("database_url", "", "KB_DATABASE_URL",
            "Database URL: sqlite:///<data>/kb.db (the default) or postgresql://user:password@host:5432/db."),
    Setting("host", "127.0.0.1", "KB_HOST", "Address `kb serve` listens on."),
    Setting("port", 8000, "KB_PORT", "Port `kb serve` listens on.", int),
    Setting("threads", 8, "KB_THREADS", "Worker threads of the WSGI server.", int),
    Setting("mkdocs_config", "", "KB_MKDOCS_CONFIG", "MkDocs config for the site; default: kb's own mkdocs.yml."),
    Setting("site_workers", 2, "KB_SITE_WORKERS",
            "Processes that render the site's pages in a full build (`kb build`, `kb serve` when the site is stale).", int),
    Setting("cache_size", 4096, "KB_CACHE_SIZE", "Search results kept in memory per index version (0 turns the cache off).", int),
    Setting("analyze_every", 60, "KB_ANALYZE_EVERY", "Minutes between analysis runs in `kb serve` (0: off).", int),
    Setting("change_poll", 1, "KB_CHANGE_POLL",
            "Seconds between a node's looks at the change feed (changes other `kb serve` nodes on the same database "
            "made: publish, edit, synonyms); 0: off (one node).", int),
    Setting("secret_key", "", "KB_SECRET_KEY", "Key that signs login sessions; default: generated once into "
            "<data>/secret.key. Prefer the variable: a flag is visible to every local user in `ps`."),
    Setting("period", 7, "KB_PERIOD", "Days per analysis period; trends compare the last two periods.", int),
    Setting("click_window", 300, "KB_CLICK_WINDOW", "Seconds after a search within which a click counts.", int),
    Setting("reformulation_window", 120, "KB_REFORMULATION_WINDOW",
            "Seconds within which a new search without a click counts as reformulating.", int),
    Setting("vote_window", 1800, "KB_VOTE_WINDOW",
            "Seconds after a click within which a 'not helpful' vote fails the search.", int),
    Setting("escalation_window", 86400, "KB_ESCALATION_WINDOW",
            "Seconds after a search session's last search within which a question to support or a visit through "
            "an agent's ticket link from the same session means it was not self-served.", int),
    Setting("semantic_model", "use", "KB_SEMANTIC_MODEL",
            "Sentence-embedding model of the semantic search stage: use (multilingual, offline) or off (keywords only)."),
    Setting("secure_cookies", False, "KB_SECURE_COOKIES",
            "Mark the session cookies Secure (sent over HTTPS only); turn on when kb is served over HTTPS.", bool),
    Setting("event_durability", "process", "KB_EVENT_DURABILITY",
            "What an acknowledged event survives: 'process' (kill -9, OOM kill: written to the OS before the "
            "answer) or 'power' (power loss too: fsynced before the answer, slower)."),
    Setting("time_zone", "Asia/Shanghai", "KB_TIME_ZONE",
            "Time zone of the times shown on pages (IANA name, e.g. Asia/Shanghai, Europe/Berlin, UTC); stored times stay UTC."),
    Setting("language", "zh", "KB_LANGUAGE",
            "Language of the back office, e-mails and analysis suggestions: zh or en. Public pages follow the browser's "
            "Accept-Language when it is zh or en, else this."),
    Setting("access_log", False, "KB_ACCESS_LOG",
            "Print one line per request to stdout in the common log format (address, user, time, request, status, bytes).",
            bool),
    Setting("connection_limit", 1000, "KB_CONNECTION_LIMIT",
            "Open client connections `kb serve` accepts at once; more wait in the listen backlog.", int),
    Setting("idle_timeout", 30, "KB_IDLE_TIMEOUT", "Seconds an idle client connection is kept open.", int),
    Setting("request_timeout", 30, "KB_REQUEST_TIMEOUT",
            "Seconds a client has to send a whole request (headers and body) before it is disconnected.", int),
    Setting("trusted_proxy", "", "KB_TRUSTED_PROXY",
            "Address of the reverse proxy whose X-Forwarded-For/-Proto/-Host/-Port headers are believed ('*': any)."),
    Setting("password_hash_cost", 64, "KB_PASSWORD_HASH_COST",
            "MiB of memory per Argon2id password hash (3 passes); 64 is RFC 9106's choice; lower it only for tests.", int),
    Setting("password_checks", 2, "KB_PASSWORD_CHECKS",
            "Sign-ins checked at once per process; further sign-ins get 503 at once, so a flood cannot starve search.", int),
    Setting("refusal_delay", 1, "KB_REFUSAL_DELAY",
            "Seconds an address answered 429 or 503 waits before its next request of the same kind is handled (on a "
            "timer, not a worker thread), so a client ignoring Retry-After cannot flood; 0, or behind a trusted proxy: "
            "no wait.", int),
    Setting("login_window", 900, "KB_LOGIN_WINDOW", "Seconds over which failed sign-ins are counted for the lockout.", int),
    Setting("login_failures_account", 10, "KB_LOGIN_FAILURES_ACCOUNT",
            "Failed sign-ins to one account (from anywhere) within the window that lock it (429).", int),
    Setting("login_failures_address", 50, "KB_LOGIN_FAILURES_ADDRESS",
            "Failed sign-ins from one client address (to any account) within the window that lock it (429).", int),
    Setting("click_min_clients", 3, "KB_CLICK_MIN_CLIENTS",
            "Distinct clients that must click and keep an article for a query before it ranks higher for it.", int),
    Setting("click_half_life", 30, "KB_CLICK_HALF_LIFE",
            "Days after which a kept click counts half in click re-ranking.", int),
    Setting("session_hours", 12, "KB_SESSION_HOURS",
            "Hours a sign-in lasts; signing out, a password reset or disabling the account ends it at once.", int),
    Setting("verify_after_searches", 30, "KB_VERIFY_AFTER_SEARCHES",
            "New searches of a fixed gap's queries after which the analysis judges the fix (verified or reopened).", int),
    Setting("verify_after_days", 14, "KB_VERIFY_AFTER_DAYS",
            "Days after a fix when the analysis judges it even with fewer searches.", int),
    Setting("ask_webhook_url", "", "KB_ASK_WEBHOOK_URL",
            "Helpdesk URL each customer question (提交问题) is POSTed to as JSON, in the background with retries; "
            "empty: questions are only stored and shown on /questions."),
    Setting("smtp_host", "", "KB_SMTP_HOST",
            "SMTP server notification e-mails are sent through; empty: no e-mails (webhooks still work)."),
    Setting("smtp_port", 25, "KB_SMTP_PORT", "Port of the SMTP server (25, or 587 with --smtp-starttls).", int),
    Setting("smtp_user", "", "KB_SMTP_USER", "User name for SMTP authentication; empty: no authentication."),
    Setting("smtp_password", "", "KB_SMTP_PASSWORD",
            "Password for SMTP authentication. Prefer the variable: a flag is visible to every local user in `ps`."),
    Setting("smtp_from", "", "KB_SMTP_FROM", "Sender address of notification e-mails, e.g. 帮助中心 <kb@example.com>."),
    Setting("public_url", "", "KB_PUBLIC_URL",
            "Address people reach kb at (e.g. https://help.example.com), for the links in notification e-mails; "
            "empty: the links are paths only."),
    Setting("smtp_starttls", False, "KB_SMTP_STARTTLS", "Upgrade the SMTP connection with STARTTLS before signing in.",
            bool),
    Setting("widget_origins", "", "KB_WIDGET_ORIGINS",
            "Origins of the web apps that embed the help widget (widget.js), comma-separated, e.g. "
            "https://app.example.com,https://admin.example.com; only they may call /api/widget/ (CORS). Empty: none."),
    Setting("widget_pages", "", "KB_WIDGET_PAGES",
            "Which module's articles the widget suggests on which page of the host app: comma-separated "
            "path-pattern=module pairs (* matches within a path segment), e.g. /projects/*/gantt=gantt,/billing*=billing."),
]
BY_NAME = {s.name: s for s in SETTINGS}


DATA_INFO = "kb.json"  # in the data folder: which docs folder it was built from


def load_settings(overrides: dict | None = None, environ=None) -> dict:
    """Defaults, then environment variables, then overrides (CLI flags or a test's dict), validated.

    Without --docs or KB_DOCS, a data folder built before remembers its docs folder, so
    `kb build --docs X --data D` then `kb serve --data D` serves X, not ./docs.
    """
    environ = os.environ if environ is None else environ
    values, explicit = {}, set()
    for s in SETTINGS:
        value = s.default
        if environ.get(s.env, "") != "":
            value = environ[s.env]
            explicit.add(s.name)
        if overrides and overrides.get(s.name) not in (None, ""):
            value = overrides[s.name]
            explicit.add(s.name)
        values[s.name] = _convert(s, value)
    if "docs" not in explicit:
        remembered = _remembered_docs(Path(values["data"]).expanduser())
        if remembered:
            values["docs"] = remembered
    unknown = set(overrides or {}) - set(BY_NAME)
    if unknown:
        raise InvalidInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values["docs"] = Path(values["docs"]).expanduser()
    values["data"] = Path(values["data"]).expanduser()
    if not values["database_url"]:
        values["database_url"] = "sqlite:///" + str((values["data"] / "kb.db").resolve())
    if not 0 < values["port"] < 65536:
        raise InvalidInput(f"port must be between 1 and 65535, got {values['port']}")
    if values["threads"] < 1:
        raise InvalidInput("threads must be at least 1")
    if values["cache_size"] < 0:
        raise InvalidInput("cache_size cannot be negative")
    for name in ("period", "click_window", "reformulation_window", "vote_window", "escalation_window"):
        if values[name] < 1:
            raise InvalidInput(f"{name} ({BY_NAME[name].env}) must be at least 1")
    from indexer.semantic import MODELS

    if values["semantic_model"] not in MODELS:
        raise InvalidInput(f"semantic_model ({BY_NAME['semantic_model'].env}) must be one of {', '.join(MODELS)}, "
                           f"got {values['semantic_model']!r}")
    if values["event_durability"] not in ("process", "power"):
        raise InvalidInput(f"event_durability (KB_EVENT_DURABILITY) must be 'process' or 'power', "
                           f"got {values['event_durability']!r}")
    if not 1 <= values["site_workers"] <= 64:
        raise InvalidInput(f"site_workers (KB_SITE_WORKERS) must be between 1 and 64, got {values['site_workers']}")
    for name in ("connection_limit", "idle_timeout", "request_timeout", "password_hash_cost", "password_checks",
                 "login_window", "login_failures_account", "login_failures_address", "session_hours",
                 "click_min_clients", "click_half_life", "verify_after_searches", "verify_after_days"):
        if values[name] < 1:
            raise InvalidInput(f"{name} ({BY_NAME[name].env}) must be at least 1")
    if values["ask_webhook_url"] and not str(values["ask_webhook_url"]).startswith(("http://", "https://")):
        raise InvalidInput(f"ask_webhook_url (KB_ASK_WEBHOOK_URL) must be an http:// or https:// URL, "
                           f"got {values['ask_webhook_url']!r}")
    if values["public_url"] and not str(values["public_url"]).startswith(("http://", "https://")):
        raise InvalidInput(f"public_url (KB_PUBLIC_URL) must be an http:// or https:// address, "
                           f"got {values['public_url']!r}")
    if values["smtp_host"]:
        if not 0 < values["smtp_port"] < 65536:
            raise InvalidInput(f"smtp_port (KB_SMTP_PORT) must be between 1 and 65535, got {values['smtp_port']}")
        if "@" not in str(values["smtp_from"]):
            raise InvalidInput("smtp_from (KB_SMTP_FROM) must be an e-mail address when smtp_host is set, "
                               "e.g. kb@example.com")
        if values["smtp_user"] and not values["smtp_password"]:
            raise InvalidInput("smtp_user is set without smtp_password: set KB_SMTP_PASSWORD")
    from .timefmt import time_zone
    from .widget import page_modules, widget_origins

    widget_origins(values["widget_origins"])  # readable errors at start, not on the first widget request
    page_modules(values["widget_pages"])

    time_zone(values["time_zone"])  # a readable error now, not on the first page
    if values["language"] not in LANGUAGES:
        raise InvalidInput(f"language (KB_LANGUAGE) must be one of {', '.join(LANGUAGES)}, got {values['language']!r}")
    if values["change_poll"] < 0:
        raise InvalidInput("change_poll (KB_CHANGE_POLL) cannot be negative (0 turns following other nodes off)")
    if values["refusal_delay"] < 0:
        raise InvalidInput("refusal_delay (KB_REFUSAL_DELAY) cannot be negative (0: no wait after a 429 or 503)")
    if values["analyze_every"] < 0:
        raise InvalidInput("analyze_every cannot be negative (0 turns scheduled analysis off)")
    return values


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(setting: Setting, value):
    if setting.type is bool and not isinstance(value, bool):
        word = str(value).strip().lower()
        if word not in _TRUE + _FALSE:
            raise InvalidInput(f"{setting.name} ({setting.env}) must be 1/true/yes/on or 0/false/no/off, got {value!r}")
        return word in _TRUE
    if setting.type is int and not isinstance(value, int):
        try:
            return int(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{setting.name} ({setting.env}) must be a whole number, got {value!r}") from None
    return value


def _remembered_docs(data: Path) -> str | None:
    try:
        return json.loads((data / DATA_INFO).read_text(encoding="utf-8")).get("docs")
    except (OSError, ValueError, AttributeError):
        return None


def remember_docs(settings: dict) -> None:
    """Record in the data folder which docs folder it is built from."""
    data = Path(settings["data"])
    data.mkdir(parents=True, exist_ok=True)
    (data / DATA_INFO).write_text(json.dumps({"docs": str(Path(settings["docs"]).resolve())}), encoding="utf-8")


def failing_rules(settings: dict):
    """The failing-search rules these settings describe (for `kb analyze` and the scheduled run alike)."""
    from analytics.failing import FailingRules

    return FailingRules(settings["click_window"], settings["reformulation_window"], settings["vote_window"])


def closure_rules(settings: dict):
    """When the analysis judges a linked fix (for `kb analyze` and the scheduled run alike)."""
    from analytics.closure import ClosureRules

    return ClosureRules(settings["verify_after_searches"], settings["verify_after_days"])
