"""The kb service: the help site, its search API and the event log, behind one app factory."""

from __future__ import annotations

import atexit

from flask import Flask
from werkzeug.routing import IntegerConverter

from analytics.events import EventLog
from indexer.dense import VectorFiller
from indexer.query import open_index

from . import auth, db, errors
from .settings import load_settings


class BoundedInt(IntegerConverter):
    """Werkzeug's int converter, limited to what SQLite can store."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app; config takes the setting names of kbserver.settings (docs, data, ...)."""
    settings = load_settings(config)
    app = Flask(__name__)
    # <int:…> ids go to SQLite, which stores 64-bit integers: a longer number is simply not found (404).
    app.url_map.converters["int"] = BoundedInt
    app.config["KB"] = settings
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024  # a 1 MB ticket body fits; larger requests get 413
    settings["data"].mkdir(parents=True, exist_ok=True)

    app.extensions["kb_index"] = open_index(settings["data"], cache_size=settings["cache_size"],
                                            semantic=settings["semantic_model"])
    # Started by `kb serve` (not here: tests build many apps); fills passage vectors as versions change.
    app.extensions["kb_vectors"] = VectorFiller(settings["data"], app.extensions["kb_index"].semantic)
    events = EventLog(settings["database_url"])
    app.extensions["kb_events"] = events
    atexit.register(events.close)  # a normal interpreter exit flushes too, not only `kb serve`

    errors.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    from contrib.publish import Publisher
    from indexer.site import build_site

    def rebuild_site():
        build_site(settings["docs"], settings["data"], settings["mkdocs_config"] or None)

    app.extensions["kb_publisher"] = Publisher(settings["docs"], settings["data"], rebuild_site=rebuild_site)

    from . import agent, api, contrib_views, dashboard, site

    app.register_blueprint(api.bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(contrib_views.bp)
    app.register_blueprint(site.bp)  # last: its catch-all serves the static site
    return app
