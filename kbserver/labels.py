"""The names people read for the states kb stores (submissions, flags, agent-link outcomes).

Stored values stay English identifiers (the API and the database speak them); pages show these
through the ``label`` template filter. An unknown value is shown as it is.
"""

from __future__ import annotations

LABELS = {
    # submissions (contrib/queue.py)
    "draft": "草稿", "submitted": "已提交", "in_review": "审核中", "changes_requested": "需修改",
    "approved": "已通过", "published": "已发布", "rejected": "未通过", "unpublished": "已下线",
    # flags (analytics/flags.py)
    "open": "待处理", "acknowledged": "处理中", "resolved": "已解决", "dismissed": "已忽略",
    # agent-link outcomes (analytics/links.py)
    "solved": "已解决", "not_helped": "没有帮助",
    # where a search, vote or question came from (searches.source, votes.source, questions.source)
    "site": "帮助中心网站", "widget": "应用内帮助", "api": "API", "simulated": "模拟流量",
}


def label(value) -> str:
    """The Chinese name of a stored state, or the value itself."""
    return LABELS.get(value, value) if isinstance(value, str) else value


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
