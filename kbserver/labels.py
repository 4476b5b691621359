"""The ``label`` template filter: a stored state, role or reason named in the page's language.

The names live in indexer/labels.py (one table, by concept, shared with errors and the CLI); a template
says the concept where a value means different things: ``{{ p.state | label("synonym") }}``.
"""

from __future__ import annotations

from flask_babel import gettext

from indexer.labels import name


def label(value, concept: str | None = None):
    """The name of a stored identifier (of concept) in the page's language, or the value itself."""
    msgid = name(value, concept)
    return value if msgid is value else gettext(msgid)


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
