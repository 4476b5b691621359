"""Submissions and their review. Sole owner of the submissions, submission_revisions,
submission_comments and submission_events tables.

States::

    draft → submitted → in_review → changes_requested → submitted → … → approved → published
                      ↘ rejected (with a reason)                        published → unpublished

Every change names the state (and, from forms and the API, the version) it expects; a change that
is no longer valid — two reviewers at once, a stale form, a double submit — is refused with a
Conflict instead of being applied twice. Every transition is recorded with who and when.

Every change is one transaction (``indexer.store.transaction``): the checks read inside it, and the
state, its revision, its audit row and its note land together or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from analytics import notifications
from indexer.errors import Conflict, InvalidInput, NotFound, RateLimited
from indexer.i18n import N_, gettext
from indexer.store import transaction

from .validate import clean_submission

STATES = ("draft", "submitted", "in_review", "changes_requested", "approved", "published", "rejected", "unpublished")
RATE_LIMIT = 10  # submissions an account may create per hour
NOTE_LIMIT = 5000  # characters in a reviewer's note (the same as a comment)
CONTENT_FIELDS = ("title", "summary", "body", "tags", "module", "organisation")

# action: (states it may start from, state it leads to, who may do it)
ACTIONS = {
    "submit": (("draft", "changes_requested"), "submitted"),
    "start_review": (("submitted",), "in_review"),
    "request_changes": (("submitted", "in_review"), "changes_requested"),
    "approve": (("submitted", "in_review"), "approved"),
    "reject": (("submitted", "in_review", "changes_requested"), "rejected"),
    "publish": (("approved",), "published"),
    "unpublish": (("published",), "unpublished"),
}
class StateConflict(Conflict):
    """An action the submission's state does not allow. Programs read the state's identifier in the English
    message (and in ``state``); a person reads its name (「需修改」, not changes_requested)."""

    labels = {"state": "submission", "next_state": "submission"}


def create_contrib_tables(db) -> None:
    db["submissions"].create({
        "id": int, "author_id": int, "author_name": str, "state": str, "title": str, "summary": str, "body": str,
        "tags": str, "module": str, "organisation": str, "consent": int, "slug": str, "assigned_to": str,
        "reason": str, "revision": int, "version": int, "created_at": str, "updated_at": str,
        "published_at": str}, pk="id")
    db["submissions"].create_index(["author_id", "created_at"])
    db["submissions"].create_index(["state"])
    db["submission_revisions"].create({
        "id": int, "submission_id": int, "revision": int, "title": str, "summary": str, "body": str, "tags": str,
        "module": str, "organisation": str, "created_at": str}, pk="id")
    db["submission_revisions"].create_index(["submission_id", "revision"], unique=True)
    db["submission_comments"].create({"id": int, "submission_id": int, "parent_id": int, "author": str, "role": str,
                                      "body": str, "created_at": str}, pk="id")
    db["submission_comments"].create_index(["submission_id"])
    db["submission_events"].create({"id": int, "submission_id": int, "ts": str, "actor": str, "from_state": str,
                                    "to_state": str, "note": str}, pk="id")
    db["submission_events"].create_index(["submission_id"])


MIGRATIONS = [create_contrib_tables]


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decode(row: dict) -> dict:
    row = dict(row)
    row["tags"] = json.loads(row.get("tags") or "[]")
    row["consent"] = bool(row.get("consent"))
    return row


def get(db, sid: int) -> dict:
    """A submission with its revisions, comments and history; NotFound if there is none."""
    rows = list(db["submissions"].rows_where("id = ?", [sid]))
    if not rows:
        raise NotFound(N_("没有编号为 %(id)s 的投稿"), id=sid)
    sub = _decode(rows[0])
    sub["revisions"] = [{k: v for k, v in _decode(r).items() if k != "consent"}  # consent is the submission's
                        for r in db["submission_revisions"].rows_where("submission_id = ?", [sid], order_by="revision")]
    sub["comments"] = list(db["submission_comments"].rows_where("submission_id = ?", [sid], order_by="id"))
    sub["history"] = list(db["submission_events"].rows_where("submission_id = ?", [sid], order_by="id"))
    return sub


def list_submissions(db, states: tuple[str, ...] | None = None, author_id: int | None = None) -> list[dict]:
    """Submissions, newest first: all, or those in states, or by one author."""
    where, params = [], []
    if author_id is not None:
        where.append("author_id = ?")
        params.append(author_id)
    if states:
        where.append(f"state IN ({','.join('?' for _ in states)})")
        params += list(states)
    return [_decode(r) for r in db["submissions"].rows_where(" AND ".join(where) or None, params,
                                                             order_by="updated_at DESC")]


def _audit(db, sid, actor, from_state, to_state, note="") -> None:
    db["submission_events"].insert({"submission_id": sid, "ts": now_iso(), "actor": actor, "from_state": from_state,
                                    "to_state": to_state, "note": note})


def _check_rate(db, author: dict) -> None:
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    if db["submissions"].count_where("author_id = ? AND created_at >= ?", [author["id"], since]) >= RATE_LIMIT:
        raise RateLimited(N_("每小时最多只能新建 %(limit)s 份投稿，请稍后再试"), limit=RATE_LIMIT)


def create(db, author: dict, data: dict, submit: bool = False) -> tuple[dict, bool]:
    """A new draft (or submitted) practice by a VIP; returns (submission, created). An identical
    submission sent again within ten minutes (a double click, a retried request) is returned, not duplicated."""
    fields = clean_submission(data, final=submit)
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    for row in db["submissions"].rows_where("author_id = ? AND title = ? AND body = ? AND created_at >= ?",
                                            [author["id"], fields["title"], fields["body"], since]):
        if submit and row["state"] == "draft":  # saved as a draft, then sent: send that draft
            return transition(db, row["id"], "submit", author), False
        return get(db, row["id"]), False
    _check_rate(db, author)
    now = now_iso()
    with transaction(db):
        sid = db["submissions"].insert({
            "author_id": author["id"], "author_name": author["name"], "state": "draft", "revision": 0, "version": 1,
            "created_at": now, "updated_at": now, "slug": "", "assigned_to": "", "reason": "", "published_at": "",
            **_stored(fields)}).last_pk
        _audit(db, sid, author["name"], "", "draft", "created")
    if submit:
        return transition(db, sid, "submit", author), True
    return get(db, sid), True


def create_from_ticket(db, agent: dict, question: str, answer: str, ticket_id: str = "") -> dict:
    """A draft article from a ticket an agent answered by hand, straight into the review queue."""
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(N_("请填写 %(field)s"), field=name)
    title = re.sub(r"\s+", " ", question.strip().splitlines()[0])[:100]
    # the draft's own words are written in the company's language, like everything kb writes for it
    title = re.sub(r"[<>\"`]", "", title) or gettext("来自工单的问题")
    body = gettext("## 问题\n\n%(question)s\n\n## 解答\n\n%(answer)s\n", question=question.strip(),
                   answer=answer.strip())
    summary = gettext("来自工单 %(ticket)s", ticket=ticket_id).strip()[:300]
    fields = clean_submission({"title": title, "summary": summary, "body": body, "tags": [gettext("工单")], "module": "",
                               "organisation": gettext("客服团队"), "consent": True}, final=False)
    now = now_iso()
    with transaction(db):
        sid = db["submissions"].insert({
            "author_id": agent["id"], "author_name": agent["name"], "state": "submitted", "revision": 1, "version": 1,
            "created_at": now, "updated_at": now, "slug": "", "assigned_to": "", "reason": "", "published_at": "",
            **_stored(fields)}).last_pk
        db["submission_revisions"].insert({"submission_id": sid, "revision": 1, "created_at": now,
                                           **{k: (json.dumps(fields[k], ensure_ascii=False) if k == "tags" else fields[k])
                                              for k in CONTENT_FIELDS}})
        _audit(db, sid, agent["name"], "", "submitted", f"from ticket {ticket_id}".strip())
        notifications.notify(db, "submission.submitted", {"submission_id": sid, "title": fields["title"],
                                                          "author": agent["name"], "url": f"/review/{sid}"}, "managers")
    return get(db, sid)


def _stored(fields: dict) -> dict:
    out = {k: fields[k] for k in ("title", "summary", "body", "module", "organisation") if k in fields}
    if "tags" in fields:
        out["tags"] = json.dumps(fields["tags"], ensure_ascii=False)
    if "consent" in fields:
        out["consent"] = int(bool(fields["consent"]))
    return out


def update(db, sid: int, author: dict, data: dict, version: int | None) -> dict:
    """Edit a draft or a submission whose changes were requested (its author: kbserver/policy.py checks)."""
    sub = get(db, sid)
    if sub["state"] not in ("draft", "changes_requested"):
        raise StateConflict(N_("「%(state)s」状态的投稿不能修改"), state=sub["state"])
    fields = clean_submission(data, final=False)
    with transaction(db):
        cursor = db.execute(
            f"UPDATE submissions SET {', '.join(f'{k} = ?' for k in _stored(fields))}, updated_at = ?, "
            "version = version + 1 WHERE id = ? AND state = ? AND (? IS NULL OR version = ?)",
            [*_stored(fields).values(), now_iso(), sid, sub["state"], version, version])
        if cursor.rowcount != 1:
            raise Conflict(N_("这份投稿刚刚被改过，请刷新后再保存"))
    return get(db, sid)


REVIEWER_EDITS = ("title", "summary", "body")  # what a reviewer may correct before approving


def edit_as_reviewer(db, sid: int, reviewer: dict, data: dict, version: int | None) -> dict:
    """A manager corrects a submission's title, summary or body before approving it: a new revision,
    recorded as the reviewer's, with the attribution and consent left as the author gave them.

    One transaction: the fields, the revision and the audit row land together or not at all."""
    if not isinstance(data, dict):
        raise InvalidInput(N_("修改内容必须是一个由字段组成的 JSON 对象"))
    unknown = set(data) - set(REVIEWER_EDITS)
    if unknown:
        raise InvalidInput(N_("审核人只能修改 %(editable)s，不能修改 %(unknown)s"), editable=", ".join(REVIEWER_EDITS),
                           unknown=", ".join(sorted(unknown)))
    with transaction(db):
        sub = get(db, sid)
        if sub["state"] not in ("submitted", "in_review"):
            raise StateConflict(N_("「%(state)s」状态的投稿不能由审核人修改"), state=sub["state"],
                                version=sub["version"])
        if version is not None and sub["version"] != version:
            raise Conflict(N_("这份投稿在你打开之后被改过，请刷新后再试"),
                           state=sub["state"], version=sub["version"])
        merged = {k: sub[k] for k in CONTENT_FIELDS} | {k: data[k] for k in REVIEWER_EDITS if k in data}
        fields = clean_submission(merged | {"consent": sub["consent"]}, final=True)
        changed = {k: fields[k] for k in REVIEWER_EDITS if fields[k] != sub[k]}
        if not changed:
            return sub
        revision, now = sub["revision"] + 1, now_iso()
        db.execute(f"UPDATE submissions SET {', '.join(f'{k} = ?' for k in changed)}, revision = ?, updated_at = ?, "
                   "version = version + 1 WHERE id = ? AND version = ?",
                   [*changed.values(), revision, now, sid, sub["version"]])
        db["submission_revisions"].insert({
            "submission_id": sid, "revision": revision, "created_at": now,
            **{k: (json.dumps(fields[k], ensure_ascii=False) if k == "tags" else fields[k]) for k in CONTENT_FIELDS}})
        _audit(db, sid, reviewer["name"], sub["state"], sub["state"], gettext("审核人修改了内容（第 %(n)s 版）", n=revision))
    return get(db, sid)


def clean_note(note) -> str:
    """A reviewer's note that can be stored (JSON allows lone surrogates, UTF-8 does not), stripped."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInput(N_("备注必须是文本"))
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("备注含有无效的字符，请删除后再试")) from None
    if len(note) > NOTE_LIMIT:
        raise InvalidInput(N_("备注太长了（最多 %(limit)s 个字符）"), limit=NOTE_LIMIT)
    return note.strip()


def transition(db, sid: int, action: str, actor: dict, version: int | None = None, note: str = "",
               **changes) -> dict:
    """Apply a workflow action as actor; Conflict if the submission is no longer in a state that allows it.

    One transaction: the state, its revision, the audit row and the note land together or not at all."""
    if action not in ACTIONS:
        raise InvalidInput(N_("没有 %(action)r 这个操作"), action=action)
    allowed_from, to_state = ACTIONS[action]
    with transaction(db):  # BEGIN IMMEDIATE: nobody writes between the checks below and the update
        sub = get(db, sid)
        note = clean_note(note)
        if sub["state"] not in allowed_from:
            raise StateConflict(N_("这份投稿现在是「%(state)s」状态，不能再改为「%(next_state)s」"
                                   "（可能有人刚处理过它），请刷新"),
                                state=sub["state"], version=sub["version"], next_state=to_state.replace("_", " "))
        if version is not None and sub["version"] != version:
            raise Conflict(N_("这份投稿在你打开之后被改过，请刷新后再试"),
                           state=sub["state"], version=sub["version"])
        if action in ("request_changes", "reject") and not note:
            raise InvalidInput(N_("请写明需要修改什么") if action == "request_changes" else N_("请写明拒绝的原因"))
        if action == "submit":
            clean_submission({k: sub[k] for k in CONTENT_FIELDS} | {"consent": sub["consent"]}, final=True)
        updates = {"updated_at": now_iso(), **changes}
        if action == "submit":
            updates["revision"] = sub["revision"] + 1
        if action in ("reject", "request_changes"):
            updates["reason"] = note  # the author's list shows the reviewer's latest word
        if action == "request_changes" and not sub["assigned_to"]:
            updates["assigned_to"] = actor["name"]  # the resubmission comes back to whoever asked
        if action == "submit" and sub["state"] == "changes_requested" and sub["assigned_to"]:
            to_state = "in_review"  # back to the reviewer who asked for the changes: nobody has to claim it again
        if action == "start_review":
            updates["assigned_to"] = changes.pop("assignee", None) or actor["name"]
            updates.pop("assignee", None)
        if action == "publish":
            updates["published_at"] = now_iso()
        sets = ", ".join(f"{k} = ?" for k in updates)
        cursor = db.execute(f"UPDATE submissions SET state = ?, {sets}, version = version + 1 "
                            "WHERE id = ? AND state = ? AND version = ?",
                            [to_state, *updates.values(), sid, sub["state"], sub["version"]])
        if cursor.rowcount != 1:  # cannot happen inside BEGIN IMMEDIATE; kept as the last line of defence
            raise Conflict(N_("这份投稿刚刚被改过，请刷新后再试"))
        if action == "submit":
            db["submission_revisions"].insert({
                "submission_id": sid, "revision": updates["revision"], "created_at": updates["updated_at"],
                **{k: (json.dumps(sub[k], ensure_ascii=False) if k == "tags" else sub[k]) for k in CONTENT_FIELDS}})
        _audit(db, sid, actor["name"], sub["state"], to_state, note)
        if note and action in ("request_changes", "reject"):
            _comment(db, sid, actor, note, None)
        _notify(db, action, sub, actor, note, updates.get("assigned_to") or sub["assigned_to"])
    return get(db, sid)


# action → the notification it causes (in the action's own transaction: notified exactly when it happened)
_NOTIFY = {"submit": "submission.submitted", "request_changes": "submission.changes_requested",
           "approve": "submission.approved", "publish": "submission.published", "reject": "submission.rejected"}


def _notify(db, action: str, sub: dict, actor: dict, note: str, reviewer: str) -> None:
    if action not in _NOTIFY:
        return
    data = {"submission_id": sub["id"], "title": sub["title"], "summary": sub["summary"], "author": sub["author_name"],
            "reviewer": reviewer or "", "note": note, "state": ACTIONS[action][1], "url": f"/contrib/{sub['id']}"}
    if action == "submit":  # to the reviewer it returns to, else every manager
        data["url"] = f"/review/{sub['id']}"
        notifications.notify(db, _NOTIFY[action], data, [reviewer] if reviewer else "managers")
    else:
        notifications.notify(db, _NOTIFY[action], data, [sub["author_name"]], managers_if_nobody=False)


def claim_publication(db, sid: int, actor: dict, version: int | None, pick_slug) -> dict:
    """Check that the submission may be published and fix its slug, in one transaction, before any file is
    written: Conflict unless it is approved (and at version, when given). pick_slug(sub) chooses a free slug
    for one that has none; choosing and storing it in the same transaction keeps two practices off one file."""
    with transaction(db):
        sub = get(db, sid)
        if sub["state"] != "approved":
            raise StateConflict(N_("这份投稿已经发布了") if sub["state"] == "published" else
                                N_("这份投稿现在是「%(state)s」状态：只有「已通过」状态的投稿才能发布"),
                                state=sub["state"], version=sub["version"])
        if version is not None and sub["version"] != version:
            raise Conflict(N_("这份投稿在你打开之后被改过，请刷新后再试"),
                           state=sub["state"], version=sub["version"])
        if sub["slug"]:
            return sub
        cursor = db.execute("UPDATE submissions SET slug = ?, updated_at = ?, version = version + 1 "
                            "WHERE id = ? AND state = 'approved' AND version = ?",
                            [pick_slug(sub), now_iso(), sid, sub["version"]])
        if cursor.rowcount != 1:
            raise Conflict(N_("这份投稿刚刚被改过，请刷新后再试"))
    return get(db, sid)


def find(db, sid: int) -> dict | None:
    """The submission (without its thread) or None: for housekeeping that must not fail on a missing one."""
    rows = list(db["submissions"].rows_where("id = ?", [sid]))
    return _decode(rows[0]) if rows else None


def comment(db, sid: int, actor: dict, body: str, parent_id: int | None = None) -> dict:
    """Add a comment (a reply when parent_id is given) to a submission's thread."""
    get(db, sid)  # NotFound for a submission that is not there
    if not isinstance(body, str) or not body.strip() or len(body) > 5000:
        raise InvalidInput(N_("评论需要 1 到 5000 个字符"))
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("评论含有无效的字符，请删除后再试")) from None
    if parent_id is not None and not db["submission_comments"].count_where("id = ? AND submission_id = ?",
                                                                            [parent_id, sid]):
        raise InvalidInput(N_("要回复的评论不在这份投稿的讨论里"))
    with transaction(db):
        _comment(db, sid, actor, body.strip(), parent_id)
    return get(db, sid)


def _comment(db, sid, actor, body, parent_id) -> None:
    db["submission_comments"].insert({"submission_id": sid, "parent_id": parent_id, "author": actor["name"],
                                      "role": actor.get("role", ""), "body": body, "created_at": now_iso()})


def slugs_in_use(db, except_id: int | None = None) -> set[str]:
    """Slugs given to other submissions (so a new practice never takes one)."""
    return {r["slug"] for r in db["submissions"].rows_where("slug != '' AND id != ?", [except_id or -1])}
