"""Verified closure: did the fix for a gap or flag make its searches stop failing?

Sole owner of the ``flag_fixes`` table. ``link_fix`` records, when a manager (or the editor, when an
edit starts from a flag) says "this article fixes that flag", the failure rate of the flag's queries
over the days before the fix, and resolves the flag. ``verify_fixes`` runs with every analysis: once
enough new searches of those queries arrived (``after_searches``) or enough days passed
(``after_days``), the fix is either verified ("已验证关闭: 失败率 79% → 12%") or the flag reopens itself
as "修复未生效" with the searches that still fail as new evidence.

A gap flag is measured on its readers' queries (near-identical forms count as one); an article flag
(voted down, bounced, overdue) on the searches that put its article first.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from indexer.clock import iso
from indexer.errors import Conflict, InvalidInput
from indexer.i18n import N_, gettext
from indexer.store import transaction

from . import flags as flag_queue
from .failing import FailingRules, iter_failed_searches, searches_by_query, searches_by_top_slug
from .gaps import near_identical_key

STATES = ("measuring", "verified", "ineffective")
VERIFIER = "kb-verify"
BEFORE_DAYS = 14  # the window whose failure rate is the "before" figure
MAX_QUERIES = 200  # query forms kept per fix
EXAMPLES = 8  # failing queries kept as new evidence when a fix did not work


def create_fix_table(db) -> None:
    db["flag_fixes"].create({
        "id": int, "flag_id": int, "flag_key": str, "slug": str, "actor": str, "linked_at": str,
        "queries": str, "before_searches": int, "before_failed": int, "before_rate": float,
        "state": str, "after_searches": int, "after_failed": int, "after_rate": float,
        "after_examples": str, "verified_at": str, "version": int,
    }, pk="id")
    db["flag_fixes"].create_index(["flag_id"])
    db["flag_fixes"].create_index(["state"])


MIGRATIONS = [create_fix_table]


@dataclass(frozen=True)
class ClosureRules:
    """When a fix is judged: after this many new searches of its queries, or this many days."""

    after_searches: int = 30
    after_days: int = 14
    # A fix works when the failure rate at least halves and ends below half of the searches.
    max_ratio: float = 0.5
    max_rate: float = 0.5


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _measure(db, keys: list[str], slug: str, start: str, end: str, rules: FailingRules) -> tuple[int, int, list[str]]:
    """(searches, failed searches, failing query examples) of a fix's queries in [start, end)."""
    if keys:
        wanted = set(keys)
        totals = searches_by_query(db, start, end, near_identical_key)
        searched = sum(n for k, n in totals.items() if k in wanted)
        failed = [f for f in iter_failed_searches(db, start, end, rules)
                  if (near_identical_key(f.query) or f.query) in wanted]
    else:
        searched = searches_by_top_slug(db, start, end).get(slug, 0)
        failed = [f for f in iter_failed_searches(db, start, end, rules) if f.top_slug == slug and f.reason != "no_results"]
    examples = list(dict.fromkeys(f.query for f in failed))[:EXAMPLES]
    return searched, len(failed), examples


def _keys_of(flag: dict) -> list[str]:
    evidence = flag.get("evidence") or {}
    texts = evidence.get("queries") or evidence.get("examples") or []
    return list(dict.fromkeys(near_identical_key(t) or t for t in texts if isinstance(t, str)))[:MAX_QUERIES]


def _decode(row: dict) -> dict:
    row = dict(row)
    row["queries"] = json.loads(row["queries"] or "[]")
    row["after_examples"] = json.loads(row["after_examples"] or "[]")
    row["status"] = status_text(row)
    return row


def status_text(fix: dict) -> str:
    """What the flag page and the dashboard say about a fix, e.g. 已验证关闭: 失败率 79% → 12%."""
    before = f"{fix['before_rate']:.0%}" if fix["before_searches"] else "—"
    if fix["state"] == "verified":
        return gettext("已验证关闭: 失败率 %(before)s → %(after)s（修复后 %(n)s 次搜索）", before=before,
                       after=f"{fix['after_rate']:.0%}", n=fix["after_searches"])
    if fix["state"] == "ineffective":
        return gettext("修复未生效: 失败率 %(before)s → %(after)s（修复后 %(n)s 次搜索）", before=before,
                       after=f"{fix['after_rate']:.0%}", n=fix["after_searches"])
    return gettext("验证中: 修复前失败率 %(before)s，修复后已有 %(n)s 次搜索", before=before, n=fix["after_searches"] or 0)


def link_fix(db, flag_id: int, slug: str, actor: str, now: dt.datetime | None = None,
             rules: FailingRules = FailingRules(), before_days: int = BEFORE_DAYS) -> dict:
    """Record that article `slug` fixes flag `flag_id` (measuring the failure rate before) and resolve the flag.

    Called by a manager from the flag page and by the editor when an edit started from a flag."""
    if not isinstance(slug, str) or not slug.strip() or len(slug) > 300:
        raise InvalidInput(N_("slug 必须是修复这个问题的文章"))
    if not isinstance(actor, str) or not actor:
        raise InvalidInput(N_("actor 必须写明是谁关联了修复"))
    now = now or dt.datetime.now(dt.timezone.utc)
    flag = flag_queue.get_flag(db, flag_id)  # NotFound for an unknown flag
    keys = _keys_of(flag)
    slug = slug.strip().strip("/")
    searched, failed, _ = _measure(db, keys, slug, iso(now - dt.timedelta(days=before_days)), iso(now), rules)
    with transaction(db):
        open_fix = list(db["flag_fixes"].rows_where("flag_id = ? AND state = 'measuring'", [flag_id]))
        if open_fix:
            raise Conflict(N_("问题 #%(flag_id)s 已有一个正在验证的修复（文章 %(slug)s，由 %(actor)s 于 %(linked_at)s "
                              "关联），请等它验证完成"), flag_id=flag_id, slug=open_fix[0]["slug"],
                           actor=open_fix[0]["actor"], linked_at=open_fix[0]["linked_at"])
        fix_id = db["flag_fixes"].insert({
            "flag_id": flag_id, "flag_key": flag["key"], "slug": slug, "actor": actor, "linked_at": iso(now),
            "queries": json.dumps(keys, ensure_ascii=False), "before_searches": searched, "before_failed": failed,
            "before_rate": round(failed / searched, 3) if searched else 0.0, "state": "measuring",
            "after_searches": 0, "after_failed": 0, "after_rate": 0.0, "after_examples": "[]",
            "verified_at": "", "version": 1}).last_pk
        if flag["state"] in ("open", "acknowledged"):
            flag_queue.transition(db, flag_id, "resolved", actor, flag["version"], gettext("修复：%(slug)s", slug=slug))
    return get_fix(db, fix_id)


def get_fix(db, fix_id: int) -> dict:
    """One fix with its status text."""
    return _decode(db["flag_fixes"].get(fix_id))


def fixes_for_flag(db, flag_id: int) -> list[dict]:
    """Every fix linked to a flag, newest first."""
    return [_decode(r) for r in db["flag_fixes"].rows_where("flag_id = ?", [flag_id], order_by="id DESC")]


def list_fixes(db, limit: int = 50) -> list[dict]:
    """The latest fixes of any flag, newest first."""
    return [_decode(r) for r in db["flag_fixes"].rows_where(order_by="id DESC", limit=limit)]


def verified_by_day(db, start: str, end: str) -> list[tuple[str, int]]:
    """(day, fixes verified that day) between two dates (YYYY-MM-DD), every day listed."""
    counts = dict(db.execute("SELECT substr(verified_at, 1, 10), COUNT(*) FROM flag_fixes WHERE state = 'verified' "
                             "AND verified_at >= ? AND verified_at < ? GROUP BY 1", [start, end]).fetchall())
    day, last, out = dt.date.fromisoformat(start), dt.date.fromisoformat(end), []
    while day < last:
        out.append((day.isoformat(), int(counts.get(day.isoformat(), 0))))
        day += dt.timedelta(days=1)
    return out


def verify_fixes(db, now: dt.datetime | None = None, closure: ClosureRules = ClosureRules(),
                 rules: FailingRules = FailingRules()) -> dict:
    """Judge every fix being measured that has enough new searches or days; returns counts.

    A working fix is marked verified; one that did not work reopens its flag as 修复未生效 with the
    searches that still fail."""
    now = now or dt.datetime.now(dt.timezone.utc)
    summary = {"measuring": 0, "verified": 0, "ineffective": 0}
    for row in list(db["flag_fixes"].rows_where("state = 'measuring'", order_by="id")):
        fix = _decode(row)
        searched, failed, examples = _measure(db, fix["queries"], fix["slug"], fix["linked_at"], iso(now), rules)
        rate = round(failed / searched, 3) if searched else 0.0
        values = {"after_searches": searched, "after_failed": failed, "after_rate": rate,
                  "after_examples": json.dumps(examples, ensure_ascii=False)}
        due = searched >= closure.after_searches or now - _parse(fix["linked_at"]) >= dt.timedelta(days=closure.after_days)
        state = "measuring"
        if due:
            worked = rate <= closure.max_rate and (not fix["before_searches"] or rate <= fix["before_rate"] * closure.max_ratio
                                                   or rate == 0)
            state = "verified" if worked else "ineffective"
            values.update(state=state, verified_at=iso(now))
        with transaction(db):
            sets = ", ".join(f"{k} = ?" for k in values)
            done = db.execute(f"UPDATE flag_fixes SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
                              [*values.values(), fix["id"], fix["version"]]).rowcount == 1
            if done and state == "ineffective":
                flag = flag_queue.get_flag(db, fix["flag_id"])
                still = gettext("；仍然失败的搜索：%(examples)s", examples=gettext("、").join(examples)) if examples else ""
                note = status_text({**fix, **values}) + still
                if flag["state"] in ("resolved", "dismissed"):
                    flag_queue.transition(db, flag["id"], "open", VERIFIER, flag["version"], note[:flag_queue.NOTE_LIMIT])
        summary[state] += 1
    return summary

