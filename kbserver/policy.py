"""Who may do what: kb's one authorization policy.

Views and `kb` commands call these functions before they call a library function; the library's storage
and workflow functions take plain arguments (an author, the name recorded in the history) and check no
roles, so background work (publication recovery, similarity) needs no invented "system manager".
Route-level role gates (``auth.require_role``) say who may reach a page at all; the checks here are the
ones that depend on the object (whose submission, whose link).
"""

from __future__ import annotations

from indexer.errors import Forbidden, KBError, NotFound
from indexer.i18n import N_

REVIEWERS = ("manager",)
EDITORS = ("manager", "editor")  # who edits articles in kb
# Who performs each step of a submission's workflow (contrib/queue.py ACTIONS): its author or a reviewer.
SUBMISSION_ACTORS = {"submit": "author", "update": "author", "comment": "any", "view": "any",
                     "start_review": "reviewer", "request_changes": "reviewer", "approve": "reviewer",
                     "reject": "reviewer", "publish": "reviewer", "unpublish": "reviewer", "edit": "reviewer"}


def is_reviewer(user: dict) -> bool:
    """True for a knowledge manager, who reviews every submission."""
    return user.get("role") in REVIEWERS


def require_reviewer(user: dict) -> None:
    """Forbidden unless user reviews submissions (asked first, so a customer learns nothing more)."""
    if not is_reviewer(user):
        raise Forbidden(N_("只有知识库管理员才能审核投稿"))


def require_vip(user: dict) -> None:
    """Forbidden unless user may submit best practices."""
    if user.get("role") != "vip":
        raise Forbidden(N_("只有 VIP 客户才能投稿最佳实践"))


def require_ticket_drafter(user: dict) -> None:
    """Forbidden unless user may turn a ticket into a draft article."""
    if user.get("role") not in ("agent", "manager"):
        raise Forbidden(N_("只有客服才能把工单整理成文章草稿"))


def submissions_author(user: dict) -> int | None:
    """Whose submissions user may list: None (all) for a reviewer, else their own id."""
    return None if is_reviewer(user) else user["id"]


def require_submission(user: dict, sub: dict, action: str) -> dict:
    """NotFound unless user may see sub (reviewers see all, authors their own); Forbidden unless user
    performs `action` on it (SUBMISSION_ACTORS). Returns sub."""
    if not is_reviewer(user) and sub["author_id"] != user["id"]:
        raise NotFound(N_("没有编号为 %(id)s 的投稿"), id=sub["id"])
    who = SUBMISSION_ACTORS[action]
    if who == "author" and sub["author_id"] != user["id"]:
        raise Forbidden(N_("只有作者本人可以这样做"))
    if who == "reviewer":
        require_reviewer(user)
    return sub


def link_recorder(user: dict, named: str) -> str:
    """The agent name a link is recorded under: user's own, or (managers and helpdesk tokens) any named."""
    if named in (None, "", user["name"]):
        return user["name"]
    if user.get("role") not in ("manager", "helpdesk"):
        raise Forbidden(N_("客服只能以自己的名字记录链接"))
    return named


def links_agent(user: dict) -> str | None:
    """Whose links user may list: agents their own, managers and helpdesk tokens all (None)."""
    return user["name"] if user.get("role") == "agent" else None


def require_link_reporter(user: dict, link: dict) -> None:
    """Forbidden when an agent reports the outcome of another agent's link."""
    if user.get("role") == "agent" and link["agent"] != user["name"]:
        raise Forbidden(N_("只有发出这个链接的客服（或知识库管理员）可以报告它的结果"))


def manager_named(db, name: str) -> dict:
    """The manager account `name` (a command's --by); KBError naming the option otherwise."""
    return _account_named(db, name, REVIEWERS, N_("--by %(name)r 必须是知识库管理员的账号（可用 `kb users list` 查看）"))


def editor_named(db, name: str) -> dict:
    """The account `name` (a command's --by) if it edits articles; KBError naming the option otherwise."""
    return _account_named(db, name, EDITORS, N_("--by %(name)r 必须是知识库管理员或文章编辑的账号（可用 `kb users list` 查看）"))


def _account_named(db, name: str, roles: tuple[str, ...], message: str) -> dict:
    from analytics.accounts import list_users

    user = next((u for u in list_users(db) if u["name"] == name), None)
    if user is None or user["role"] not in roles:
        raise KBError(message, name=name)
    return user
