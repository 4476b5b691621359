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


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark a message for the catalogues where it is defined; it is translated where it is shown."""
    return message


OUTCOME_WORDS = {"no_results": N_("次没有结果"), "reformulated": N_("次改换说法"), "no_click": N_("次没有点击"),
                 "not_helpful": N_("次点了却说没帮助")}
OUTCOME_NAMES = {"no_results": N_("没有结果"), "reformulated": N_("改换说法"),
                 "no_click": N_("没有点击"), "not_helpful": N_("点了却说没帮助"), "asked": N_("找不到答案，提交了问题")}

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


def source_language(message: str, **values) -> str:
    """The translator used when none is given: the Chinese source text, with its values filled in."""
    return message % values if values else message


def _pct(value) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) else "—"


def _num(value) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _quoted(_, items, n: int = 4) -> str:
    return _("、").join(_("「%(text)s」", text=x) for x in list(items or [])[:n])


def _count(_, flag_id, n: int, unit: str, outcome: str | None = None, period: str | None = None) -> list:
    """"18 次改换说法" with 18 linked to those searches (no link without a flag id, e.g. before it is stored)."""
    unit = _(unit)
    if flag_id is None or n == 0:
        return [f"{n} {unit}"]
    return [Link(str(n), searches_url(flag_id, outcome, period)), f" {unit}"]


def _breakdown(_, flag_id, reasons: dict, searched: int | None, days: int | None) -> list[list]:
    """The failing-search figures shared by gaps and articles near a gap."""
    reasons = {k: _num(v) for k, v in (reasons or {}).items()}
    asked = reasons.get("asked", 0)
    questions = asked // _question_weight() if asked else 0
    failed = sum(n for k, n in reasons.items() if k != "asked")
    out = []
    if failed:
        lead = _("近 %(days)s 天", days=days) if days else ""
        if searched and searched - asked >= failed:
            sentence = [lead + _("这些说法被搜索 %(n)s 次，", n=searched - asked),
                        *_count(_, flag_id, failed, N_("次"), "failed"),
                        _("（%(rate)s）失败：", rate=_pct(failed / (searched - asked)))]
        else:
            sentence = [lead + _("失败的搜索 "), *_count(_, flag_id, failed, N_("次"), "failed"), _("：")]
        for i, k in enumerate(k for k in OUTCOME_WORDS if reasons.get(k)):
            sentence += ([_("、")] if i else []) + _count(_, flag_id, reasons[k], OUTCOME_WORDS[k], k)
        out.append(sentence)
    if questions:
        out.append([_("另有 "), *_count(_, flag_id, questions, N_("位客户找不到答案，提交了问题"), "asked"),
                    _("（每个问题按 %(n)s 次失败搜索计）", n=_question_weight())])
    return out


def _question_weight() -> int:
    from .analyze import QUESTION_WEIGHT

    return QUESTION_WEIGHT


def _nearest(_, e: dict) -> list:
    title = e.get("nearest_title") or e["nearest_slug"]
    return [Link(_("《%(title)s》", title=title), f"/{e['nearest_slug']}/")]


def _gap(_, flag_id, e: dict) -> list[list]:
    days = _num(e.get("period_days")) or None
    out = _breakdown(_, flag_id, e.get("reasons"), _num(e.get("searched")) or None, days * 2 if days else None)
    if e.get("sessions"):
        out.append([_("来自 %(n)s 个访客会话", n=e["sessions"])])
    if days and (e.get("current") is not None or e.get("previous") is not None):
        trend = e.get("trend")
        out.append([_("最近 %(days)s 天 %(now)s 次失败，之前 %(days)s 天 %(before)s 次", days=days,
                      now=_num(e.get("current")), before=_num(e.get("previous")))
                    + (_("（×%(trend)s）", trend=trend) if isinstance(trend, (int, float)) and e.get("previous") else "")])
    if e.get("nearest_slug") and e.get("action") == "write":  # the nearest article does not answer them
        out.append([_("没有文章回答这些搜索（最接近的是"), *_nearest(_, e),
                    _("，相似度 %(similarity)s）", similarity=_num_text(e.get("similarity")))])
    elif e.get("nearest_slug"):
        sentence = [_("最接近的文章："), *_nearest(_, e),
                    _("（相似度 %(similarity)s）", similarity=_num_text(e.get("similarity")))]
        if e.get("answered_share"):
            sentence.append(_("，kb 的搜索用它回答了其中 %(share)s 的搜索", share=_pct(e["answered_share"])))
        out.append(sentence)
    else:
        out.append([_("没有文章回答这些搜索")])
    forms = len(e.get("queries") or [])
    if e.get("examples"):
        sentence = [_("读者这样问：%(examples)s", examples=_quoted(_, e["examples"]))]
        if forms > len(e["examples"][:4]):
            sentence.append(_("（共 %(n)s 种说法）", n=forms))
        if e.get("representative") and e["representative"] not in e["examples"][:4]:
            sentence.append(_("；最典型的是「%(text)s」", text=e["representative"]))
        out.append(sentence)
    if e.get("missing_words"):
        out.append([_("文章里没有读者用的这些词：%(words)s", words=_("、").join(e["missing_words"]))])
    return out


def _num_text(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value if value is not None else "—")


def _article(_, flag_id, reason: str, e: dict) -> list[list]:
    if reason == "review_overdue":
        detail = [_("应于 %(due)s 复查", due=e["due"]) if e.get("due") else "",
                  _("每 %(n)s 天复查一次", n=e["review_every"]) if e.get("review_every") else "",
                  _("上次复查 %(day)s", day=e["reviewed"]) if e.get("reviewed") else "",
                  _("负责人 %(owner)s", owner=e["owner"]) if e.get("owner") else ""]
        detail = _("，").join(d for d in detail if d)
        overdue = _("复查已逾期 %(n)s 天", n=_num(e.get("days_overdue")))
        return [[overdue + (_("（%(detail)s）", detail=detail) if detail else "")]]
    if reason in ("low_helpfulness", "answer_unhelpful"):
        votes, helpful = _num(e.get("votes")), _num(e.get("helpful"))
        values = {"down": votes - helpful, "votes": votes, "helpful": helpful, "rate": _pct(e.get("helpful_rate"))}
        first = (_("搜索框上方引用这篇文章的答案被投了 %(down)s 次没帮助（共 %(votes)s 次评价，%(helpful)s 次有帮助，"
                   "有帮助 %(rate)s）", **values) if reason == "answer_unhelpful" else
                 _("这篇文章被投了 %(down)s 次没帮助（共 %(votes)s 次评价，%(helpful)s 次有帮助，有帮助 %(rate)s）", **values))
        return [[first], [_("按 95%% 置信区间，有帮助的比例最多 %(rate)s", rate=_pct(e.get("helpful_upper_bound")))]]
    if reason == "failing_surge":
        days = _num(e.get("period_days")) or 7
        now, before = _num(e.get("failing_this_period")), _num(e.get("failing_previous_period"))
        return [[_("以它为第一个结果的失败搜索：最近 %(days)s 天 ", days=days),
                 *_count(_, flag_id, now, N_("次"), "failed", "current"),
                 _("，之前 %(days)s 天 ", days=days), *_count(_, flag_id, before, N_("次"), "failed", "previous"),
                 _("（×%(ratio)s）", ratio=e.get("ratio", "—"))]]
    if reason == "bounce":
        return [[_("读者点开 %(clicks)s 次，%(bounced)s 次（%(rate)s）在几秒内又回去搜索", clicks=_num(e.get("clicks")),
                   bounced=_num(e.get("bounced")), rate=_pct(e.get("bounce_rate")))]]
    if reason == "near_gap":
        days = _num(e.get("period_days")) or None
        out = [[_("它是失败搜索主题「%(cluster)s」最接近的文章（相似度 %(similarity)s）", cluster=e.get("cluster", ""),
                  similarity=_num_text(e.get("similarity")))]]
        breakdown = _breakdown(_, flag_id, e.get("reasons"), None, days * 2 if days else None)
        out += breakdown or [[_("这个主题共 %(n)s 次失败", n=_num(e.get("volume")))]]
        if e.get("examples"):
            out.append([_("读者这样问：%(examples)s", examples=_quoted(_, e["examples"]))])
        return out
    if reason == "agent_links_unhelpful":
        return [[_("客服发送了 %(links)s 次，客户打开 %(visits)s 次；客服报告结果的工单中 %(not_helped)s 个没有解决，"
                   "%(solved)s 个解决了", links=_num(e.get("links")), visits=_num(e.get("visits")),
                   not_helped=_num(e.get("not_helped")), solved=_num(e.get("solved")))]]
    return []


def _value_text(_, value) -> str:
    if isinstance(value, dict):
        return _("，").join(f"{k} {_value_text(_, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return _("、").join(_value_text(_, v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def sentences(flag: dict, link_searches: bool = True, translate=None) -> list[list]:
    """The flag's evidence as sentences (lists of text and Link parts), most telling first.

    flag: a stored flag ({id, kind, reason, evidence}) or an analysis candidate (no id: no links).
    link_searches=False: numbers are plain text (the flag's searches are not stored, so no page lists them).
    translate: ``t(message, **values)`` into the reader's language (default: the Chinese source)."""
    _ = translate or source_language
    e = flag.get("evidence") or {}
    kind, flag_id = kind_of(flag), flag.get("id") if link_searches else None
    out = _gap(_, flag_id, e) if kind == "gap" else _article(_, flag_id, kind, e)
    known = KEYS.get(kind, set())
    for key, value in e.items():  # something the analysis writes that no sentence knows yet: readable, never a dict
        if key not in known and value not in (None, "", [], {}):
            out.append([_("%(key)s：%(value)s", key=key, value=_value_text(_, value))])
    return out


def texts(flag: dict, translate=None) -> list[str]:
    """The sentences as plain text (notifications)."""
    return [plain(s) for s in sentences(flag, translate=translate)]
