"""Building the Whoosh index: full builds swap atomically, `kb index` touches only what changed."""

import threading

from indexer.build import build_full, current_index_dir, read_pointer, update_incremental
from indexer.i18n import using
from indexer.query import open_index


def test_full_build_indexes_every_good_article_and_reports_broken_ones(docs_dir, data_dir):
    problems = []
    report = build_full(docs_dir, data_dir, on_problem=problems.append)
    assert len(report.added) == 6 and [p.path for p in problems] == ["broken.md"]
    assert open_index(data_dir).count() == 6


def test_incremental_update_touches_only_changed_articles(docs_dir, built):
    report = update_incremental(docs_dir, built)
    assert report.summary().startswith("增量索引：新增 0 篇，修改 0 篇，删除 0 篇，未变 6 篇")  # the CLI's language
    with using("en"):
        assert report.summary().startswith("incremental index: 0 added, 0 changed, 0 removed, 6 unchanged in ")
    before = read_pointer(built)["version"]

    (docs_dir / "import" / "csv-encoding.md").write_text("# CSV 编码\n\n请使用 UTF-8 保存文件。\n", encoding="utf-8")
    (docs_dir / "guides" / "README.md").unlink()
    (docs_dir / "new.md").write_text("# 看板泳道\n\n按负责人分泳道。\n", encoding="utf-8")
    report = update_incremental(docs_dir, built)
    assert (report.added, report.changed, report.removed) == (["new"], ["import/csv-encoding"], ["guides"])
    assert report.unchanged == 4 and report.version != before

    ix = open_index(built)
    assert ix.article("import/csv-encoding")["title"] == "CSV 编码"
    assert [r["slug"] for r in ix.search("泳道")["results"]] == ["new"]
    assert not ix.has_article("guides")


def test_an_article_that_breaks_keeps_its_last_good_version(docs_dir, built):
    (docs_dir / "import" / "excel-import.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    report = update_incremental(docs_dir, built)
    assert report.removed == [] and any(p.path == "import/excel-import.md" for p in report.problems)
    assert open_index(built).has_article("import/excel-import")


def test_incremental_without_an_index_builds_one(docs_dir, data_dir):
    assert update_incremental(docs_dir, data_dir).mode == "full"


def test_cached_results_are_never_served_from_an_older_index(docs_dir, built):
    ix = open_index(built)
    assert ix.search("泳道")["total"] == 0
    (docs_dir / "swimlanes.md").write_text("# 泳道\n\n看板泳道。\n", encoding="utf-8")
    update_incremental(docs_dir, built)
    assert ix.search("泳道")["total"] == 1  # same query, same process, new index version


def test_searches_during_rebuilds_and_updates_never_fail_nor_mix_versions(docs_dir, built):
    """Searches running while the index is rebuilt and updated again and again: no errors, and every
    answer comes from one complete version (document numbers move between versions)."""
    ix = open_index(built, cache_size=0)
    errors, tops = [], []
    stop = threading.Event()

    def search_forever():
        while not stop.is_set():
            try:
                result = ix.search("Excel 导入 字段映射")
                tops.append(result["results"][0]["slug"])
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=search_forever) for _ in range(3)]
    for t in threads:
        t.start()
    first_dir = current_index_dir(built)
    extra = docs_dir / "aaa-first.md"  # sorts first: shifts every document number when present
    for round_ in range(6):
        if round_ % 2:
            extra.unlink()
        else:
            extra.write_text("# 看板泳道\n\n按负责人分泳道。\n" * (round_ + 1), encoding="utf-8")
        build_full(docs_dir, built)
        (docs_dir / "import" / "csv-encoding.md").write_text(f"# CSV {round_}\n\n请使用 UTF-8。\n", encoding="utf-8")
        update_incremental(docs_dir, built)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert len(tops) > 10 and set(tops) == {"import/excel-import"}
    assert current_index_dir(built) != first_dir
    assert len(list((built / "indexes").iterdir())) <= 2  # old generations are cleaned up
