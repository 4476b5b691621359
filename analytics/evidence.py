"""A flag's evidence as sentences a knowledge manager reads, e.g.
"近 14 天这些说法被搜索 94 次，74 次（79%）失败：18 次改换说法、44 次没有点击、12 次点了却说没帮助".

The analysis stores evidence as numbers under English keys (the API and the CSV keep them raw); this
module turns each kind of flag into Chinese sentences. A sentence is a list of parts: text, or a
``Link`` (the numbers of searches link to the page listing exactly those searches, the nearest article's
title to the article). ``plain`` gives the text of a sentence for e-mails; kbserver renders the links.

``KEYS`` lists, per kind, every evidence key the analysis writes and this module reads, so a test can
enumerate what a simulated month produces and fail on a key nobody turned into words. A key no sentence
knows is still shown as readable text (never a raw dict).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

OUTCOME_WORDS = {"no_results": "次没有结果", "reformulated": "次改换说法", "no_click": "次没有点击",
                 "not_helpful": "次点了却说没帮助"}
OUTCOME_NAMES = {"no_results": "没有结果", "reformulated": "改换说法（没点结果就换了说法再搜）", "no_click": "没有点击",
                 "not_helpful": "点了却说没帮助", "asked": "找不到答案，提交了问题"}
_SEARCH_COUNTS = {"no_results", "reformulated", "no_click", "not_helpful", "asked"}  # keys of evidence["reasons"]

# Every evidence key each kind carries (article flags by reason, gap flags as "gap"). Keys in a kind's set
# are either in a sentence or shown elsewhere on the same line (the flag's title, its 写新文章/改进文章 tag).
KEYS = {
    "review_overdue": {"reviewed", "review_every", "due", "days_overdue", "owner"},
    "low_helpfulness": {"helpful", "votes", "helpful_rate", "helpful_upper_bound"},
    "answer_unhelpful": {"helpful", "votes", "helpful_rate", "helpful_upper_bound"},
    "failing_surge": {"failing_this_period", "failing_previous_period", "ratio", "period_days"},
    "bounce": {"clicks", "bounced", "bounce_rate"},
    "near_gap": {"cluster", "volume", "similarity", "examples", "reasons", "period_days"},
    "agent_links_unhelpful": {"links", "solved", "not_helped", "visits"},
    "gap": {"label", "terms", "action",  # the flag's title and tag
            "representative", "examples", "queries", "volume", "sessions", "current", "previous", "trend", "reasons",
            "failure_rate", "searched", "nearest_slug", "nearest_title", "similarity", "answered_share",
            "missing_words", "period_days"},
}


class Link(NamedTuple):
    text: str
    href: str


def kind_of(flag: dict) -> str:
    """The key of KEYS a flag's evidence follows."""
    return "gap" if flag.get("kind") == "gap" else flag.get("reason", "")


def searches_url(flag_id, outcome: str | None = None, period: str | None = None) -> str:
    """The manager's page listing the searches behind one of a flag's numbers."""
    query = urlencode([(k, v) for k, v in (("outcome", outcome), ("period", period)) if v])
    return f"/dashboard/flags/{flag_id}/searches" + (f"?{query}" if query else "")


def plain(sentence: list) -> str:
    """The text of a sentence (links as their text), for e-mails and logs."""
    return "".join(p.text if isinstance(p, Link) else str(p) for p in sentence)


def _pct(value) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) else "—"


def _num(value) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _quoted(items, n: int = 4) -> str:
    return "、".join(f"「{x}」" for x in list(items or [])[:n])


def _count(flag_id, n: int, unit: str, outcome: str | None = None, period: str | None = None) -> list:
    """"18 次改换说法" with 18 linked to those searches (no link without a flag id, e.g. before it is stored)."""
    if flag_id is None or n == 0:
        return [f"{n} {unit}"]
    return [Link(str(n), searches_url(flag_id, outcome, period)), f" {unit}"]


def _breakdown(flag_id, reasons: dict, searched: int | None, days: int | None) -> list[list]:
    """The failing-search figures shared by gaps and articles near a gap."""
    reasons = {k: _num(v) for k, v in (reasons or {}).items()}
    asked = reasons.get("asked", 0)
    questions = asked // _question_weight() if asked else 0
    failed = sum(n for k, n in reasons.items() if k != "asked")
    out = []
    if failed:
        lead = f"近 {days} 天" if days else ""
        if searched and searched - asked >= failed:
            sentence = [f"{lead}这些说法被搜索 {searched - asked} 次，", *_count(flag_id, failed, "次", "failed"),
                        f"（{_pct(failed / (searched - asked))}）失败："]
        else:
            sentence = [f"{lead}失败的搜索 ", *_count(flag_id, failed, "次", "failed"), "："]
        for i, k in enumerate(k for k in OUTCOME_WORDS if reasons.get(k)):
            sentence += (["、"] if i else []) + _count(flag_id, reasons[k], OUTCOME_WORDS[k], k)
        out.append(sentence)
    if questions:
        out.append(["另有 ", *_count(flag_id, questions, "位客户找不到答案，提交了问题", "asked"),
                    f"（每个问题按 {_question_weight()} 次失败搜索计）"])
    return out


def _question_weight() -> int:
    from .analyze import QUESTION_WEIGHT

    return QUESTION_WEIGHT


def _gap(flag_id, e: dict) -> list[list]:
    days = _num(e.get("period_days")) or None
    out = _breakdown(flag_id, e.get("reasons"), _num(e.get("searched")) or None, days * 2 if days else None)
    if e.get("sessions"):
        out.append([f"来自 {e['sessions']} 个访客会话"])
    if days and (e.get("current") is not None or e.get("previous") is not None):
        trend = e.get("trend")
        out.append([f"最近 {days} 天 {_num(e.get('current'))} 次失败，之前 {days} 天 {_num(e.get('previous'))} 次"
                    + (f"（×{trend}）" if isinstance(trend, (int, float)) and e.get("previous") else "")])
    if e.get("nearest_slug") and e.get("action") == "write":  # the nearest article does not answer them
        title = e.get("nearest_title") or e["nearest_slug"]
        out.append(["没有文章回答这些搜索（最接近的是", Link(f"《{title}》", f"/{e['nearest_slug']}/"),
                    f"，相似度 {_num_text(e.get('similarity'))}）"])
    elif e.get("nearest_slug"):
        title = e.get("nearest_title") or e["nearest_slug"]
        sentence = ["最接近的文章：", Link(f"《{title}》", f"/{e['nearest_slug']}/"),
                    f"（相似度 {_num_text(e.get('similarity'))}）"]
        if e.get("answered_share"):
            sentence.append(f"，kb 的搜索用它回答了其中 {_pct(e['answered_share'])} 的搜索")
        out.append(sentence)
    else:
        out.append(["没有文章回答这些搜索"])
    forms = len(e.get("queries") or [])
    if e.get("examples"):
        sentence = ["读者这样问：" + _quoted(e["examples"])]
        if forms > len(e["examples"][:4]):
            sentence.append(f"（共 {forms} 种说法）")
        if e.get("representative") and e["representative"] not in e["examples"][:4]:
            sentence.append(f"；最典型的是「{e['representative']}」")
        out.append(sentence)
    if e.get("missing_words"):
        out.append(["文章里没有读者用的这些词：" + "、".join(e["missing_words"])])
    return out


def _num_text(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value if value is not None else "—")


def _article(flag_id, reason: str, e: dict) -> list[list]:
    if reason == "review_overdue":
        detail = [f"应于 {e['due']} 复查" if e.get("due") else "",
                  f"每 {e['review_every']} 天复查一次" if e.get("review_every") else "",
                  f"上次复查 {e['reviewed']}" if e.get("reviewed") else "",
                  f"负责人 {e['owner']}" if e.get("owner") else ""]
        detail = "，".join(d for d in detail if d)
        return [[f"复查已逾期 {_num(e.get('days_overdue'))} 天" + (f"（{detail}）" if detail else "")]]
    if reason in ("low_helpfulness", "answer_unhelpful"):
        votes, helpful = _num(e.get("votes")), _num(e.get("helpful"))
        what = "搜索框上方引用这篇文章的答案" if reason == "answer_unhelpful" else "这篇文章"
        return [[f"{what}被投了 {votes - helpful} 次没帮助（共 {votes} 次评价，{helpful} 次有帮助，"
                 f"有帮助 {_pct(e.get('helpful_rate'))}）"],
                [f"按 95% 置信区间，有帮助的比例最多 {_pct(e.get('helpful_upper_bound'))}"]]
    if reason == "failing_surge":
        days = _num(e.get("period_days")) or 7
        now, before = _num(e.get("failing_this_period")), _num(e.get("failing_previous_period"))
        return [["以它为第一个结果的失败搜索：最近 " + f"{days} 天 ", *_count(flag_id, now, "次", "failed", "current"),
                 f"，之前 {days} 天 ", *_count(flag_id, before, "次", "failed", "previous"),
                 f"（×{e.get('ratio', '—')}）"]]
    if reason == "bounce":
        return [[f"读者点开 {_num(e.get('clicks'))} 次，{_num(e.get('bounced'))} 次（{_pct(e.get('bounce_rate'))}）"
                 "在几秒内又回去搜索"]]
    if reason == "near_gap":
        days = _num(e.get("period_days")) or None
        out = [[f"它是失败搜索主题「{e.get('cluster', '')}」最接近的文章（相似度 {_num_text(e.get('similarity'))}）"]]
        breakdown = _breakdown(flag_id, e.get("reasons"), None, days * 2 if days else None)
        out += breakdown or [[f"这个主题共 {_num(e.get('volume'))} 次失败"]]
        if e.get("examples"):
            out.append(["读者这样问：" + _quoted(e["examples"])])
        return out
    if reason == "agent_links_unhelpful":
        return [[f"客服发送了 {_num(e.get('links'))} 次，客户打开 {_num(e.get('visits'))} 次；客服报告结果的工单中 "
                 f"{_num(e.get('not_helped'))} 个没有解决，{_num(e.get('solved'))} 个解决了"]]
    return []


def _value_text(value) -> str:
    if isinstance(value, dict):
        return "，".join(f"{k} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "、".join(_value_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def sentences(flag: dict, link_searches: bool = True) -> list[list]:
    """The flag's evidence as sentences (lists of text and Link parts), most telling first.

    flag: a stored flag ({id, kind, reason, evidence}) or an analysis candidate (no id: no links).
    link_searches=False: numbers are plain text (the flag's searches are not stored, so no page lists them)."""
    e = flag.get("evidence") or {}
    kind, flag_id = kind_of(flag), flag.get("id") if link_searches else None
    out = _gap(flag_id, e) if kind == "gap" else _article(flag_id, kind, e)
    known = KEYS.get(kind, set())
    for key, value in e.items():  # something the analysis writes that no sentence knows yet: readable, never a dict
        if key not in known and value not in (None, "", [], {}):
            out.append([f"{key}：{_value_text(value)}"])
    return out


def texts(flag: dict) -> list[str]:
    """The sentences as plain text (notifications)."""
    return [plain(s) for s in sentences(flag)]
