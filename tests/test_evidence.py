"""Evidence as sentences: every kind and key the analysis writes is put into words, and the numbers link to
exactly the searches behind them (the page's count is the sentence's number)."""

import datetime as dt
import re
import shutil

import pytest

from analytics import accounts, evidence, flag_searches
from analytics import flags as queue
from analytics.analyze import analyze
from analytics.questions import add_question
from analytics.simulate import GAP_TOPICS, simulate
from analytics.staleness import (
    StalenessRules,
    agent_link_flags,
    bounce_flags,
    helpfulness_flags,
    review_flags,
    surge_flags,
)
from conftest import REAL_DOCS
from indexer.articles import load_articles
from indexer.query import open_index
from kbserver import create_app
from kbserver.db import open_db

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
RAW = re.compile(r"[{}\[\]]|'|\b(?:nearest_slug|failure_rate|reformulated|no_click|not_helpful|days_overdue)\b")


@pytest.fixture(scope="module")
def month(real_index, tmp_path_factory):
    """A simulated month on the starter docs, a few questions sent through 提交问题, one analysis run,
    and a real app (Flask, the same SQLite file) to read the pages; plus a manager's session."""
    data = tmp_path_factory.mktemp("evidence") / "data"
    shutil.copytree(real_index, data)
    app = create_app({"docs": REAL_DOCS, "data": data})
    db = open_db(app.config["KB"]["database_url"])
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(REAL_DOCS)]
    simulate(db, open_index(real_index), articles, end=NOW)
    topic = sorted(GAP_TOPICS)[0]
    for n, text in enumerate(GAP_TOPICS[topic][:3]):  # customers who found nothing and asked
        add_question(db, text, address=f"10.0.0.{n}", now=(NOW - dt.timedelta(hours=n + 1)).timestamp())
    manager, password, _ = accounts.create_user(db, "wang", "manager")
    accounts.set_contact(db, manager["id"], email="wang@example.com", mode="instant")  # new flags are e-mailed
    analyze(db, articles, now=NOW)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "wang", "password": password, "csrf_token": token})
    yield db, client, topic
    app.extensions["kb_events"].close()


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_every_kind_and_key_the_analysis_writes_has_a_sentence(month):
    db, _, _ = month
    flags = queue.list_flags(db, states=queue.STATES)
    kinds = {evidence.kind_of(f) for f in flags}
    assert {"gap", "failing_surge", "low_helpfulness", "bounce", "review_overdue"} <= kinds, kinds
    for flag in flags:
        kind = evidence.kind_of(flag)
        unknown = set(flag["evidence"]) - evidence.KEYS.get(kind, set())
        assert not unknown, f"{kind} writes {unknown}, which no sentence puts into words"
        for outcome in (flag["evidence"].get("reasons") or {}):
            assert outcome in flag_searches.OUTCOMES, f"{kind} counts searches as {outcome!r}, which has no words"
        lines = evidence.texts(flag)
        assert lines and all(lines), kind
        for line in lines:
            assert not RAW.search(line), f"{kind}: raw data in {line!r}"


def test_kinds_the_month_does_not_produce_have_sentences_too():
    article = {"slug": "a/b", "title": "设置任务依赖", "path": "a/b.md", "reviewed": "2026-01-01", "review_every": 90,
               "owner": "张三"}
    by_slug = {"a/b": article}
    rules = StalenessRules()
    made = (review_flags([article], dt.date(2026, 6, 1)) + helpfulness_flags(by_slug, {"a/b": (1, 9)}, rules)
            + surge_flags(by_slug, {"a/b": 12}, {"a/b": 3}, rules) + bounce_flags(by_slug, {"a/b": (40, 20)}, rules)
            + agent_link_flags(by_slug, [{"slug": "a/b", "links": 12, "solved": 2, "not_helped": 7, "visits": 9}]))
    assert {f.reason for f in made} == {"review_overdue", "low_helpfulness", "failing_surge", "bounce",
                                        "agent_links_unhelpful"}
    for f in made:
        flag = {"id": 7, "kind": "article", "reason": f.reason, "evidence": f.evidence}
        assert set(f.evidence) <= evidence.KEYS[f.reason], f.reason
        for line in evidence.texts(flag):
            assert not RAW.search(line), line
    overdue = evidence.texts({"kind": "article", "reason": "review_overdue", "evidence": made[0].evidence})
    assert overdue == ["复查已逾期 61 天（应于 2026-04-01 复查，每 90 天复查一次，上次复查 2026-01-01，负责人 张三）"]
    answer = evidence.texts({"kind": "article", "reason": "answer_unhelpful",
                             "evidence": {"helpful": 1, "votes": 6, "helpful_rate": 0.167, "helpful_upper_bound": 0.56}})
    assert answer[0].startswith("搜索框上方引用这篇文章的答案被投了 5 次没帮助")


def test_an_unknown_key_is_readable_text_never_a_raw_dict():
    lines = evidence.texts({"kind": "article", "reason": "bounce",
                            "evidence": {"clicks": 10, "bounced": 5, "bounce_rate": 0.5, "new_signal": {"a": [1, 2]}}})
    assert lines[-1] == "new_signal：a 1、2" and not any("{" in line for line in lines)


def _links(html: str) -> list[tuple[str, str]]:
    return [(href.replace("&amp;", "&"), text) for href, text in
            re.findall(r'<a class="kb-evidence-count" href="([^"]+)">(\d+)</a>', html)]


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_each_number_links_to_a_page_listing_exactly_that_many_searches(month):
    db, client, topic = month
    checked = set()
    for flag in queue.list_flags(db, states=queue.STATES):
        html = client.get(f"/dashboard/flags/{flag['id']}").get_data(as_text=True)
        for href, number in _links(html):
            page = client.get(href)
            assert page.status_code == 200, href
            shown = re.search(r'id="kb-search-count">(\d+)<', page.get_data(as_text=True)).group(1)
            assert shown == number, f"{href}: the sentence says {number}, the page lists {shown}"
            checked.add(re.search(r"outcome=(\w+)", href).group(1) if "outcome=" in href else "all")
    # the failing-search outcomes, the total and the customers' questions were all followed
    assert {"failed", "reformulated", "no_click", "asked"} <= checked, checked


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_the_searches_page_lists_query_time_and_outcome(month):
    db, client, _ = month
    gap = max(queue.list_flags(db, kind="gap"), key=lambda f: f["evidence"]["reasons"].get("reformulated", 0))
    n = gap["evidence"]["reasons"]["reformulated"]
    html = client.get(f"/dashboard/flags/{gap['id']}/searches?outcome=reformulated").get_data(as_text=True)
    assert html.count('data-outcome="reformulated"') == min(n, flag_searches.PAGE)
    assert "改换说法" in html and "<time" in html
    assert any(q in html for q in gap["evidence"]["examples"])
    api = client.get(f"/api/flags/{gap['id']}/searches?outcome=reformulated").get_json()
    assert api["total"] == n and {s["outcome"] for s in api["searches"]} == {"reformulated"}


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_the_dashboard_shows_sentences_not_raw_keys(month):
    _, client, _ = month
    html = client.get("/dashboard").get_data(as_text=True)
    assert "次改换说法" in html and "最接近的文章：<a" in html and "复查已逾期" in html
    for raw in ("nearest_slug", "failure_rate", "failing_this_period", "helpful_upper_bound", "days_overdue: "):
        assert raw not in html


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_the_searches_page_refuses_bad_filters_and_is_for_managers(month):
    db, client, _ = month
    flag = queue.list_flags(db)[0]
    r = client.get(f"/api/flags/{flag['id']}/searches?outcome=everything")
    assert r.status_code == 400 and "outcome must be one of" in r.get_json()["error"]["message"]
    assert client.get(f"/api/flags/{flag['id']}/searches?page=0").status_code == 400
    assert client.get("/api/flags/999999/searches").status_code == 404
    anonymous = client.application.test_client()
    assert anonymous.get(f"/dashboard/flags/{flag['id']}/searches").status_code == 302


@pytest.mark.slow  # a simulated month and its analysis (module fixture)
def test_a_new_flags_notification_carries_the_sentences(month):
    db, _, _ = month
    bodies = [row[0] for row in db.execute("SELECT body FROM notify_emails WHERE event = 'gap.opened'")]
    assert bodies, "a simulated month opens high-score gaps"
    assert all("证据：\n· " in b for b in bodies)
    assert any(re.search(r"· 近 14 天这些说法被搜索 \d+ 次，\d+ 次（\d+%）失败：", b) for b in bodies), bodies[0]


def test_a_flag_whose_searches_are_not_stored_shows_its_numbers_without_links():
    flag = {"id": 9, "kind": "gap", "reason": "write", "evidence": {"reasons": {"no_click": 4, "reformulated": 2},
                                                                   "searched": 8, "period_days": 7}}
    linked = [p for s in evidence.sentences(flag) for p in s if isinstance(p, evidence.Link)]
    assert [p.href for p in linked] == ["/dashboard/flags/9/searches?outcome=failed",
                                        "/dashboard/flags/9/searches?outcome=reformulated",
                                        "/dashboard/flags/9/searches?outcome=no_click"]
    plain = evidence.sentences(flag, link_searches=False)
    assert not [p for s in plain for p in s if isinstance(p, evidence.Link)]
    assert evidence.plain(plain[0]) == "近 14 天这些说法被搜索 8 次，6 次（75%）失败：2 次改换说法、4 次没有点击"


def test_every_word_of_a_sentence_goes_through_the_translator():
    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

    def translate(message, **values):  # a stand-in catalogue: every Chinese character of the source replaced
        text = cjk.sub("z", message)
        return text % values if values else text

    gap = {"id": 3, "kind": "gap", "reason": "write", "evidence": {
        "reasons": {"reformulated": 2, "no_click": 4, "not_helpful": 1, "no_results": 1, "asked": 3}, "searched": 12,
        "period_days": 7, "sessions": 5, "current": 6, "previous": 2, "trend": 3.0, "nearest_slug": "a/b",
        "nearest_title": "Gantt", "similarity": 0.2, "action": "write", "examples": ["gantt", "baseline"],
        "queries": ["gantt", "baseline", "x", "y", "z"], "representative": "critical path", "missing_words": ["lag"],
        "something_new": {"a": [1, 2]}}}
    flags = [gap, {**gap, "reason": "improve", "evidence": {**gap["evidence"], "action": "improve", "answered_share": 0.4}}]
    flags += [{"id": 4, "kind": "article", "reason": reason, "evidence": e} for reason, e in (
        ("review_overdue", {"reviewed": "2026-01-01", "review_every": 90, "due": "2026-04-01", "days_overdue": 3,
                            "owner": "li"}),
        ("low_helpfulness", {"helpful": 1, "votes": 6, "helpful_rate": 0.17, "helpful_upper_bound": 0.5}),
        ("answer_unhelpful", {"helpful": 1, "votes": 6, "helpful_rate": 0.17, "helpful_upper_bound": 0.5}),
        ("failing_surge", {"failing_this_period": 9, "failing_previous_period": 2, "ratio": 4.5, "period_days": 7}),
        ("bounce", {"clicks": 10, "bounced": 5, "bounce_rate": 0.5}),
        ("near_gap", {"cluster": "gantt", "volume": 8, "similarity": 0.3, "examples": ["gantt"], "period_days": 7,
                      "reasons": {"no_click": 8}}),
        ("agent_links_unhelpful", {"links": 6, "solved": 1, "not_helped": 4, "visits": 5}))]
    for flag in flags:
        for line in evidence.texts(flag, translate=translate):
            assert not cjk.search(line), f"{flag['reason']}: untranslated {line!r}"
