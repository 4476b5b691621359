"""The figures a head of support reports from: a date range's searches, self-service rate and top lists.

Ranges are whole days in the company's time zone (``time_zone``). Headline figures and charts use
complete days only: a range never reaches past yesterday, and today's partial day is computed on its
own (``today()``), so a chart's last point is never a half-empty day reading "有帮助比例 · 0%".

**Self-service rate** = share of search sessions that ended well and did not reach a person:

- ended well: a *kept click* (a result clicked, with no new search from the session within
  ``reformulation_window`` seconds — a bounce — and no 👎 vote on that article from the session
  within ``vote_window`` seconds of the click), or a 👍 vote from the session, or an accepted answer
  (a 👍 on the answer box's answer, ``answer_votes``);
- did not reach a person: no question to the support team (``questions``) and no visit through an
  agent's ticket link (``link_visits``) from the same session between its first search and
  ``escalation_window`` seconds after its last one.

A session belongs to the day (local) of its first search, and to the range that contains that day.
This module reads the event tables only through their owners' functions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from indexer.clock import iso
from indexer.errors import InvalidInput
from indexer.i18n import N_

from . import answers, links, questions
from .events import events_between
from .failing import FailingRules, iter_failed_searches

MAX_DAYS = 366
PRESETS = (7, 30, 90)
TOP = 10
TABLES = ("summary", "daily", "top-searches", "failing-searches", "top-articles", "modules", "sources")
SOURCES = ("site", "widget", "api")  # where a search was typed: the help site, the in-product widget, other programs


@dataclass(frozen=True)
class DateRange:
    """Whole local days first..last (inclusive) in zone."""

    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[str, str]:
        """(start, end) as stored UTC timestamps: local midnight of first, local midnight after last."""
        return _utc(self.first, self.zone), _utc(self.last + dt.timedelta(days=1), self.zone)

    def previous(self) -> DateRange:
        """The range of the same length just before this one (for trends)."""
        return DateRange(self.first - dt.timedelta(days=self.days), self.first - dt.timedelta(days=1), self.zone)


def _utc(day: dt.date, zone: ZoneInfo) -> str:
    return iso(dt.datetime.combine(day, dt.time(), tzinfo=zone))


def _parse_day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(N_("%(parameter)s 必须是 YYYY-MM-DD 格式的日期，现在是 %(value)r"), parameter=name,
                           value=value) from None


def resolve_range(zone: ZoneInfo, start: str | None = None, end: str | None = None, days: str | int | None = None,
                  now: dt.datetime | None = None) -> DateRange:
    """The range asked for: from/to (dates), else the last `days` complete days (default 7); InvalidInput if unusable.

    `to` is capped at yesterday: today is a partial day, reported separately."""
    now = now or dt.datetime.now(dt.timezone.utc)
    yesterday = now.astimezone(zone).date() - dt.timedelta(days=1)
    if start or end:
        if not start:
            raise InvalidInput(N_("给了结束日期 to 就必须同时给开始日期 from（YYYY-MM-DD）"))
        first = _parse_day(start, "from")
        last = min(_parse_day(end, "to"), yesterday) if end else yesterday
        if first > yesterday:
            raise InvalidInput(N_("开始日期 from 必须是完整的一天，最晚是昨天（%(yesterday)s）；今天的数字单独显示"),
                               yesterday=str(yesterday))
        if first > last:
            raise InvalidInput(N_("开始日期 from（%(first)s）不能晚于结束日期 to（%(last)s）"), first=str(first), last=str(last))
    else:
        try:
            n = int(days) if days not in (None, "") else PRESETS[0]
        except (TypeError, ValueError):
            raise InvalidInput(N_("天数 days 必须是整数，现在是 %(value)r"), value=days) from None
        if not 1 <= n <= MAX_DAYS:
            raise InvalidInput(N_("天数 days 必须在 1 到 %(max)s 之间"), max=MAX_DAYS)
        first, last = yesterday - dt.timedelta(days=n - 1), yesterday
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(N_("时间范围最多 %(max)s 天"), max=MAX_DAYS)
    if first.year < 2000:
        raise InvalidInput(N_("开始日期 from 必须在 2000 年或以后"))
    return DateRange(first, last, zone)


def _seconds(a: str, b: str) -> float:
    return (_moment(b) - _moment(a)).total_seconds()


def _moment(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class _Events:
    """One range's events, read once, with the windows of the rules."""

    def __init__(self, db, start: str, end: str, rules: FailingRules, escalation_window: int):
        after = iso(_moment(end) + dt.timedelta(seconds=max(rules.vote_window, rules.reformulation_window,
                                                              escalation_window)))
        ev = events_between(db, start, end, after)
        self.searches, self.clicks = ev["searches"], ev["clicks"]
        self.session_votes = ev["votes"]  # up to the windows after the range: they judge its sessions
        self.votes = [v for v in ev["votes"] if v["ts"] < end]  # cast in the range: its helpful rate
        self.session_answer_votes = answers.votes_between(db, start, after)
        ids = {s["query_id"] for s in self.searches}
        self.answer_votes = [v for v in self.session_answer_votes if v["query_id"] in ids]  # on the range's answers
        self.questions = questions.question_times(db, start, after)
        self.visits = links.visit_times(db, start, after)
        self.rules, self.escalation_window = rules, escalation_window


def self_service(ev: _Events) -> dict[str, bool]:
    """{session: served by itself?} for every session whose first search is in the events' range."""
    rules = ev.rules
    searches_by: dict[str, list[str]] = defaultdict(list)
    for s in ev.searches:
        if s["session"]:
            searches_by[s["session"]].append(s["ts"])
    clicks_by, votes_by = defaultdict(list), defaultdict(list)
    for c in ev.clicks:
        clicks_by[c["session"]].append(c)
    for v in ev.session_votes:
        votes_by[v["session"]].append(v)
    accepted_at = defaultdict(list)
    for v in ev.session_answer_votes:
        if v["helpful"]:
            accepted_at[v["session"]].append(v["ts"])
    out = {}
    for session, times in searches_by.items():
        first, last = times[0], times[-1]
        end = iso(_moment(last) + dt.timedelta(seconds=ev.escalation_window))
        escalated = any(first <= t <= end for t in ev.questions.get(session, []) + ev.visits.get(session, []))
        session_votes = [v for v in votes_by.get(session, []) if v["ts"] >= first]
        helpful = any(v["helpful"] for v in session_votes) or any(t >= first for t in accepted_at.get(session, []))
        kept = False
        for c in clicks_by.get(session, []):
            bounced = any(c["ts"] < t and _seconds(c["ts"], t) <= rules.reformulation_window for t in times)
            thumbs_down = any(v["slug"] == c["slug"] and not v["helpful"] and v["ts"] >= c["ts"]
                              and _seconds(c["ts"], v["ts"]) <= rules.vote_window for v in session_votes)
            if not bounced and not thumbs_down:
                kept = True
                break
        out[session] = (kept or helpful) and not escalated
    return out


def _day_of(ts: str, zone: ZoneInfo, memo: dict | None = None) -> str:
    """The local day of a stored time; memo keyed by the minute (every zone offset is whole minutes)."""
    if memo is None:
        return _moment(ts).astimezone(zone).date().isoformat()
    key = ts[:16]
    day = memo.get(key)
    if day is None:
        day = memo[key] = _moment(ts).astimezone(zone).date().isoformat()
    return day


def _summary(ev: _Events, served: dict[str, bool]) -> dict:
    n = len(ev.searches)
    zero = sum(1 for s in ev.searches if not s["results"])
    clicked = len({c["query_id"] for c in ev.clicks})
    votes = ev.votes
    helpful = sum(v["helpful"] for v in votes)
    answered = sum(1 for s in ev.searches if s.get("answer"))
    answer_helpful = sum(v["helpful"] for v in ev.answer_votes)
    return {"searches": n, "sessions": len(served), "zero_result_rate": _rate(zero, n),
            "click_through_rate": _rate(clicked, n), "helpful_votes": helpful, "votes": len(votes),
            "helpful_rate": _rate(helpful, len(votes)), "self_served_sessions": sum(served.values()),
            "self_service_rate": _rate(sum(served.values()), len(served)),
            "answered_searches": answered, "answer_coverage": _rate(answered, n), "answer_votes": len(ev.answer_votes),
            "answer_helpful_rate": _rate(answer_helpful, len(ev.answer_votes))}


def _trend(now: dict, before: dict) -> dict:
    """Change of each rate (percentage points as a fraction) and of the counts, vs the previous range."""
    out = {}
    for key in ("searches", "sessions", "answered_searches", "answer_votes"):
        out[key] = now[key] - before[key]
    for key in ("zero_result_rate", "click_through_rate", "helpful_rate", "self_service_rate", "answer_coverage",
                "answer_helpful_rate"):
        a, b = now[key], before[key]
        out[key] = None if a is None or b is None else round(a - b, 4)
    return out


def report(db, rng: DateRange, rules: FailingRules = FailingRules(), escalation_window: int = 86400,
           module_of=None) -> dict:
    """Every figure and table of the dashboard for rng (and its trend vs the range before).

    module_of(slug) names an article's module (default: the slug's first folder)."""
    start, end = rng.bounds()
    ev = _Events(db, start, end, rules, escalation_window)
    served = self_service(ev)
    summary = _summary(ev, served)
    p_start, p_end = rng.previous().bounds()
    pev = _Events(db, p_start, p_end, rules, escalation_window)
    previous = _summary(pev, self_service(pev))
    return {
        "from": rng.first.isoformat(), "to": rng.last.isoformat(), "days": rng.days, "time_zone": rng.zone.key,
        "summary": summary, "previous": previous | {"from": rng.previous().first.isoformat(),
                                                    "to": rng.previous().last.isoformat()},
        "trend": _trend(summary, previous),
        "daily": _daily(ev, served, rng),
        "top_searches": _top_searches(ev),
        "failing_searches": _failing(db, start, end, rules),
        "top_articles": _top_articles(ev),
        "modules": _modules(ev, served, module_of or _folder),
        "sources": _sources(ev, served),
    }


def today(db, zone: ZoneInfo, rules: FailingRules = FailingRules(), escalation_window: int = 86400,
          now: dt.datetime | None = None) -> dict:
    """Today's partial day so far (local midnight to now), with the local time it is "as of"."""
    now = now or dt.datetime.now(dt.timezone.utc)
    local = now.astimezone(zone)
    start, end = _utc(local.date(), zone), iso(now)
    ev = _Events(db, start, end, rules, escalation_window)
    served = self_service(ev)
    return _summary(ev, served) | {"day": local.date().isoformat(), "as_of": local.strftime("%H:%M")}


def _daily(ev: _Events, served: dict[str, bool], rng: DateRange) -> list[dict]:
    zone, memo = rng.zone, {}
    days = {(rng.first + dt.timedelta(days=i)).isoformat(): {"searches": 0, "zero": 0, "clicked": set(), "votes": 0,
                                                             "helpful": 0, "sessions": 0, "served": 0}
            for i in range(rng.days)}
    session_day = {}
    for s in ev.searches:
        d = days[_day_of(s["ts"], zone, memo)]
        d["searches"] += 1
        d["zero"] += not s["results"]
        session_day.setdefault(s["session"], _day_of(s["ts"], zone, memo))
    search_day = {s["query_id"]: _day_of(s["ts"], zone, memo) for s in ev.searches}
    for c in ev.clicks:
        days[search_day[c["query_id"]]]["clicked"].add(c["query_id"])
    for v in ev.votes:
        d = days[_day_of(v["ts"], zone, memo)]
        d["votes"] += 1
        d["helpful"] += v["helpful"]
    for session, ok in served.items():
        d = days[session_day[session]]
        d["sessions"] += 1
        d["served"] += ok
    return [{"day": day, "searches": d["searches"], "zero_result_rate": _rate(d["zero"], d["searches"]),
             "click_through_rate": _rate(len(d["clicked"]), d["searches"]),
             "helpful_rate": _rate(d["helpful"], d["votes"]), "sessions": d["sessions"],
             "self_service_rate": _rate(d["served"], d["sessions"])} for day, d in days.items()]


def _key(s: dict) -> str:
    return s["normalized"] or s["query"]


def _top_searches(ev: _Events) -> list[dict]:
    count, zero, clicked, shown = Counter(), Counter(), Counter(), {}
    clicked_ids = {c["query_id"] for c in ev.clicks}
    for s in ev.searches:
        k = _key(s)
        shown.setdefault(k, s["query"])
        count[k] += 1
        zero[k] += not s["results"]
        clicked[k] += s["query_id"] in clicked_ids
    return [{"query": shown[k], "searches": n, "zero_results": zero[k],
             "click_through_rate": _rate(clicked[k], n)} for k, n in count.most_common(TOP)]


def _failing(db, start: str, end: str, rules: FailingRules) -> list[dict]:
    count, reasons, shown = Counter(), defaultdict(Counter), {}
    for f in iter_failed_searches(db, start, end, rules):
        k = f.normalized or f.query
        shown.setdefault(k, f.query)
        count[k] += 1
        reasons[k][f.reason] += 1
    return [{"query": shown[k], "failed": n, "no_results": reasons[k]["no_results"],
             "reformulated": reasons[k]["reformulated"], "no_click": reasons[k]["no_click"],
             "not_helpful": reasons[k]["not_helpful"]} for k, n in count.most_common(TOP)]


def _top_articles(ev: _Events) -> list[dict]:
    clicks = Counter(c["slug"] for c in ev.clicks)
    up, down = Counter(), Counter()
    for v in ev.votes:
        (up if v["helpful"] else down)[v["slug"]] += 1
    slugs = sorted(set(clicks) | set(up) | set(down), key=lambda s: (-clicks[s], -(up[s] + down[s]), s))[:TOP]
    return [{"slug": s, "clicks": clicks[s], "helpful": up[s], "not_helpful": down[s],
             "helpful_rate": _rate(up[s], up[s] + down[s])} for s in slugs]


def _folder(slug: str) -> str:
    return slug.split("/")[0] if "/" in slug else ""


def _module_of(search: dict, module_of) -> str:
    if search["module"]:
        return search["module"]
    try:
        top = (json.loads(search["top_slugs"] or "[]") or [""])[0]
    except ValueError:
        top = ""
    return (module_of(top) or _folder(top)) if top else ""  # an article without a module: its folder


def _modules(ev: _Events, served: dict[str, bool], module_of) -> list[dict]:
    """Per module (the search's module filter, else its top result's module; "" when nothing was found).

    A session counts for the module of its first search."""
    stats: dict[str, dict] = defaultdict(lambda: {"searches": 0, "zero": 0, "clicked": 0, "sessions": 0, "served": 0})
    clicked_ids = {c["query_id"] for c in ev.clicks}
    seen = set()
    for s in ev.searches:
        m = stats[_module_of(s, module_of)]
        m["searches"] += 1
        m["zero"] += not s["results"]
        m["clicked"] += s["query_id"] in clicked_ids
        if s["session"] in served and s["session"] not in seen:
            seen.add(s["session"])
            m["sessions"] += 1
            m["served"] += served[s["session"]]
    return [{"module": name, "searches": m["searches"], "zero_result_rate": _rate(m["zero"], m["searches"]),
             "click_through_rate": _rate(m["clicked"], m["searches"]), "sessions": m["sessions"],
             "self_service_rate": _rate(m["served"], m["sessions"])}
            for name, m in sorted(stats.items(), key=lambda kv: (-kv[1]["searches"], kv[0]))]


def _sources(ev: _Events, served: dict[str, bool]) -> list[dict]:
    """Per source (site, widget, api; others as stored): searches, votes and sessions with their self-service rate.

    A session counts for the source of its first search; a vote for the source it was cast from."""
    stats: dict[str, dict] = {name: {"searches": 0, "sessions": 0, "served": 0, "votes": 0, "helpful": 0}
                              for name in SOURCES}
    seen = set()
    for s in ev.searches:
        m = stats.setdefault(s.get("source") or "api", {"searches": 0, "sessions": 0, "served": 0, "votes": 0,
                                                         "helpful": 0})
        m["searches"] += 1
        if s["session"] in served and s["session"] not in seen:
            seen.add(s["session"])
            m["sessions"] += 1
            m["served"] += served[s["session"]]
    for v in ev.votes:
        if v.get("source"):  # votes from before sources were recorded are left out
            m = stats.setdefault(v["source"], {"searches": 0, "sessions": 0, "served": 0, "votes": 0, "helpful": 0})
            m["votes"] += 1
            m["helpful"] += v["helpful"]
    return [{"source": name, "searches": m["searches"], "sessions": m["sessions"], "self_served_sessions": m["served"],
             "self_service_rate": _rate(m["served"], m["sessions"]), "votes": m["votes"],
             "helpful_rate": _rate(m["helpful"], m["votes"])} for name, m in stats.items()]


def table(data: dict, name: str) -> list[dict]:
    """One of TABLES of a report() as rows (what the CSV export and the API's per-table routes return)."""
    if name == "summary":
        s, p, t = data["summary"], data["previous"], data["trend"]
        return [{"metric": k, "value": s[k], "previous": p[k], "change": t.get(k)} for k in s]
    key = {"daily": "daily", "top-searches": "top_searches", "failing-searches": "failing_searches",
           "top-articles": "top_articles", "modules": "modules", "sources": "sources"}.get(name)
    if key is None:
        raise InvalidInput(N_("table 必须是 %(choices)s 之一"), choices=", ".join(TABLES))
    return data[key]


def to_csv(rows: list[dict]) -> str:
    """rows as CSV text (header from the first row), with the numbers exactly as report() gives them."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["empty"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _cell(value):
    # A customer's search typed as "=HYPERLINK(...)" must stay text when a manager opens the CSV in a
    # spreadsheet (CSV injection): text starting with a formula character gets a leading apostrophe.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
