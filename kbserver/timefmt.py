"""Times as people in the company read them: its time zone, and "3 小时前" (3 hours ago) for the recent past.

The database keeps UTC (ISO 8601, ``2026-12-01T03:26:22.089Z`` or ``2026-12-01 03:26:22``); pages
show them through the ``when`` template filter, which keeps the exact time in a ``<time>`` element's
``datetime`` and ``title`` for whoever needs it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext, ngettext
from markupsafe import Markup, escape

from indexer.errors import InvalidInput
from indexer.i18n import N_

RELATIVE_FOR = dt.timedelta(days=7)  # older than this, a date reads better than "23 天前"


def time_zone(name: str) -> ZoneInfo:
    """The zone called name, or a readable error naming the setting."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(N_("时区（KB_TIME_ZONE）要写 IANA 时区名，例如 Asia/Shanghai 或 UTC，现在是 %(zone)r"),
                           zone=name) from None


def parse_utc(value) -> dt.datetime | None:
    """A stored UTC time as an aware datetime; None for empty or unreadable values."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def relative(moment: dt.datetime, now: dt.datetime) -> str | None:
    """"刚刚", "5 分钟前", "3 小时前", "2 天前"; None when a date reads better."""
    ago = now - moment
    if ago < dt.timedelta(0) or ago >= RELATIVE_FOR:
        return None
    if ago < dt.timedelta(minutes=1):
        return gettext("刚刚")
    # ngettext: Chinese has one form ("1 小时前", "3 小时前"), English two ("1 hour ago", "3 hours ago").
    if ago < dt.timedelta(hours=1):
        return ngettext("%(num)s 分钟前", "%(num)s 分钟前", int(ago.total_seconds() // 60))
    if ago < dt.timedelta(days=1):
        return ngettext("%(num)s 小时前", "%(num)s 小时前", int(ago.total_seconds() // 3600))
    return ngettext("%(num)s 天前", "%(num)s 天前", ago.days)


def when(value, zone: ZoneInfo, now: dt.datetime | None = None) -> Markup:
    """<time> for a stored UTC value, in zone: relative within a week, else the local date and time."""
    moment = parse_utc(value)
    if moment is None:
        return Markup(escape(value or "—"))
    local = moment.astimezone(zone)
    exact = local.strftime("%Y-%m-%d %H:%M")
    shown = relative(moment, now or dt.datetime.now(dt.timezone.utc)) or exact
    return Markup('<time datetime="{}" title="{} ({})">{}</time>').format(
        moment.isoformat(), exact, zone.key, shown)


def init_app(app, zone_name: str) -> None:
    zone = time_zone(zone_name)
    app.jinja_env.filters["when"] = lambda value: when(value, zone)
