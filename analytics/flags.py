"""The knowledge manager's queue: flags (stale/unhelpful articles) and gaps (failing-search clusters).

Sole owner of the ``flags`` and ``flag_events`` (audit trail) tables. A flag moves
open → acknowledged → resolved or dismissed, recording who and when. ``sync`` is how an analysis
run talks to the queue: it never duplicates an open flag; keeps a flag a person dismissed or resolved
closed unless its score grew markedly (evidence such as old votes lingers after a fix); reopens a flag
the analysis itself resolved when its signal comes back; and resolves by itself a flag whose signal is
gone (article re-reviewed, votes recovered, cluster vanished).

Every write to a flag is a compare-and-set on its version, inside one transaction with its audit row:
the analysis never overwrites a manager's decision that landed after it read the flag, and the audit
trail always agrees with the state.
"""

from __future__ import annotations

import json

from indexer.clock import now_iso
from indexer.errors import Conflict, InvalidInput, NotFound
from indexer.i18n import N_
from indexer.store import transaction

from . import evidence, flag_searches, notifications

STATES = ("open", "acknowledged", "resolved", "dismissed")
TRANSITIONS = {
    "open": {"acknowledged", "resolved", "dismissed"},
    "acknowledged": {"resolved", "dismissed", "open"},
    "resolved": {"open"},
    "dismissed": {"open"},
}
REOPEN_GROWTH = 1.5  # a dismissed flag comes back when its score grows by half again
ANALYZER = "kb-analyze"
NOTE_LIMIT = 2000  # characters in a manager's note on a state change


def create_flag_tables(db) -> None:
    db["flags"].create({
        "id": int, "key": str, "kind": str, "slug": str, "reason": str, "title": str, "path": str,
        "score": float, "evidence": str, "suggestion": str, "state": str, "state_by": str, "state_at": str,
        "dismissed_score": float, "created_at": str, "updated_at": str, "last_seen": str, "version": int,
    }, pk="id")
    db["flags"].create_index(["key"])
    db["flags"].create_index(["state", "score"])
    db["flag_events"].create({"id": int, "flag_id": int, "ts": str, "actor": str, "from_state": str,
                              "to_state": str, "note": str}, pk="id")
    db["flag_events"].create_index(["flag_id"])


MIGRATIONS = [create_flag_tables]


def _row(db, flag_id: int) -> dict:
    rows = list(db["flags"].rows_where("id = ?", [flag_id]))
    if not rows:
        raise NotFound(N_("没有编号为 %(id)s 的问题"), id=flag_id)
    return _decode(rows[0])


def _decode(row: dict) -> dict:
    row = dict(row)
    row["evidence"] = json.loads(row["evidence"] or "{}")
    return row


def _audit(db, flag_id, actor, from_state, to_state, note="") -> None:
    db["flag_events"].insert({"flag_id": flag_id, "ts": now_iso(), "actor": actor, "from_state": from_state,
                              "to_state": to_state, "note": note})


def get_flag(db, flag_id: int) -> dict:
    """One flag with its audit trail."""
    flag = _row(db, flag_id)
    flag["history"] = list(db["flag_events"].rows_where("flag_id = ?", [flag_id], order_by="id"))
    return flag


def list_flags(db, states=("open", "acknowledged"), kind: str | None = None) -> list[dict]:
    """Flags in the given states, most urgent first."""
    where = f"state IN ({','.join('?' for _ in states)})"
    params = list(states)
    if kind:
        where += " AND kind = ?"
        params.append(kind)
    return [_decode(r) for r in db["flags"].rows_where(where, params, order_by="score DESC, id")]


def clean_note(note) -> str:
    """A note that can be stored: text, valid Unicode (JSON allows lone surrogates, UTF-8 does not), bounded."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInput(N_("备注必须是文本"))
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("备注里有不是有效 Unicode 文本的字符")) from None
    if len(note) > NOTE_LIMIT:
        raise InvalidInput(N_("备注太长了（最多 %(max)s 个字符）"), max=NOTE_LIMIT)
    return note


def _compare_and_set(db, flag: dict, values: dict, bump: bool) -> bool:
    """Write values to the flag only if its version is still the one read; True if written.

    A state change bumps the version (an open page that saw the old state is then refused); refreshing the
    analysis's own fields (score, evidence) does not, so a manager's open page stays valid across runs."""
    sets = ", ".join(f"{k} = ?" for k in values) + (", version = version + 1" if bump else "")
    cursor = db.execute(f"UPDATE flags SET {sets} WHERE id = ? AND version = ?",
                        [*values.values(), flag["id"], flag["version"]])
    return cursor.rowcount == 1


def transition(db, flag_id: int, to_state: str, actor: str, expected_version: int | None, note: str = "") -> dict:
    """Move a flag to a new state; Conflict if it changed since expected_version or the move is invalid.

    One transaction: the state and its audit row land together or not at all."""
    if to_state not in STATES:
        raise InvalidInput(N_("状态必须是 %(choices)s 之一"), choices=", ".join(STATES))
    note = clean_note(note)
    with transaction(db):
        flag = _row(db, flag_id)
        if expected_version is not None and flag["version"] != expected_version:
            at = flag["state_at"] or flag["updated_at"]
            if flag["state_by"]:
                raise Conflict(N_("这个问题在你打开后被改过：现在是「%(state)s」（%(by)s 于 %(at)s 修改），请刷新后重新决定"),
                               state=flag["state"], version=flag["version"], by=flag["state_by"], at=at,
                               labels={"state": "flag"})
            raise Conflict(N_("这个问题在你打开后被改过：现在是「%(state)s」（于 %(at)s 更新），请刷新后重新决定"),
                           state=flag["state"], version=flag["version"], at=at, labels={"state": "flag"})
        if to_state not in TRANSITIONS[flag["state"]]:
            raise Conflict(N_("「%(state)s」的问题不能改为「%(to_state)s」"), state=flag["state"],
                           version=flag["version"], to_state=to_state, labels={"state": "flag", "to_state": "flag"})
        now = now_iso()
        values = {"state": to_state, "state_by": actor, "state_at": now, "updated_at": now}
        if to_state in ("dismissed", "resolved"):
            values["dismissed_score"] = flag["score"]  # the score a later run must clearly exceed to reopen it
        if not _compare_and_set(db, flag, values, bump=True):  # cannot happen inside BEGIN IMMEDIATE; last defence
            raise Conflict(N_("这个问题刚被别人改过，请刷新后重新决定"))
        _audit(db, flag_id, actor, flag["state"], to_state, note)
    return get_flag(db, flag_id)


def sync(db, candidates: list[dict], now: str | None = None) -> dict:
    """Merge one analysis run's findings into the queue; returns counts of what happened.

    One transaction, and every write to an existing flag is a compare-and-set on the version read: a
    decision a manager made after that read is kept as made (counted as changed_meanwhile) and the next
    run decides on it, with an audit trail that matches the state."""
    now = now or now_iso()
    summary = {"opened": 0, "updated": 0, "reopened": 0, "kept_dismissed": 0, "auto_resolved": 0,
               "changed_meanwhile": 0}
    seen = set()
    with transaction(db):
        for c in candidates:
            seen.add(c["key"])
            latest = list(db["flags"].rows_where("key = ?", [c["key"]], order_by="id DESC", limit=1))
            fields = {"score": c["score"], "evidence": json.dumps(c["evidence"], ensure_ascii=False),
                      "suggestion": c["suggestion"], "title": c["title"], "path": c.get("path") or "",
                      "last_seen": now, "updated_at": now}
            if not latest:
                flag_id = db["flags"].insert({
                    "key": c["key"], "kind": c["kind"], "slug": c.get("slug") or "", "reason": c["reason"],
                    "state": "open", "state_by": ANALYZER, "state_at": now, "dismissed_score": None,
                    "created_at": now, "version": 1, **fields}).last_pk
                _audit(db, flag_id, ANALYZER, "", "open", "found by analysis")
                flag_searches.replace(db, flag_id, c.get("searches") or [])
                _notify_new(db, flag_id, c)
                summary["opened"] += 1
                continue
            flag = latest[0]
            if flag["state"] in ("open", "acknowledged"):
                outcome = "updated" if _compare_and_set(db, flag, fields, bump=False) else "changed_meanwhile"
                if outcome == "updated":
                    flag_searches.replace(db, flag["id"], c.get("searches") or [])
            elif (flag["state"] == "dismissed" or (flag["state"] == "resolved" and flag["state_by"] != ANALYZER)) \
                    and c["score"] < (flag["dismissed_score"] or 0) * REOPEN_GROWTH:
                # A person decided (dismissed, or resolved it: evidence such as old votes lingers for a while);
                # only markedly stronger evidence reopens it.
                outcome = "kept_dismissed" if _compare_and_set(db, flag, {"last_seen": now}, bump=False) \
                    else "changed_meanwhile"
            else:  # decided but grown markedly, or resolved by the analysis itself and back
                why = (f"evidence grew markedly since it was {flag['state']}" if flag["state_by"] != ANALYZER
                       else "signal is back")
                outcome = "changed_meanwhile"
                if _compare_and_set(db, flag, {**fields, "state": "open", "state_by": ANALYZER, "state_at": now},
                                    bump=True):
                    _audit(db, flag["id"], ANALYZER, flag["state"], "open", why)
                    flag_searches.replace(db, flag["id"], c.get("searches") or [])
                    outcome = "reopened"
            summary[outcome] += 1
        for flag in list(db["flags"].rows_where("state IN ('open', 'acknowledged')")):
            if flag["key"] in seen:
                continue
            if _compare_and_set(db, flag, {"state": "resolved", "state_by": ANALYZER, "state_at": now,
                                           "updated_at": now}, bump=True):
                _audit(db, flag["id"], ANALYZER, flag["state"], "resolved", "signal gone")
                summary["auto_resolved"] += 1
            else:
                summary["changed_meanwhile"] += 1
    return summary


def _notify_new(db, flag_id: int, c: dict) -> None:
    # In sync's transaction: the notification exists exactly when the flag does.
    data = {"flag_id": flag_id, "kind": c["kind"], "reason": c["reason"], "title": c["title"], "slug": c.get("slug") or "",
            "score": c["score"], "summary": c["suggestion"], "url": f"/dashboard/flags/{flag_id}",
            "evidence_text": evidence.texts({**c, "id": flag_id})}  # the sentences the dashboard shows
    if c["reason"] == "review_overdue":  # to the article's owner (a user name or e-mail), else the managers
        owner = (c.get("evidence") or {}).get("owner") or ""
        data.update(owner=owner, due=(c.get("evidence") or {}).get("due", ""))
        notifications.notify(db, "review.due", data, [owner] if owner else "managers")
    elif c["score"] >= notifications.HIGH_SCORE:
        notifications.notify(db, "gap.opened" if c["kind"] == "gap" else "flag.opened", data, "managers")
