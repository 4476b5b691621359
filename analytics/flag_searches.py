"""The searches behind a flag's figures. Sole owner of ``flag_searches``.

When the analysis writes a flag's evidence ("94 次搜索中 74 次失败：18 次改换说法…"), it writes here, in
the same transaction, the very searches it counted: one row per failing search (and per question sent
through 提交问题) with its outcome and whether it fell in the current or the previous period. The page
behind each number (/dashboard/flags/<id>/searches?outcome=reformulated) lists these rows, so its count
is the sentence's number by construction, even after later events or a reservoir sample.
"""

from __future__ import annotations

OUTCOMES = ("no_results", "reformulated", "no_click", "not_helpful", "asked")
# "failed": every failing search (questions excluded), the figure "74 次失败" links to
FILTERS = (*OUTCOMES, "failed")
PERIODS = ("current", "previous")
PAGE = 200  # rows per page


def create_flag_searches(db) -> None:
    db.execute("CREATE TABLE flag_searches (id INTEGER PRIMARY KEY, flag_id INTEGER NOT NULL, query_id TEXT NOT NULL, "
               "ts TEXT NOT NULL, query TEXT NOT NULL, outcome TEXT NOT NULL, period TEXT NOT NULL)")
    db.execute("CREATE INDEX flag_searches_flag ON flag_searches (flag_id, outcome, period)")


MIGRATIONS = [create_flag_searches]


def rows_of(failed, period_start: str) -> list[dict]:
    """Rows for FailedSearch-like objects (query_id, ts, query, reason): a question counted several times once."""
    out, seen = [], set()
    for f in failed:
        if f.query_id in seen:
            continue
        seen.add(f.query_id)
        out.append({"query_id": f.query_id, "ts": f.ts, "query": f.query, "outcome": f.reason,
                    "period": "current" if f.ts >= period_start else "previous"})
    return out


def replace(db, flag_id: int, rows: list[dict]) -> None:
    """The searches behind a flag's evidence, as just written; call inside the flag's own transaction."""
    db.execute("DELETE FROM flag_searches WHERE flag_id = ?", [flag_id])
    if rows:
        db["flag_searches"].insert_all([{"flag_id": flag_id, **{k: r[k] for k in ("query_id", "ts", "query", "outcome",
                                                                                  "period")}} for r in rows])


def flags_with_searches(db) -> set[int]:
    """Ids of the flags whose searches are stored (flags last written before kb kept them have none yet)."""
    return {row[0] for row in db.execute("SELECT DISTINCT flag_id FROM flag_searches")}


def counts(db, flag_id: int) -> dict[str, int]:
    """{outcome: searches} behind one flag."""
    return {o: int(n) for o, n in db.execute("SELECT outcome, COUNT(*) FROM flag_searches WHERE flag_id = ? "
                                              "GROUP BY outcome", [flag_id])}


def _where(flag_id: int, outcome: str | None, period: str | None) -> tuple[str, list]:
    where, params = "flag_id = ?", [flag_id]
    if outcome == "failed":
        where += " AND outcome != 'asked'"
    elif outcome:
        where += " AND outcome = ?"
        params.append(outcome)
    if period:
        where += " AND period = ?"
        params.append(period)
    return where, params


def searches(db, flag_id: int, outcome: str | None = None, period: str | None = None, page: int = 1,
             per_page: int = PAGE) -> tuple[int, list[dict]]:
    """(how many match, one page of them newest first): {query_id, ts, query, outcome, period}."""
    where, params = _where(flag_id, outcome, period)
    total = db.execute(f"SELECT COUNT(*) FROM flag_searches WHERE {where}", params).fetchone()[0]
    cursor = db.execute(f"SELECT query_id, ts, query, outcome, period FROM flag_searches WHERE {where} "
                        "ORDER BY ts DESC, id LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
    names = [d[0] for d in cursor.description]
    return int(total), [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
