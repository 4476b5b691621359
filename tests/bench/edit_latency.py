"""How long after a manager presses 保存 the new text is searchable and on the article's page.

Runs the real app in-process (the JSON API a browser calls, a manager's token) over a copy of a docs folder
with a built index and site: the starter docs and the dev set's NocoBase corpus (392 articles). Each round
saves one article with a new made-up word, then measures the save's answer (it includes the incremental
re-index), whether /api/search finds the word right after, and when the article's built page holds it
(rendered in the background by the site updater, kb_refresh_site).

    python tests/bench/edit_latency.py [--rounds 5]

Writes tests/bench/results/edit_latency.txt.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from analytics import accounts  # noqa: E402
from devset import corpus_docs  # noqa: E402
from indexer.articles import find_sources, slug_for  # noqa: E402
from indexer.build import build_full  # noqa: E402
from indexer.site import build_site, site_dir  # noqa: E402
from kbserver import create_app  # noqa: E402
from kbserver.db import open_db  # noqa: E402

WORDS = ["紫藤校验单", "青鸾对账法", "白鹭同步器", "苍松归档表", "赤霞核对卡", "玄武导出单", "朱雀映射表", "麒麟补录法"]


def measure(name: str, docs_src: Path, rounds: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="kb-edit-bench-"))
    try:
        docs, data = work / "docs", work / "data"
        shutil.copytree(docs_src, docs)
        build_full(docs, data)
        started = time.perf_counter()
        build_site(docs, data)
        full_site = time.perf_counter() - started
        app = create_app({"docs": docs, "data": data, "semantic_model": "off", "password_hash_cost": 1})
        db = open_db(app.config["KB"]["database_url"])
        token = accounts.create_user(db, "bench", "manager", 1)[2]
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        slugs = [slug_for(p.relative_to(docs).as_posix()) for p in find_sources(docs)]
        slugs = [s for s in slugs if s != "index" and "/" in s][:rounds]
        saves, found, first, pages = [], 0, 0, []
        for slug, word in zip(slugs, WORDS, strict=False):
            article = client.get("/api/edit/article", query_string={"slug": slug}, headers=headers).get_json()
            t0 = time.perf_counter()
            r = client.post("/api/edit/save", headers=headers, json={
                "slug": slug, "fields": article["fields"], "body": article["body"] + f"\n\n{word}的用法见上文。\n",
                "base_hash": article["hash"], "message": "bench"})
            assert r.status_code == 200, r.get_json()
            saves.append(time.perf_counter() - t0)
            results = client.get("/api/search", query_string={"q": word}).get_json()["results"]
            found += slug in [x["slug"] for x in results]
            first += bool(results) and results[0]["slug"] == slug
            page_path = None
            while time.perf_counter() - t0 < 120:
                root = site_dir(data)
                page_path = root / slug / "index.html" if root else None
                if page_path and page_path.is_file() and word in page_path.read_text(encoding="utf-8"):
                    pages.append(time.perf_counter() - t0)
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # let the background build finish before the next round
        app.extensions["kb_events"].close()
        return {"corpus": name, "articles": len(find_sources(docs)), "rounds": len(saves),
                "save_median_s": statistics.median(saves), "save_max_s": max(saves),
                "searchable_right_after_save": f"{found}/{len(saves)}", "first": f"{first}/{len(saves)}",
                "page_median_s": statistics.median(pages) if pages else None,
                "page_max_s": max(pages) if pages else None, "full_site_build_s": full_site}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [measure("starter docs", ROOT / "docs", args.rounds)]
    nocobase = corpus_docs("nocobase-zh")
    if nocobase.is_dir():
        rows.append(measure("nocobase-zh (dev set)", nocobase, args.rounds))
    lines = [f"edit latency, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} saves per corpus, "
             "in-process app, semantic stage off, pages through the background site updater"]
    for r in rows:
        lines.append(f"{r['corpus']} ({r['articles']} articles): save answered (incl. re-index) median "
                     f"{r['save_median_s']:.2f} s, max {r['save_max_s']:.2f} s; found by search right after the save (top 10): "
                     f"{r['searchable_right_after_save']} (first: {r['first']}); page updated median "
                     f"{r['page_median_s']:.1f} s, max "
                     f"{r['page_max_s']:.1f} s (a full site build takes {r['full_site_build_s']:.1f} s)")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = ROOT / "tests" / "bench" / "results" / "edit_latency.txt"
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
