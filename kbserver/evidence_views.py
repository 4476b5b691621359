"""A flag's evidence as sentences on the pages, and the searches behind its numbers (managers only)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template, request
from markupsafe import Markup, escape

from analytics import evidence, flag_searches
from analytics import flags as queue
from indexer.errors import InvalidInput
from indexer.i18n import N_

from .auth import require_role
from .db import get_db

bp = Blueprint("evidence", __name__)


def evidence_html(flag: dict) -> Markup:
    """The flag's evidence as a list of sentences; numbers of searches link to those searches."""
    if "kb_flags_with_searches" not in g:  # once per page, however many flags it shows
        g.kb_flags_with_searches = flag_searches.flags_with_searches(get_db())
    items = []
    for sentence in evidence.sentences(flag, link_searches=flag.get("id") in g.kb_flags_with_searches,
                                       translate=_translator()):
        html = "".join(f'<a class="kb-evidence-count" href="{escape(p.href)}">{escape(p.text)}</a>'
                       if isinstance(p, evidence.Link) else str(escape(p)) for p in sentence)
        items.append(f"<li>{html}</li>")
    return Markup(f'<ul class="kb-evidence">{"".join(items)}</ul>') if items else Markup("")  # noqa: S704 - escaped above


def _translator():
    """The page language's gettext once the app has Flask-Babel catalogues; None: the Chinese source."""
    if "babel" not in current_app.extensions:
        return None
    from flask_babel import gettext

    return gettext


def _filters() -> tuple[str | None, str | None, int]:
    outcome, period = request.args.get("outcome") or None, request.args.get("period") or None
    if outcome is not None and outcome not in flag_searches.FILTERS:
        raise InvalidInput(N_("结果必须是 %(choices)s 之一"), choices=", ".join(flag_searches.FILTERS))
    if period is not None and period not in flag_searches.PERIODS:
        raise InvalidInput(N_("时间段必须是 %(choices)s 之一"), choices=", ".join(flag_searches.PERIODS))
    page = request.args.get("page", "1")
    if not page.isdigit() or not 0 < int(page) < 100_000:
        raise InvalidInput(N_("页码必须是从 1 开始的整数"))
    return outcome, period, int(page)


@bp.get("/dashboard/flags/<int:flag_id>/searches")
@require_role("manager")
def flag_searches_page(flag_id: int):
    """The searches behind one of a flag's numbers (?outcome=reformulated&period=current)."""
    outcome, period, page = _filters()
    db = get_db()
    flag = queue.get_flag(db, flag_id)
    total, rows = flag_searches.searches(db, flag_id, outcome, period, page)
    return render_template("flag_searches.html", flag=flag, total=total, rows=rows, outcome=outcome, period=period,
                           page=page, per_page=flag_searches.PAGE, names=evidence.OUTCOME_NAMES,
                           counts=flag_searches.counts(db, flag_id))


@bp.get("/api/flags/<int:flag_id>/searches")
@require_role("manager")
def api_flag_searches(flag_id: int):
    """GET /api/flags/<id>/searches?outcome=&period=&page= → {total, page, searches: [{query_id, ts, query, outcome, period}]}."""
    outcome, period, page = _filters()
    db = get_db()
    queue.get_flag(db, flag_id)  # 404 for an unknown flag
    total, rows = flag_searches.searches(db, flag_id, outcome, period, page)
    return jsonify({"flag_id": flag_id, "outcome": outcome, "period": period, "page": page,
                    "per_page": flag_searches.PAGE, "total": total, "searches": rows})


def _source_language(message: str, **values) -> str:
    return message % values if values else message


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.filters["evidence"] = evidence_html
    # Until the app has message catalogues (Flask-Babel installs its own _ over this one), pages show the source.
    app.jinja_env.globals.setdefault("_", _source_language)
