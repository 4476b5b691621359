"""The names people read for the states and roles kb stores (submissions, flags, agent-link outcomes, roles).

Stored values stay English identifiers (the API and the database speak them); pages show these
through the ``label`` template filter, in the page's language. An unknown value is shown as it is.
"""

from __future__ import annotations

from flask_babel import gettext

from indexer.i18n import N_

LABELS = {
    # submissions (contrib/queue.py)
    "draft": N_("草稿"), "submitted": N_("已提交"), "in_review": N_("审核中"), "changes_requested": N_("需修改"),
    "approved": N_("已通过"), "published": N_("已发布"), "rejected": N_("未通过"), "unpublished": N_("已下线"),
    # flags (analytics/flags.py)
    "open": N_("待处理"), "acknowledged": N_("处理中"), "resolved": N_("已解决"), "dismissed": N_("已忽略"),
    # agent-link outcomes (analytics/links.py)
    "solved": N_("已解决"), "not_helped": N_("没有帮助"),
    # roles (analytics/accounts.py)
    "manager": N_("知识库管理员"), "editor": N_("文章编辑"), "agent": N_("客服"), "vip": N_("VIP 客户"),
    "helpdesk": N_("工单系统集成"),
}


def label(value) -> str:
    """The name of a stored state or role in the page's language, or the value itself."""
    return gettext(LABELS[value]) if isinstance(value, str) and value in LABELS else value


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
