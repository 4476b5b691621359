"""Review actions on VIP submissions as one library function, without Flask: the web queue, the API and
`kb contrib` all call ``apply_review_action``. Who may act is decided before, by kbserver/policy.py."""

from __future__ import annotations

from analytics.accounts import list_users
from indexer.errors import InvalidInput
from indexer.i18n import N_

from . import queue
from .publish import Publisher

REVIEW_ACTIONS = ("start_review", "request_changes", "approve", "publish", "reject", "unpublish")


def apply_review_action(db, publisher: Publisher, sid: int, action: str, actor: dict, version: int | None,
                        note: str, assignee: str | None = None) -> dict:
    """Start review (optionally assigning another manager), request changes, approve (and publish), retry a
    publication, reject or unpublish submission sid as actor; the submission afterwards."""
    if action not in REVIEW_ACTIONS:
        raise InvalidInput(N_("没有 %(action)r 这个操作"), action=action)
    if assignee:
        if action != "start_review":
            raise InvalidInput(N_("只有开始审核（start_review）时才能指定审核人"))
        if not any(u["name"] == assignee and u["role"] == "manager" for u in list_users(db)):
            raise InvalidInput(N_("%(assignee)r 不是知识库管理员"), assignee=assignee)
        return queue.transition(db, sid, action, actor, version, note, assignee=assignee)
    if action == "approve":
        return publisher.approve_and_publish(db, sid, actor, version, note)
    if action == "unpublish":
        return publisher.unpublish(db, sid, actor, version, note)
    if action == "publish":  # retry an approved submission whose publication failed
        return publisher.publish(db, sid, actor, version)
    return queue.transition(db, sid, action, actor, version, note)
