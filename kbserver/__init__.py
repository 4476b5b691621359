"""The kb service: the help site, its search API and the event log, behind one app factory."""

from __future__ import annotations

import atexit
import secrets

from flask import Flask, g
from werkzeug.routing import IntegerConverter

from analytics.events import EventLog, spool_folder
from indexer.dense import VectorFiller
from indexer.query import open_index
from indexer.store import make_private_dir

from . import auth, db, errors, i18n, labels, timefmt
from .inputs import KBRequest
from .settings import load_settings

# The site and the server pages run only their own scripts: files from this origin, and inline scripts
# the page vouches for (a per-answer nonce on server-rendered pages, the hashes of the built site's own
# inline scripts on static pages). Material sets style attributes, hence 'unsafe-inline' for styles only;
# its CSS draws icons from data: URLs. frame-ancestors (and X-Frame-Options for old browsers) keep other
# sites from framing the one-click dashboard and review forms.
CSP = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'self'")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "same-origin"}


def csp_nonce() -> str:
    """This answer's CSP nonce, for the inline <script nonce="..."> of a server-rendered page."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _security_headers(response):
    scripts = "".join(f" {h}" for h in g.get("csp_script_hashes", ()))
    if "csp_nonce" in g:
        scripts += f" 'nonce-{g.csp_nonce}'"
    response.headers["Content-Security-Policy"] = CSP.format(scripts=scripts)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class BoundedInt(IntegerConverter):
    """Werkzeug's int converter, limited to what SQLite can store."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app; config takes the setting names of kbserver.settings (docs, data, ...)."""
    settings = load_settings(config)
    app = Flask(__name__)
    app.request_class = KBRequest  # JSON bodies: deep nesting and lone surrogates are a 400 in every view
    # <int:…> ids go to SQLite, which stores 64-bit integers: a longer number is simply not found (404).
    app.url_map.converters["int"] = BoundedInt
    app.config["KB"] = settings
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024  # a 1 MB ticket body fits; larger requests get 413
    make_private_dir(settings["data"])  # the index, the database and secret.key: not for other local users

    app.extensions["kb_index"] = open_index(settings["data"], cache_size=settings["cache_size"],
                                            semantic=settings["semantic_model"])
    # Started by `kb serve` (not here: tests build many apps); fills passage vectors as versions change.
    app.extensions["kb_vectors"] = VectorFiller(settings["data"], app.extensions["kb_index"].semantic)
    errors.init_app(app)
    db.init_app(app)  # migrations first: the event log writes into the tables they create
    events = EventLog(settings["database_url"], spool_dir=spool_folder(settings["data"]),
                      durability=settings["event_durability"])
    app.extensions["kb_events"] = events
    atexit.register(events.close)  # a normal interpreter exit flushes too, not only `kb serve`

    from analytics.clicks import ClickBoosts

    from .learning import LearnedSynonyms

    # Learned ranking signals, held by the app (not module globals): kept clicks, approved synonym pairs.
    app.extensions["kb_clicks"] = ClickBoosts(db.get_db, half_life_days=settings["click_half_life"],
                                              min_clients=settings["click_min_clients"],
                                              vote_window=settings["vote_window"])
    app.extensions["kb_learned"] = LearnedSynonyms(app.extensions["kb_index"])
    auth.init_app(app)
    timefmt.init_app(app, settings["time_zone"])
    labels.init_app(app)
    i18n.init_app(app)  # before the blueprints: its kb-strings.js route precedes the site's catch-all
    app.config["SESSION_COOKIE_SECURE"] = settings["secure_cookies"]  # only over HTTPS; kb also runs on localhost
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    from contrib.publish import Publisher
    from indexer.site import update_site

    from .jobs import SiteUpdater

    # Publishing (and editing) changes a few pages: they are rendered in the background, and the answer
    # carries a ticket that GET /api/site/status follows from queued to building to live (or failed).
    updater = SiteUpdater(lambda paths: update_site(settings["docs"], settings["data"], paths,
                                                    settings["mkdocs_config"] or None))
    app.extensions["kb_site_updater"] = updater
    app.extensions["kb_refresh_site"] = updater.refresh
    app.extensions["kb_publisher"] = Publisher(settings["docs"], settings["data"], rebuild_site=updater.refresh)

    from indexer.changes import node_id

    from .nodes import make_follower

    # Several nodes on one database: this data folder's id, and the thread that applies other nodes' changes.
    app.extensions["kb_node"] = node_id(settings["data"])
    app.extensions["kb_follower"] = make_follower(app)

    from . import agent, api, ask, contrib_views, dashboard, editing_views, evidence_views, learning, notify, site, widget

    # Delivers customers' questions to the helpdesk; started by `kb serve` or by the first question.
    app.extensions["kb_forwarder"] = ask.QuestionForwarder(settings["database_url"], settings["ask_webhook_url"])

    app.register_blueprint(api.bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(ask.bp)
    notify.init_app(app)  # the outbox's sender: started by `kb serve`, woken after requests that change things
    app.register_blueprint(notify.bp)
    app.register_blueprint(contrib_views.bp)
    app.register_blueprint(learning.bp)
    app.register_blueprint(editing_views.bp)
    evidence_views.init_app(app)  # evidence as sentences, the searches behind them
    widget.init_app(app)  # /widget.js and /api/widget/: the in-product help widget, CORS for its origins only
    from . import favicon

    app.register_blueprint(favicon.bp)  # /favicon.ico, which browsers ask for whatever a page links
    app.register_blueprint(site.bp)  # last: its catch-all serves the static site
    return app
