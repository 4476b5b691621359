"""Review actions on VIP submissions as one library function, without Flask: the web queue, the API and
`kb contrib` all call ``apply_review_action``. Who may act is decided before, by kbserver/policy.py."""

from __future__ import annotations

from analytics.accounts import list_users
from indexer.errors import InvalidInput

from . import queue
from .publish import Publisher

REVIEW_ACTIONS = ("start_review", "request_changes", "approve", "publish", "reject", "unpublish")


def apply_review_action(db, publisher: Publisher, sid: int, action: str, actor: dict, version: int | None,
                        note: str, assignee: str | None = None) -> dict:
    """Start review (optionally assigning another manager), request changes, approve (and publish), retry a
    publication, reject or unpublish submission sid as actor; the submission afterwards."""
    if action not in REVIEW_ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    if assignee:
        if action != "start_review":
            raise InvalidInput("assignee goes with start_review")
        if not any(u["name"] == assignee and u["role"] == "manager" for u in list_users(db)):
            raise InvalidInput(f"{assignee!r} is not a knowledge manager")
        return queue.transition(db, sid, action, actor, version, note, assignee=assignee)
    if action == "approve":
        return publisher.approve_and_publish(db, sid, actor, version, note)
    if action == "unpublish":
        return publisher.unpublish(db, sid, actor, version, note)
    if action == "publish":  # retry an approved submission whose publication failed
        return publisher.publish(db, sid, actor, version)
    return queue.transition(db, sid, action, actor, version, note)
