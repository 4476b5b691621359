"""`kb`: a thin command line over the library. Each command parses options, calls one function and
turns kb's errors into a readable message and a non-zero exit."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from analytics.accounts import ROLES
from analytics.report import TABLES
from indexer.errors import KBError
from indexer.i18n import LANGUAGES, gettext, set_language

from .cli_language import KBGroup, KBOption, speak_click_in_kb_language
from .settings import BY_NAME, load_settings, remember_docs

speak_click_in_kb_language()


def setting_options(*names):
    """Add a flag for each named setting, reading its environment variable (declared in settings.py)."""

    def decorate(fn):
        for name in reversed(names):
            s = BY_NAME[name]
            # Values stay strings here: load_settings validates them and names the variable in errors.
            kind = {"is_flag": True, "flag_value": "1"} if s.type is bool else {"type": str}
            fn = click.option(s.flag, name, envvar=s.env, default=None, **kind, cls=KBOption, setting=name,
                              help=s.help)(fn)
        return fn

    return decorate


def friendly_errors(fn):
    """Turn KBError (and a missing folder or port in use) into `Error: ...` and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KBError as exc:
            raise click.ClickException(exc.text) from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _settings(**options) -> dict:
    """Settings from flags and environment, checked before any long work starts."""
    from indexer.site import DEFAULT_MKDOCS_CONFIG
    from indexer.store import check_database_url

    ctx = click.get_current_context(silent=True)
    if (options.get("secret_key") and ctx is not None
            and ctx.get_parameter_source("secret_key") == click.core.ParameterSource.COMMANDLINE):
        click.secho("warning: --secret-key is visible to every local user in `ps`; set KB_SECRET_KEY instead, "
                    "or leave it out to use the generated <data>/secret.key", fg="yellow", err=True)
    if options.get("language") is None:  # `kb --language en COMMAND`: the group's flag
        options["language"] = click.get_current_context().find_root().params.get("language")
    settings = load_settings({k: v for k, v in options.items() if k in BY_NAME})
    set_language(settings["language"])  # what this command writes (suggestions, e-mails) is in the company's language
    if "database_url" in options:
        check_database_url(settings["database_url"])
    if "docs" in options and settings["docs"].exists() and not settings["docs"].is_dir():
        raise KBError(f"--docs {settings['docs']} is a file; point it at the folder that holds the Markdown articles")
    if "mkdocs_config" in options:
        config = Path(settings["mkdocs_config"] or DEFAULT_MKDOCS_CONFIG)
        if not config.is_file():
            raise KBError(f"MkDocs config {config} not found: pass --mkdocs-config or set KB_MKDOCS_CONFIG")
    return settings


# kb serve's settings for sign-in and sessions (kbserver/auth.py)
SIGN_IN_SETTINGS = ("password_hash_cost", "password_checks", "login_window", "login_failures_account",
                    "login_failures_address", "session_hours")


# kb serve's settings for notification e-mails (kbserver/delivery.py)
SMTP_SETTINGS = ("smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_from", "smtp_starttls", "public_url")


def _warn_problem(exc) -> None:
    click.secho(f"warning: {exc.message} (skipped)", fg="yellow", err=True)


class _Progress:
    """A progress bar that appears once the total is known (Whoosh tells us per document)."""

    def __init__(self, label: str):
        self.label, self.bar, self.done = label, None, 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_index(settings: dict, full: bool):
    """Index docs into data with a progress bar; returns the IndexReport."""
    from indexer.build import build_full, update_incremental
    from indexer.store import make_private_dir

    make_private_dir(settings["data"])  # before the indexer creates it with the umask's mode
    progress = _Progress("indexing")
    try:
        fn = build_full if full else update_incremental
        report = fn(settings["docs"], settings["data"], progress=progress, on_problem=_warn_problem)
    finally:
        progress.close()
    remember_docs(settings)
    click.echo(report.summary())
    return report


def run_vectors(settings: dict) -> None:
    """Embed the passages the index lacks vectors for (search already answers by keywords meanwhile)."""
    from indexer.build import current_index_dir
    from indexer.dense import fill_vectors
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    state = model_state(settings["semantic_model"])
    encoder = state.get()
    if encoder is None:
        click.echo(f"vectors: skipped, {state.reason}; search is keywords only", err=True)
        return
    progress = _Progress("embedding passages (search already answers by keywords)")
    try:
        report = fill_vectors(current_index_dir(settings["data"]), VectorStore(settings["data"]), encoder, progress=progress)
    finally:
        progress.close()
    click.echo(report.summary())


def run_site_build(settings: dict) -> dict:
    """Build the static site, saying so (MkDocs gives no progress of its own)."""
    from indexer.site import build_site

    progress = _Progress(f"building site ({settings['site_workers']} workers)")
    try:
        info = build_site(settings["docs"], settings["data"], settings["mkdocs_config"] or None, on_problem=None,
                          workers=settings["site_workers"], progress=progress)
    finally:
        progress.close()
    click.echo(f"site: {info['pages']} pages in {info['seconds']:.1f}s → {settings['data'] / 'site'}")
    return info


@click.group(cls=KBGroup)
@click.version_option(package_name="kb")
@setting_options("language")
def cli(language):
    """kb: a self-hosted help center with Chinese-aware search that learns from its use."""
    if language:
        if language not in LANGUAGES:
            raise click.BadParameter(gettext("必须是 %(choices)s 之一", choices=", ".join(LANGUAGES)),
                                     param_hint="--language")
        set_language(language)


@cli.command()
@setting_options("docs", "data", "mkdocs_config", "semantic_model", "site_workers")
@friendly_errors
def build(**options):
    """Build the search index (from scratch), the static site, then the passage vectors (reused when unchanged)."""
    settings = _settings(**options)
    run_index(settings, full=True)
    run_site_build(settings)
    run_vectors(settings)


@cli.command()
@setting_options("docs", "data", "semantic_model")
@click.option("--full", is_flag=True, help="Rebuild the whole index instead of only what changed.")
@friendly_errors
def index(full, **options):
    """Update the search index (only added, changed or removed articles are touched) and their vectors."""
    settings = _settings(**options)
    report = run_index(settings, full=full)
    for label, slugs in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        if slugs and report.mode == "incremental":
            click.echo(f"  {label}: {', '.join(slugs)}")
    run_vectors(settings)


@cli.command()
@setting_options(*SIGN_IN_SETTINGS)
@setting_options("docs", "data", "database_url", "host", "port", "threads", "mkdocs_config", "cache_size",
                 "analyze_every", "secret_key", "period", "click_window", "reformulation_window", "vote_window",
                 "semantic_model", "secure_cookies", "event_durability", "connection_limit", "idle_timeout",
                 "request_timeout", "trusted_proxy", "access_log", "site_workers", "ask_webhook_url",
                 "verify_after_searches", "verify_after_days", "time_zone", "change_poll", "language")
@setting_options(*SMTP_SETTINGS)
@setting_options("widget_origins", "widget_pages")
@friendly_errors
def serve(**options):
    """Serve the help site and its API (building them first if needed) on a production WSGI server."""
    from indexer.build import index_manifest, read_pointer
    from indexer.site import site_dir, site_manifest

    from . import create_app
    from .server import serve as run_server

    settings = _settings(**options)
    from indexer import changes

    from .db import open_db as _open_db

    # Changes other nodes make from now on are applied by the follower; the start-up below catches up the rest
    # (the shared docs folder holds every change made before, and the site is rebuilt if it lags the index).
    feed = _open_db(settings["database_url"])
    since = changes.latest(feed)
    feed.conn.close()
    if read_pointer(settings["data"]) is None or site_dir(settings["data"]) is None:
        click.echo("no index or site yet: building them first", err=True)
        run_index(settings, full=True)
        run_site_build(settings)
    else:
        run_index(settings, full=False)
        # The site may lag the index (after `kb index`), not only the docs: compare what each holds.
        if site_manifest(settings["data"]) != index_manifest(settings["data"]):
            run_site_build(settings)
    app = create_app({k: v for k, v in settings.items()})
    app.extensions["kb_index"].warm()  # the first customer should not wait for the index to load
    recovered = app.extensions["kb_publisher"].recover(_open_db(settings["database_url"]))
    if recovered:
        app.extensions["kb_site_updater"].wait_idle()  # their pages are live before the first visitor comes
        click.echo(f"finished publishing submission(s) {recovered} interrupted by an earlier stop", err=True)
    from .jobs import start_schedule

    start_schedule(app, settings["analyze_every"])
    app.extensions["kb_follower"].start(since)  # other nodes' publishes, edits and synonyms, within seconds
    app.extensions["kb_vectors"].start()  # embeds in the background: search answers by keywords meanwhile
    app.extensions["kb_forwarder"].start()  # resends questions an earlier run could not deliver
    app.extensions["kb_notifier"].start()  # e-mails and webhooks, including those an earlier run left pending
    run_server(app, settings["host"], settings["port"], settings["threads"],
               ready=lambda url: click.echo(f"kb is serving the help center at {url}  (Ctrl-C to stop)"),
               **{k: settings[k] for k in ("connection_limit", "idle_timeout", "request_timeout", "trusted_proxy",
                                           "access_log", "refusal_delay")})


@cli.command()
@setting_options("data", "database_url")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@friendly_errors
def stats(as_json, **options):
    """Counts of articles, searches, clicks and votes."""
    from analytics.events import counts
    from indexer.query import open_index

    settings = _settings(**options)
    result = {"articles": open_index(settings["data"], cache_size=0).count()}
    db = _open_event_db(settings)
    result.update(counts(db))
    db.conn.close()
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:>9}: {value}")


@cli.command()
@setting_options("data", "semantic_model", "database_url")
@click.argument("query")
@click.option("--limit", default=5, show_default=True, help="How many results to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@friendly_errors
def search(query, limit, as_json, **options):
    """Search the index from the command line (not logged as a customer search)."""
    from indexer.query import open_index

    settings = _settings(**options)
    index = open_index(settings["data"], cache_size=0, semantic=settings["semantic_model"])
    index.set_learned_synonyms(_approved_synonyms(settings))  # as kb serve searches
    result = index.search(query, limit=limit)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result["did_you_mean"]:
        click.echo(f"did you mean: {result['did_you_mean']}")
    click.echo(f"{result['total']} results in {result['took_ms']:.1f} ms")
    for hit in result["results"]:
        found_by = "+".join(hit.get("matched") or [])
        click.echo(f"{hit['position']:>3}. {hit['title']}  [{hit['slug']}]  {hit['score']:.2f}  {found_by}")


def _approved_synonyms(settings: dict) -> list[tuple[str, str]]:
    """The learned synonym pairs managers approved (none when there is no database yet)."""
    from analytics.synonyms import approved_pairs
    from indexer.store import is_postgres, sqlite_path

    from .db import open_db

    if not is_postgres(settings["database_url"]) and not sqlite_path(settings["database_url"]).exists():
        return []
    db = open_db(settings["database_url"])
    try:
        return approved_pairs(db)
    finally:
        db.conn.close()


def _open_event_db(settings: dict):
    """The event database, first storing what a stopped `kb serve` acknowledged but had not stored
    (its spool): counts and analysis must see every event a customer was told was recorded."""
    from analytics.events import replay_spool, spool_folder

    from .db import open_db

    db = open_db(settings["database_url"])
    replayed = replay_spool(db, spool_folder(settings["data"]))
    if replayed:
        click.echo(f"stored {replayed} event(s) that a stopped kb serve had acknowledged but not yet stored", err=True)
    return db


def _articles(settings: dict) -> list[dict]:
    from indexer.articles import load_articles

    return [a.to_dict() | {"body": a.body} for a in load_articles(settings["docs"], on_problem=_warn_problem)]


@cli.command()
@setting_options("docs", "data", "database_url")
@click.option("--days", default=30, show_default=True, help="How many days of traffic to generate (ending now).")
@click.option("--sessions-per-day", default=60, show_default=True, help="Visitor sessions per day.")
@click.option("--seed", default=7, show_default=True, help="Random seed: the same seed gives the same month.")
@click.option("--json", "as_json", is_flag=True, help="Print the injected problems (ground truth) as JSON.")
@click.option("--scenario", type=click.File("rb"), default=None,
              help="YAML or JSON file of the problems to inject into any docs folder: uncovered topics, "
                   "unfindable topics (slug, queries, words the article lacks), voted_down, bounce (see README).")
@friendly_errors
def simulate(days, sessions_per_day, seed, as_json, scenario, **options):
    """Generate a realistic month of traffic with known problems into the event log (for demos and tests)."""
    from analytics.simulate import simulate as run
    from indexer.build import read_pointer
    from indexer.query import open_index

    from .db import open_db

    settings = _settings(**options)
    injected = None
    if scenario is not None:
        import yaml

        try:
            injected = yaml.safe_load(scenario.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise click.ClickException(f"{scenario.name} is not a UTF-8 YAML/JSON scenario: {str(exc).splitlines()[0]}") from None
    if read_pointer(settings["data"]) is None:
        run_index(settings, full=True)
    db = open_db(settings["database_url"])
    progress = _Progress("simulating days")
    try:
        truth = run(db, open_index(settings["data"]), _articles(settings), days=days,
                    sessions_per_day=sessions_per_day, seed=seed, progress=progress, scenario=injected)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(truth, ensure_ascii=False, indent=2))
    else:
        e = truth["events"]
        click.echo(f"simulated {days} days: {e['searches']} searches, {e['clicks']} clicks, {e['votes']} votes")
        click.echo("injected: gaps " + ", ".join(truth["gap_topics"])
                   + (f"; unfindable {', '.join(v['slug'] for v in truth['unfindable'].values())}" if truth["unfindable"] else "")
                   + f"; surge on {truth['surge']['article']}; "
                   f"unhelpful {truth['unhelpful_article']}; bounce {truth['bounce_article']}")
        click.echo("next: kb analyze")


@cli.command()
@setting_options("docs", "data", "database_url", "period", "click_window", "reformulation_window", "vote_window",
                 "verify_after_searches", "verify_after_days", "semantic_model", "language")
@click.option("--dry-run", is_flag=True, help="Report only; do not change the queue.")
@click.option("--json", "as_json", is_flag=True, help="Print the gaps and flags as JSON.")
@friendly_errors
def analyze(dry_run, as_json, **options):
    """Find failing searches, content gaps and stale or unhelpful articles; update the manager's queue."""
    from analytics.analyze import analyze as run
    from indexer.build import read_pointer
    from indexer.query import open_index

    from .settings import closure_rules, failing_rules

    settings = _settings(**options)
    articles = _articles(settings)
    db = _open_event_db(settings)
    # Advice asks kb's own search which article answers a gap's queries; without an index, words decide.
    index = open_index(settings["data"], semantic=settings["semantic_model"]) if read_pointer(settings["data"]) else None
    steps = ["failing searches", "content gaps", "stale and unhelpful articles", "queue", "verify fixes"]
    with click.progressbar(length=len(steps), label="analyzing", file=sys.stderr,
                           item_show_func=lambda s: s) as bar:
        report = run(db, articles, period_days=settings["period"], update_queue=not dry_run,
                     rules=failing_rules(settings), closure=closure_rules(settings), index=index,
                     progress=lambda name: bar.update(1, name))
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.summary())


@cli.command()
@setting_options("data", "database_url", "time_zone", "click_window", "reformulation_window", "vote_window",
                 "escalation_window")
@click.option("--days", default=None, type=str, help="The last N complete days (default 7) when --from is not given.")
@click.option("--from", "start", default=None, help="First day, YYYY-MM-DD (company time zone).")
@click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD; at most yesterday (today is a partial day).")
@click.option("--table", default="summary", show_default=True, type=click.Choice(list(TABLES)),
              help="Which table to print as CSV with --csv.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV (the dashboard's export).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON (the analytics API's numbers).")
@friendly_errors
def report(days, start, end, table, as_csv, as_json, **options):
    """The head of support's figures for a date range: self-service rate, searches, top lists, module health."""
    from analytics import report as reports

    from .settings import failing_rules
    from .timefmt import time_zone

    settings = _settings(**options)
    db = _open_event_db(settings)
    rng = reports.resolve_range(time_zone(settings["time_zone"]), start, end, days)
    data = reports.report(db, rng, failing_rules(settings), settings["escalation_window"])
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(reports.to_csv(reports.table(data, table)), nl=False)
    else:
        s, t = data["summary"], data["trend"]

        def pct(v):
            return "—" if v is None else f"{v * 100:.1f}%"

        def pts(v):
            return "" if v is None else f" ({v * 100:+.1f} points vs the {data['days']} days before)"

        click.echo(f"{data['from']} to {data['to']} ({data['days']} complete days, {data['time_zone']})")
        click.echo(f"self-service rate: {pct(s['self_service_rate'])} ({s['self_served_sessions']} of "
                   f"{s['sessions']} search sessions){pts(t['self_service_rate'])}")
        click.echo(f"searches: {s['searches']}; zero results {pct(s['zero_result_rate'])}; click-through "
                   f"{pct(s['click_through_rate'])}; helpful {pct(s['helpful_rate'])} of {s['votes']} votes")
        click.echo(f"answer box: answered {pct(s['answer_coverage'])} of searches; helpful "
                   f"{pct(s['answer_helpful_rate'])} of {s['answer_votes']} votes")


@cli.command()
@click.argument("file", type=click.File("rb"))
@click.option("--threshold", default=None, type=float,
              help="Average cosine distance under which queries group (default 0.6 English with MiniLM, 0.85 otherwise).")
@click.option("--min-size", default=None, type=int, help="Lines a group needs to be a cluster (default 3).")
@friendly_errors
def cluster(file, threshold, min_size):
    """Cluster queries from FILE (one per line, UTF-8; - for stdin) and print JSON: a cluster id per line."""
    from analytics.gaps import MIN_SIZE, cluster_texts, dedupe, near_identical_key

    raw = file.read()
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    queries = [line.strip() for line in lines]
    present = [q for q in queries if q]
    texts, counts, position = dedupe(present)
    if (threshold is not None and not 0 < threshold <= 2) or (min_size is not None and min_size < 1):
        raise click.ClickException("--threshold must be in (0, 2] and --min-size at least 1")
    result = cluster_texts(texts, counts, threshold=threshold, min_size=min_size or MIN_SIZE)
    label_of = {i: result.labels[i] for i in range(len(texts))}
    assignments = [label_of[position[near_identical_key(q) or q]] if q else -1 for q in queries]
    clusters = [{"id": c, "label": " / ".join(result.top_terms(c)), "representative": result.representative(c),
                 "size": sum(result.weights[i] for i in result.members(c))} for c in result.cluster_ids]
    click.echo(json.dumps({"lines": len(queries), "clusters": clusters, "assignments": assignments,
                           "noise": sum(1 for a in assignments if a < 0)}, ensure_ascii=False))


@cli.group()
def users():
    """Accounts: knowledge managers, support agents and VIP customers; disable, reset or remove them."""


def _accounts_db(options):
    from .db import open_db

    settings = _settings(**options)
    return settings, open_db(settings["database_url"])


@users.command("add")
@setting_options("data", "database_url", "password_hash_cost")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(list(ROLES)),
              help="manager, agent, vip, or helpdesk (an integration: the agent API for every agent's links).")
@click.option("--email", default=None, help="E-mail address for notifications (or later: kb users set-email).")
@friendly_errors
def users_add(name, role, email, **options):
    """Create an account; prints its generated password and API token (shown once)."""
    from analytics.accounts import clean_email, create_user, set_contact

    settings, db = _accounts_db(options)
    email = clean_email(email)  # checked before the account exists: a bad address creates nothing
    user, password, token = create_user(db, name, role, settings["password_hash_cost"])
    if email:
        set_contact(db, user["id"], email)
    click.echo(f"created {user['role']} {user['name']!r}")
    click.echo(f"password: {password}")
    click.echo(f"api token: {token}   (send as: Authorization: Bearer <token>)")
    click.echo("they are shown only now; kb stores only their hashes")


@users.command("list")
@setting_options("data", "database_url")
@friendly_errors
def users_list(**options):
    """List accounts (enabled and disabled) with their roles."""
    from analytics.accounts import list_users

    for user in list_users(_accounts_db(options)[1], include_disabled=True):
        click.echo(f"{user['name']}\t{user['role']}\t{'disabled' if user['disabled'] else 'active'}\t{user['created_at']}")


@users.command("disable")
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_disable(name, **options):
    """Disable an account: its sessions and API token stop working at once (not the last manager)."""
    from analytics.accounts import find_user, set_disabled

    db = _accounts_db(options)[1]
    set_disabled(db, find_user(db, name)["id"], True)
    click.echo(f"disabled {name!r}: signed out everywhere; password and token refused until `kb users enable`")


@users.command("enable")
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_enable(name, **options):
    """Enable an account again (its password and token work again) and lift its sign-in lockout."""
    from analytics import throttle
    from analytics.accounts import find_user, set_disabled

    db = _accounts_db(options)[1]
    user = set_disabled(db, find_user(db, name)["id"], False)
    throttle.clear_account(db, user["name"])
    click.echo(f"enabled {name!r}")


@users.command("set-role")
@setting_options("data", "database_url")
@click.argument("name")
@click.argument("role", type=click.Choice(list(ROLES)))
@friendly_errors
def users_set_role(name, role, **options):
    """Give an account another role (effective on its next request; the last manager cannot be demoted)."""
    from analytics.accounts import find_user, set_role

    db = _accounts_db(options)[1]
    user = set_role(db, find_user(db, name)["id"], role)
    click.echo(f"{user['name']!r} is now {user['role']}")


@users.command("reset-password")
@setting_options("data", "database_url", "password_hash_cost")
@click.argument("name")
@friendly_errors
def users_reset_password(name, **options):
    """Generate a new password (printed once); the account's sessions end, its API token stays."""
    from analytics import throttle
    from analytics.accounts import find_user, reset_password

    settings, db = _accounts_db(options)
    user = find_user(db, name)
    password = reset_password(db, user["id"], settings["password_hash_cost"])
    throttle.clear_account(db, user["name"])
    click.echo(f"new password for {name!r}: {password}")
    click.echo("shown only now; the account was signed out everywhere")


@users.command("rotate-token")
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_rotate_token(name, **options):
    """Replace the account's API token (printed once); the old token stops working at once."""
    from analytics.accounts import find_user, rotate_token

    db = _accounts_db(options)[1]
    token = rotate_token(db, find_user(db, name)["id"])
    click.echo(f"new api token for {name!r}: {token}")
    click.echo("shown only now; the old token no longer works")


@users.command("remove")
@setting_options("data", "database_url")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def users_remove(name, yes, **options):
    """Remove an account: sessions, password and token end at once; its name stays taken (history uses it)."""
    from analytics.accounts import find_user, remove_user

    db = _accounts_db(options)[1]
    user = find_user(db, name)
    if not yes:
        click.confirm(f"remove {user['role']} {name!r}? This cannot be undone", abort=True)
    remove_user(db, user["id"])
    click.echo(f"removed {name!r}")


@users.command("set-email")
@setting_options("data", "database_url")
@click.argument("name")
@click.argument("email")
@click.option("--mode", type=click.Choice(["instant", "digest", "off"]), default=None,
              help="Notification e-mails: each at once, one daily digest, or none.")
@friendly_errors
def users_set_email(name, email, mode, **options):
    """Set the e-mail address notifications go to ('' clears it), and optionally instant/digest/off."""
    from analytics import accounts

    _, db = _accounts_db(options)
    contact = accounts.set_contact(db, accounts.find_user(db, name)["id"], email, mode)
    click.echo(f"{contact['name']}: {contact['email'] or '(no e-mail)'}, {contact['mode']}")


@cli.group()
def webhooks():
    """Outgoing webhooks: signed JSON POSTs for submissions, flags, gaps, reviews due and questions."""


@webhooks.command("add")
@setting_options("data", "database_url")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated event types, or * for all (see `kb webhooks list`).")
@click.option("--secret", default=None,
              help="Signing secret (16+ characters); default: generated and printed once (better: a flag shows in `ps`).")
@click.option("--by", default="", help="Who adds it (recorded).")
@friendly_errors
def webhooks_add(url, events, secret, by, **options):
    """Send the chosen events to URL, signed with the secret."""
    from analytics import notifications

    hook, generated = notifications.add_webhook(_accounts_db(options)[1], url, events, secret, created_by=by)
    click.echo(f"webhook {hook['id']}: {hook['url']} ({', '.join(hook['events'])})")
    if generated:
        click.echo(f"signing secret (shown once): {generated}")


@webhooks.command("list")
@setting_options("data", "database_url")
@click.option("--deliveries", is_flag=True, help="Also show the latest deliveries and their attempts.")
@friendly_errors
def webhooks_list(deliveries, **options):
    """The webhooks (secrets masked), and with --deliveries the delivery log."""
    from analytics import notifications

    _, db = _accounts_db(options)
    for hook in notifications.list_webhooks(db):
        click.echo(f"{hook['id']:>4}  {hook['url']}  events {','.join(hook['events'])}  secret {hook['secret_hint']}")
    click.echo("event types: " + ", ".join(notifications.EVENTS))
    if deliveries:
        for d in notifications.deliveries(db, 50):
            tries = "; ".join(f"{a['status'] or '-'} {a['error'] or 'ok'}" for a in d["attempt_log"])
            click.echo(f"#{d['id']} webhook {d['webhook_id']} {d['event']} {d['state']}  {tries}")


@webhooks.command("remove")
@setting_options("data", "database_url")
@click.argument("webhook_id", type=int)
@friendly_errors
def webhooks_remove(webhook_id, **options):
    """Stop sending to a webhook (its delivery log stays)."""
    from analytics import notifications

    notifications.remove_webhook(_accounts_db(options)[1], webhook_id)
    click.echo(f"removed webhook {webhook_id}")


@cli.group()
def contrib():
    """Review VIP best practices from the command line (the same actions as the web queue and the API)."""


def _contrib_context(options, by=None):
    from . import policy
    from .db import open_db

    settings = _settings(**options)
    db = open_db(settings["database_url"])
    return settings, db, policy.manager_named(db, by) if by is not None else None


def _show(sub: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(sub, ensure_ascii=False, indent=2))
        return
    click.echo(f"#{sub['id']} {sub['title']}  [{sub['state']}]  by {sub['author_name']} ({sub['organisation']})")
    click.echo(f"revision {sub['revision']} · reviewer {sub['assigned_to'] or '-'} · slug {sub['slug'] or '-'}")
    for c in sub.get("comments", []):
        click.echo(f"  💬 {c['author']}: {c['body']}")
    for h in sub.get("history", []):
        click.echo(f"  {h['ts']} {h['actor']}: {h['from_state'] or '-'} → {h['to_state']} {h['note']}")


@contrib.command("list")
@setting_options("docs", "data", "database_url")
@click.option("--state", help="Only submissions in this state (e.g. submitted).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def contrib_list(state, as_json, **options):
    """List submissions, newest first."""
    from contrib import queue

    _, db, _ = _contrib_context(options)
    if state and state not in queue.STATES:
        raise KBError(f"--state must be one of {', '.join(queue.STATES)}")
    subs = queue.list_submissions(db, (state,) if state else None)
    if as_json:
        click.echo(json.dumps(subs, ensure_ascii=False, indent=2))
    for s in [] if as_json else subs:
        click.echo(f"#{s['id']:<4} {s['state']:<18} {s['title']}  ({s['organisation']})")


@contrib.command("show")
@setting_options("docs", "data", "database_url")
@click.argument("submission_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def contrib_show(submission_id, as_json, **options):
    """Show one submission with its comments and history."""
    from contrib import queue

    _, db, _ = _contrib_context(options)
    _show(queue.get(db, submission_id), as_json)


def _contrib_action(action: str, submission_id: int, by: str, note: str, options: dict) -> None:
    from contrib import queue
    from contrib.publish import Publisher
    from contrib.review import apply_review_action
    from indexer.site import update_site

    from . import policy

    settings, db, actor = _contrib_context(options, by)
    policy.require_submission(actor, queue.get(db, submission_id), action)
    changed: list[str] = []  # the docs paths whose pages change: rendered below, once the action is stored
    publisher = Publisher(settings["docs"], settings["data"], rebuild_site=lambda paths: changed.extend(paths))
    sub = apply_review_action(db, publisher, submission_id, action, actor, None, note or "")
    if changed:
        try:
            update_site(settings["docs"], settings["data"], changed, settings["mkdocs_config"] or None)
        except Exception as exc:  # noqa: BLE001 - the action is stored; the previous pages keep serving
            click.echo(f"warning: site update failed ({exc}); the previous pages stay", err=True)
    _show(sub, False)


for _name, _action, _help, _note in (
        ("start-review", "start_review", "Assign a submitted practice to the --by manager and start reviewing it.", False),
        ("request-changes", "request_changes", "Ask the author for changes (--note says what).", True),
        ("approve", "approve", "Approve and publish into docs/practices/ (index and site updated).", False),
        ("publish", "publish", "Retry publishing an approved submission whose publication failed.", False),
        ("reject", "reject", "Reject (--note gives the reason the author sees).", True),
        ("unpublish", "unpublish", "Take a published practice off the site and out of search.", False)):

    def _make(action=_action):
        def command(submission_id, by, note, **options):
            _contrib_action(action, submission_id, by, note, options)
        return command

    _cmd = _make()
    _cmd.__doc__ = _help
    _cmd = friendly_errors(_cmd)
    _cmd = setting_options("docs", "data", "database_url", "mkdocs_config")(_cmd)
    _cmd = click.option("--note", required=_note, default="", help="Recorded in the history; the author sees it.")(_cmd)
    _cmd = click.option("--by", required=True, help="The manager account doing this (recorded in the history).")(_cmd)
    _cmd = click.argument("submission_id", type=int)(_cmd)
    contrib.command(_name, help=_help)(_cmd)


@cli.group()
def synonyms():
    """Word pairs learned from customers' reformulations: list them, approve or reject (audited)."""


def _synonyms_db(options, by: str | None = None):
    from . import policy
    from .db import open_db

    db = open_db(_settings(**options)["database_url"])
    if by is not None:
        policy.manager_named(db, by)
    return db


@synonyms.command("list")
@setting_options("data", "database_url")
@click.option("--state", type=click.Choice(["proposed", "approved", "rejected"]), help="Only pairs in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def synonyms_list(state, as_json, **options):
    """List learned pairs (customer words → article words), proposals with the most sessions first."""
    from analytics.synonyms import list_synonyms

    pairs = list_synonyms(_synonyms_db(options), state)
    if as_json:
        click.echo(json.dumps(pairs, ensure_ascii=False, indent=2))
        return
    if not pairs:
        click.echo("no learned synonyms yet: run `kb analyze` on logged traffic first")
    for p in pairs:
        example = " | ".join(f"{a} → {b}" for a, b in p["examples"][:2])
        decided = f"  ({p['decided_by']} {p['decided_at'][:16]})" if p["decided_by"] else ""
        click.echo(f"#{p['id']:<4} {p['state']:<9} {p['customer']} → {p['article']}  ×{p['sessions']}  e.g. {example}{decided}")


def _synonym_decision(decision: str, synonym_id: int, by: str, note: str, options: dict) -> None:
    from analytics.synonyms import decide

    row = decide(_synonyms_db(options, by), synonym_id, decision, by, None, note or "")
    click.echo(f"#{row['id']} {row['customer']} → {row['article']}: {row['state']} by {row['decided_by']}"
               + ("; searches use it within seconds" if row["state"] == "approved" else ""))


@synonyms.command("approve")
@setting_options("data", "database_url")
@click.argument("synonym_id", type=int)
@click.option("--by", required=True, help="The manager account deciding (recorded in the audit trail).")
@click.option("--note", default="", help="Recorded with the decision.")
@friendly_errors
def synonyms_approve(synonym_id, by, note, **options):
    """Approve a pair: searches with the customer words also look for the article words."""
    _synonym_decision("approve", synonym_id, by, note, options)


@synonyms.command("reject")
@setting_options("data", "database_url")
@click.argument("synonym_id", type=int)
@click.option("--by", required=True, help="The manager account deciding (recorded in the audit trail).")
@click.option("--note", default="", help="Recorded with the decision.")
@friendly_errors
def synonyms_reject(synonym_id, by, note, **options):
    """Reject a pair (or withdraw an approval): it is never proposed again."""
    _synonym_decision("reject", synonym_id, by, note, options)


@cli.group()
def edit():
    """Article history, restore and "reviewed" from the command line (the same library as the web editor)."""


def _edit_context(options, by=None):
    from . import policy
    from .db import open_db

    settings = _settings(**options)
    db = open_db(settings["database_url"])
    if by is not None:
        policy.editor_named(db, by)
    return settings, db


def _after_edit(settings, result, site: bool) -> None:
    from contrib import editing
    from indexer.site import build_site, site_dir

    if result.get("unchanged"):
        click.echo("unchanged: the article already has that text")
        return
    editing.reindex(settings["docs"], settings["data"])
    click.echo(f"revision #{result['revision']}: {result['path']} (hash {result['hash']}), index updated")
    if (result.get("git") or {}).get("commit"):
        click.echo(f"git commit {result['git']['commit'][:12]}")
    elif (result.get("git") or {}).get("error"):
        click.echo(result["git"]["error"], err=True)
    if site and site_dir(settings["data"]) is not None:
        build_site(settings["docs"], settings["data"], settings["mkdocs_config"] or None)
        click.echo("site rebuilt")


@edit.command("history")
@setting_options("docs", "data", "database_url")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def edit_history(slug, as_json, **options):
    """List an article's revisions, newest first."""
    from contrib import editing

    _, db = _edit_context(options)
    revisions = editing.history(db, slug)
    if as_json:
        click.echo(json.dumps(revisions, ensure_ascii=False, indent=2))
        return
    if not revisions:
        click.echo(f"no revisions of {slug} yet (it has not been edited in kb)")
    for r in revisions:
        extra = f" (from #{r['restored_from']})" if r["restored_from"] else ""
        click.echo(f"#{r['id']:<5} {r['ts']}  {r['actor']:<12} {r['action']:<9}{extra} {r['message']}")


@edit.command("restore")
@setting_options("docs", "data", "database_url", "mkdocs_config")
@click.argument("slug")
@click.argument("revision", type=int)
@click.option("--by", required=True, help="The manager or editor account doing this (recorded in the history).")
@click.option("--recreate", is_flag=True, help="Re-create the article if its file was deleted.")
@click.option("--no-site", is_flag=True, help="Do not rebuild the site (the index is always updated).")
@friendly_errors
def edit_restore(slug, revision, by, recreate, no_site, **options):
    """Make an old revision the article's text again (recorded as a new revision)."""
    from contrib import editing

    settings, db = _edit_context(options, by)
    path = editing.source_path(settings["docs"], slug)
    base = editing.read_article(settings["docs"], slug)["hash"] if path else None
    result = editing.restore(settings["docs"], db, settings["data"], slug, revision, base, by, recreate=recreate)
    _after_edit(settings, result, not no_site)


@edit.command("reviewed")
@setting_options("docs", "data", "database_url", "mkdocs_config")
@click.argument("slug")
@click.option("--by", required=True, help="The manager or editor account doing this (recorded in the history).")
@click.option("--no-site", is_flag=True, help="Do not rebuild the site (the index is always updated).")
@friendly_errors
def edit_reviewed(slug, by, no_site, **options):
    """Set the article's reviewed: date to today, changing nothing else."""
    from contrib import editing

    settings, db = _edit_context(options, by)
    _after_edit(settings, editing.mark_reviewed(settings["docs"], db, settings["data"], slug, by), not no_site)


def main():  # pragma: no cover - console script entry point
    cli(prog_name="kb")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
