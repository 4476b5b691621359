"""The right advice: kb's own search (and passage similarity) decides "improve article X" or "write a new one"."""

import itertools

import pytest

from analytics.failing import FailedSearch
from analytics.gaps import find_gaps, near_identical_key
from indexer.articles import load_articles
from indexer.build import build_full, current_index_dir
from indexer.dense import fill_vectors
from indexer.query import open_index
from indexer.semantic import model_state
from indexer.vectors import VectorStore

ARTICLES = {
    "accounts/password.md": ("忘记密码与重置密码", "登录页点击「忘记密码」，输入注册邮箱，打开邮件里的链接设置新密码。"
                             "链接 30 分钟内有效。管理员也可以在成员管理里为成员重置密码。"),
    "projects/create.md": ("创建项目并选择模板", "在首页点击「新建项目」，填写项目名称，选择空白模板或行业模板，"
                           "设置项目成员和可见范围后点击创建。"),
    "tasks/recurring.md": ("设置周期任务", "在任务详情里打开「重复」，选择每天、每周或每月，周期任务会按时自动生成。"),
    "import/excel-import.md": ("从 Excel 导入任务", "下载导入模板，按列填写任务名称、负责人、截止日期，"
                               "在项目设置里选择「导入」并上传文件。导入时日期列必须是日期格式，"
                               "否则导入会失败并提示哪一行出错。"),
    "import/excel-export.md": ("导出任务到 Excel", "在任务列表右上角点击「导出」，选择字段和范围，"
                               "系统生成 xlsx 文件并下载。导出的文件可以用 Excel 打开。"),
    "notify/channels.md": ("通知渠道设置", "在个人设置里选择接收通知的方式：站内信、邮件、钉钉或企业微信。"),
    "gantt/deps.md": ("甘特图任务依赖", "在甘特图中拖动任务条之间的连线，设置完成-开始依赖和滞后时间。"),
}
GAPS = {
    "password": ["pasword reset", "reset pasword", "密码忘了登不上", "忘记密码", "找回密码", "reset password"],
    "create": ["create new project", "new project", "怎么新建项目", "创建项目", "新建一个项目"],
    "contracts": ["合同管理", "上传合同", "合同到期提醒", "合同审批归档", "contract management"],
    "import": ["excel导入失败", "导入excel报错", "导入任务表格", "excel 导入日期为空"],
    "export": ["导出excel", "excel导出格式", "导出任务列表", "导出的excel打不开"],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = tmp_path_factory.mktemp("advice") / "docs"
    for path, (title, body) in ARTICLES.items():
        (docs / path).parent.mkdir(parents=True, exist_ok=True)
        (docs / path).write_text(f"---\ntitle: {title}\n---\n\n# {title}\n\n## 步骤\n\n{body}\n", encoding="utf-8")
    data = docs.parent / "data"
    build_full(docs, data)
    fill_vectors(current_index_dir(data), VectorStore(data), model_state("use").get())
    articles = [a.to_dict() | {"body": a.body} for a in load_articles(docs)]
    return open_index(data, cache_size=0), articles


def failing(topics) -> tuple[list[FailedSearch], dict[str, int]]:
    """Every query searched 4 times, 3 of them failing (no click)."""
    failed, totals, ids = [], {}, itertools.count()
    for topic in topics:
        for query in GAPS[topic]:
            totals[near_identical_key(query)] = 4
            for _ in range(3):
                n = next(ids)
                failed.append(FailedSearch(f"q{n}", f"2026-11-{10 + n % 10:02d}T10:00:00.000Z", f"s{n}", query,
                                           query.lower(), "no_click", None, None))
    return failed, totals


def gaps_for(corpus, topics):
    index, articles = corpus
    failed, totals = failing(topics)
    gaps, _ = find_gaps(failed, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)
    return gaps


def gap_of(gaps, topic):
    """The gap holding most of a topic's queries."""
    pool = set(GAPS[topic])
    return max(gaps, key=lambda g: len(pool & set(g.queries)))


def test_a_misspelt_covered_topic_is_improve_that_article_not_write_a_new_one(corpus):
    gap = gap_of(gaps_for(corpus, ["password", "contracts"]), "password")
    assert gap.action == "improve", gap.suggestion
    assert gap.nearest_slug == "accounts/password" and gap.answered_share >= 0.5
    assert "忘记密码与重置密码" in gap.suggestion and "pasword reset" in gap.suggestion  # the readers' own queries
    # the words readers used that the article lacks, nothing it already says
    assert gap.missing_words and "reset" in gap.missing_words and "忘记" not in gap.missing_words
    assert gap.similarity >= 0.4


def test_an_english_query_answered_by_a_chinese_article_is_improve(corpus):
    gap = gap_of(gaps_for(corpus, ["create"]), "create")
    assert gap.action == "improve" and gap.nearest_slug == "projects/create", gap.suggestion


def test_a_topic_no_article_answers_is_write_a_new_article(corpus):
    gap = gap_of(gaps_for(corpus, ["password", "contracts"]), "contracts")
    assert gap.action == "write" and "写一篇新文章" in gap.suggestion
    assert not set(GAPS["password"]) & set(gap.queries)


def test_import_and_export_queries_become_separate_gaps_each_on_its_article(corpus):
    gaps = gaps_for(corpus, ["import", "export"])
    imp, exp = gap_of(gaps, "import"), gap_of(gaps, "export")
    assert imp is not exp
    assert imp.nearest_slug == "import/excel-import" and exp.nearest_slug == "import/excel-export"
    assert not [q for q in imp.queries if "导出" in q] and not [q for q in exp.queries if "导入" in q]


def test_without_vectors_the_advice_falls_back_to_words_and_still_answers(corpus, tmp_path):
    index, articles = corpus
    keywords_only = open_index(index.data_dir, cache_size=0, semantic="off")
    failed, totals = failing(["contracts"])
    gaps, _ = find_gaps(failed, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=keywords_only)
    assert gaps and gap_of(gaps, "contracts").action == "write"


SCENARIO = {
    "uncovered": {"contracts": {"queries": GAPS["contracts"], "words": ["合同"]}},
    "unfindable": {"password": {"slug": "accounts/password", "queries": ["密码忘了登不上", "密码不记得了", "密码想不起来了"],
                                "words": ["登不上", "不记得", "想不起来"]}},
    "voted_down": "notify/channels",
}


def test_a_simulated_scenario_on_any_folder_is_found_with_the_right_advice(corpus, tmp_path):
    import datetime as dt

    from analytics.analyze import analyze
    from analytics.simulate import simulate
    from kbserver.db import open_db

    index, articles = corpus
    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    end = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    truth = simulate(db, index, articles, days=14, sessions_per_day=40, end=end, scenario=SCENARIO)
    assert truth["gap_topics"] == {"contracts": GAPS["contracts"]} and truth["unhelpful_article"] == "notify/channels"
    report = analyze(db, articles, now=end, index=index)
    contracts = [g for g in report.gaps if set(GAPS["contracts"]) & set(g.queries)]
    password = [g for g in report.gaps if {"密码不记得了", "密码想不起来了"} & set(g.queries)]
    assert contracts and all(g.action == "write" for g in contracts)
    assert password, [(g.label, g.queries, g.action) for g in report.gaps]
    assert password and all(g.action == "improve" and g.nearest_slug == "accounts/password" for g in password)
    assert "notify/channels" in {f.slug for f in report.article_flags if f.reason == "low_helpfulness"}


@pytest.mark.parametrize("text, message", [
    ("uncovered: [1, 2", "不是 UTF-8 编码的 YAML/JSON 场景文件"),
    ("- a list", "场景必须是一个映射"),
    ("unfindable: {x: {slug: no/such, queries: [a]}}", "没有 slug 为 'no/such' 的文章"),
    ("uncovered: {x: {queries: []}}", "场景的 uncovered.x 需要一个查询列表"),
    ("colour: blue", "场景里有未知的键：colour"),
])
def test_kb_simulate_refuses_a_bad_scenario_in_one_line(corpus, runner, tmp_path, text, message):
    from kbserver.cli import cli

    index, _ = corpus
    (tmp_path / "scenario.yml").write_text(text, encoding="utf-8")
    docs = index.data_dir.parent / "docs"
    result = runner.invoke(cli, ["simulate", "--docs", str(docs), "--data", str(index.data_dir),
                                 "--database-url", f"sqlite:///{tmp_path}/kb.db", "--days", "1",
                                 "--scenario", str(tmp_path / "scenario.yml")])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output


def events(queries: list[str], reason: str = "no_click", opened: str | None = None, times: int = 3):
    """Each query failing `times` times; with opened, readers clicked that article and voted it down."""
    failed, totals, ids = [], {}, itertools.count()
    for query in queries:
        totals[near_identical_key(query)] = times + 1
        for _ in range(times):
            n = next(ids)
            failed.append(FailedSearch(f"e{n}", f"2026-11-{10 + n % 10:02d}T10:00:00.000Z", f"s{n}", query,
                                       query.lower(), reason, opened, opened))
    return failed, totals


VAGUE = ["那个东西一直转圈打不开", "一直转圈圈", "页面转圈打不开"]  # no article says so; search still lists some


def test_an_article_readers_open_from_a_gap_and_vote_down_is_improve_it(corpus):
    index, articles = corpus
    offered = index.search(VAGUE[0], limit=3, cache=False)["results"]
    assert offered and all(r["score"] < 0.62 for r in offered)  # search alone does not call any an answer
    slug = offered[-1]["slug"]
    failed, totals = events(VAGUE)
    before, _ = find_gaps(failed, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)
    assert before and all(g.action == "write" for g in before), [(g.action, g.nearest_slug) for g in before]
    failed, totals = events(VAGUE, reason="not_helpful", opened=slug)
    gaps, _ = find_gaps(failed, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)
    gap = next(g for g in gaps if VAGUE[0] in g.queries)
    assert gap.action == "improve" and gap.nearest_slug == slug, gap.suggestion


def test_a_query_that_is_an_article_title_is_navigation_not_a_gap(corpus):
    index, articles = corpus
    failed, totals = events(["忘记密码与重置密码", "设置周期任务"] + GAPS["contracts"])
    gaps, _ = find_gaps(failed, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)
    queries = {q for g in gaps for q in g.queries}
    assert "忘记密码与重置密码" not in queries and "设置周期任务" not in queries
    assert set(GAPS["contracts"]) & queries  # a real gap beside them is still found


def test_gap_labels_are_whole_queries_not_segmentation_fragments(corpus):
    gaps = gaps_for(corpus, ["import", "export", "contracts"])
    assert gaps
    for g in gaps:
        assert g.label in g.queries and " / " not in g.label, (g.label, g.queries)


def test_an_article_search_puts_first_but_readers_never_open_is_not_their_answer(corpus):
    index, articles = corpus
    skipped, totals = events(GAPS["create"], times=5)
    gap = gap_of(find_gaps(skipped, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)[0], "create")
    assert gap.action == "improve" and gap.nearest_slug == "projects/create"  # search calls it the answer
    totals = {key: 5 for key in totals}  # every search failing
    for f in skipped:  # shown first every time, opened by nobody
        f.top_slug = "projects/create"
    gap = gap_of(find_gaps(skipped, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)[0], "create")
    assert gap.action == "write", gap.suggestion
    skipped[0].reason, skipped[0].clicked_slug = "not_helpful", "projects/create"  # one reader opened it
    gap = gap_of(find_gaps(skipped, articles, "2026-11-15T00:00:00.000Z", totals=totals, index=index)[0], "create")
    assert gap.action == "improve" and gap.nearest_slug == "projects/create", gap.suggestion


def test_a_surge_of_searches_no_article_answers_does_not_flag_their_first_result(corpus, tmp_path):
    import datetime as dt
    import json

    from analytics.analyze import analyze
    from analytics.events import insert_events
    from kbserver.db import open_db

    index, articles = corpus
    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    rows, clicks, votes, n = [], [], [], itertools.count()
    for topic, first in (("contracts", "gantt/deps"), ("import", "import/excel-import")):
        for days_ago, times in ((10, 1), (3, 3)):  # one a query the week before, three each this week
            for query in GAPS[topic]:
                for _ in range(times):
                    k = next(n)
                    ts = now - dt.timedelta(days=days_ago, minutes=10 * k)
                    rows.append({"query_id": f"q{k}", "ts": ts.isoformat(), "session": f"s{k}", "query": query,
                                 "normalized": query.lower(), "results": 3, "top_slugs": json.dumps([first]),
                                 "took_ms": 1.0, "module": "", "tag": "", "page": 1, "source": "test"})
                    if topic == "import" and k % 3 == 0:  # some open the import article, and it does not help
                        clicked = ts + dt.timedelta(seconds=10)
                        clicks.append({"ts": clicked.isoformat(), "query_id": f"q{k}", "slug": first, "position": 1,
                                       "session": f"s{k}"})
                        votes.append({"ts": (clicked + dt.timedelta(seconds=60)).isoformat(), "slug": first,
                                      "helpful": 0, "comment": "", "session": f"s{k}"})
    insert_events(db, "searches", rows)
    insert_events(db, "clicks", clicks)
    insert_events(db, "votes", votes)
    report = analyze(db, articles, now=now, index=index, update_queue=False)
    surging = {f.slug for f in report.article_flags if f.reason == "failing_surge"}
    assert "import/excel-import" in surging  # its own readers fail: its fault
    assert "gantt/deps" not in surging  # first for contract questions only because nothing answers them


def test_chinese_failing_queries_are_clustered_by_meaning_not_shared_characters(corpus):
    from analytics.gaps import cluster_texts

    index, _ = corpus
    texts = ["合同管理", "管理供应商合同", "合同到期提醒", "目标管理", "季度目标怎么拆"]
    by_words = cluster_texts(texts, min_size=1).labels
    assert by_words[0] == by_words[3]  # 管理 alone puts OKR goals with contracts (the mixed gap)
    by_meaning = cluster_texts(texts, min_size=1, embed=index.embed).labels
    assert by_meaning[0] == by_meaning[1] == by_meaning[2]  # the contract questions stay one gap
    assert by_meaning[3] != by_meaning[0]  # goals are not contracts


def test_failing_searches_for_a_title_several_articles_share_are_no_surge_on_the_first(corpus, tmp_path):
    import datetime as dt
    import json

    from analytics.analyze import analyze
    from analytics.events import insert_events
    from kbserver.db import open_db

    _, articles = corpus
    shared = [dict(a) for a in articles[:2]]
    for a in shared:
        a["title"] = "概述"  # two overview pages: a reader searching 概述 wants one of them
    others = shared + articles[2:]
    db = open_db(f"sqlite:///{tmp_path}/kb.db")
    now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    rows = [{"query_id": f"q{k}", "ts": (now - dt.timedelta(days=10 if k < 1 else 2, minutes=10 * k)).isoformat(),
             "session": f"s{k}", "query": "概述", "normalized": "概述", "results": 3,
             "top_slugs": json.dumps([shared[0]["slug"]]), "took_ms": 1.0, "module": "", "tag": "", "page": 1,
             "source": "test"} for k in range(9)]
    insert_events(db, "searches", rows)
    report = analyze(db, others, now=now, update_queue=False)
    assert shared[0]["slug"] not in {f.slug for f in report.article_flags if f.reason == "failing_surge"}
    report = analyze(db, [shared[0]] + articles[1:], now=now, update_queue=False)  # its own title alone
    assert shared[0]["slug"] in {f.slug for f in report.article_flags if f.reason == "failing_surge"}
