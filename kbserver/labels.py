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
    # why an article or a gap is flagged (analytics/staleness.py, analytics/gaps.py)
    "review_overdue": N_("复核逾期"), "low_helpfulness": N_("有帮助比例低"), "failing_surge": N_("失败搜索激增"),
    "bounce": N_("读者很快离开"), "near_gap": N_("靠近内容缺口"), "agent_links_unhelpful": N_("客服发送后没有解决"),
    "write": N_("写新文章"), "improve": N_("改进文章"),
    # the signals that lower an article's health (analytics/health.py)
    "review": N_("复核到期"), "votes": N_("读者评价"), "answer_votes": N_("答案评价"), "bounces": N_("很快离开"),
    "near_gaps": N_("附近的内容缺口"), "agent_links": N_("客服链接"),
    # what the analysis writes into a flag's history (analytics/flags.py)
    "kb-analyze": N_("自动分析"), "found by analysis": N_("分析发现"),
    # ... and the review queue into a submission's (contrib/queue.py)
    "created": N_("创建"),
    # where a search, vote or question came from (searches.source, votes.source, questions.source)
    "site": N_("帮助中心网站"), "widget": N_("应用内帮助"), "api": "API", "simulated": N_("模拟流量"),
}


def label(value) -> str:
    """The name of a stored state or role in the page's language, or the value itself."""
    return gettext(LABELS[value]) if isinstance(value, str) and value in LABELS else value


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
