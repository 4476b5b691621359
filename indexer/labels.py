"""The names people read for the identifiers kb stores (states, roles, reasons, sources, form fields).

Stored values stay English identifiers (the API and the database speak them); a page, a CLI line or an
error said to a person names them in its language. One table, grouped by concept, because one word can
mean two things: a submission that is ``approved`` 「已通过」, a synonym pair that is ``approved`` 「已采纳」.
An unknown value is shown as it is.

At the bottom of the package tree (like indexer/i18n), so errors, analytics and pages share it.
"""

from __future__ import annotations

from indexer.i18n import N_, current_language, translations

NAMES: dict[str, dict[str, str]] = {
    # submissions (contrib/queue.py)
    "submission": {
        "draft": N_("草稿"), "submitted": N_("已提交"), "in_review": N_("审核中"), "changes_requested": N_("需修改"),
        "approved": N_("已通过"), "published": N_("已发布"), "rejected": N_("未通过"), "unpublished": N_("已下线"),
    },
    # flags (analytics/flags.py)
    "flag": {"open": N_("待处理"), "acknowledged": N_("处理中"), "resolved": N_("已解决"), "dismissed": N_("已忽略")},
    # learned synonym pairs (analytics/synonyms.py)
    "synonym": {"proposed": N_("待审"), "approved": N_("已采纳"), "rejected": N_("已拒绝")},
    # agent-link outcomes (analytics/links.py)
    "link": {"solved": N_("已解决"), "not_helped": N_("没有帮助")},
    # roles (analytics/accounts.py)
    "role": {"manager": N_("知识库管理员"), "editor": N_("文章编辑"), "agent": N_("客服"), "vip": N_("VIP 客户"),
             "helpdesk": N_("工单系统集成")},
    # why an article or a gap is flagged (analytics/staleness.py, analytics/gaps.py)
    "reason": {
        "review_overdue": N_("复核逾期"), "low_helpfulness": N_("有帮助比例低"), "failing_surge": N_("失败搜索激增"),
        "bounce": N_("读者很快离开"), "near_gap": N_("靠近内容缺口"), "agent_links_unhelpful": N_("客服发送后没有解决"),
        "write": N_("写新文章"), "improve": N_("改进文章"),
    },
    # the signals that lower an article's health (analytics/health.py)
    "signal": {"review": N_("复核到期"), "votes": N_("读者评价"), "answer_votes": N_("答案评价"), "bounces": N_("很快离开"),
               "near_gaps": N_("附近的内容缺口"), "agent_links": N_("客服链接")},
    # who wrote an entry of a flag's or a submission's history (analytics/flags.py, contrib/queue.py)
    "history": {"kb-analyze": N_("自动分析"), "found by analysis": N_("分析发现"), "created": N_("创建")},
    # where a search, vote or question came from (searches.source, votes.source, questions.source)
    "source": {"site": N_("帮助中心网站"), "widget": N_("应用内帮助"), "api": "API", "simulated": N_("模拟流量")},
    # what one analysis did to the queue, and how linked fixes stand (the summary `kb analyze` prints)
    "sync": {"opened": N_("新开"), "updated": N_("更新"), "reopened": N_("再次打开"), "kept_dismissed": N_("仍保持忽略"),
             "auto_resolved": N_("自动解决"), "changed_meanwhile": N_("期间被人改动")},
    "fix": {"measuring": N_("验证中"), "verified": N_("已见效"), "ineffective": N_("没见效")},
    # the fields of an article or a contribution form (contrib/validate.py, kbserver/inputs.py)
    "field": {"title": N_("标题"), "summary": N_("摘要"), "body": N_("正文"), "tags": N_("标签"), "tag": N_("标签"),
              "module": N_("产品模块"), "organisation": N_("署名的组织")},
}


def name(value, concept: str | None = None):
    """The catalogue msgid naming value (of concept, or the first concept that knows it), or value itself.

    English messages spell some identifiers with spaces ("changes requested"): those are found too."""
    if not isinstance(value, str):
        return value
    tables = [NAMES[concept]] if concept in NAMES else [] if concept else list(NAMES.values())
    for key in (value, value.replace(" ", "_")):
        for table in tables:
            if key in table:
                return table[key]
    return value


def label(value, concept: str | None = None, language: str | None = None):
    """value's name in language (default: the current one, indexer.i18n), or value itself when kb has none."""
    msgid = name(value, concept)
    if msgid is value:
        return value
    return translations(language or current_language()).gettext(msgid)


def label_list(value, concept: str | None = None, language: str | None = None):
    """label for one identifier or a ", "-joined list of them (a detail like roles="manager, editor")."""
    if not isinstance(value, str):
        return value
    return ", ".join(str(label(part, concept, language)) for part in value.split(", "))
