"""Site build time and publish-to-live time at 10,000 articles (issue 12, "site updates in seconds").

    python tests/bench/site_build.py [--articles 10000] [--workers 2] [--rounds 3]

1. Generates the articles as tests/bench/benchmark.py does (starter sentences under new titles, 19
   modules, 3 tags each), plus the starter tags index; kb generates the home page.
2. Full site build (`build_site`, as `kb build` runs it) with --workers page-rendering processes.
3. Indexes the articles (`build_full`), starts the app (`create_app`, semantic search off: vectors are
   filled after publishing, off the path to live) and publishes --rounds VIP practices through the
   same Publisher the review page uses, then unpublishes one: publish-to-live is from the manager's
   approve until the background site update says live (index update + page rendering), checked by
   the published page being on disk.

Wall times depend on what else runs: the load average is printed with each figure, and so is the
CPU time of the build (on a quiet machine wall time is about CPU time / workers).
Prints the figures and writes them to tests/bench/results/site_build.txt.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from benchmark import generate_corpus  # noqa: E402
from indexer.site import build_site, site_dir  # noqa: E402

RESULTS = ROOT / "tests" / "bench" / "results" / "site_build.txt"


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process and of its finished children (the page-rendering workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def full_build(docs: Path, data: Path, workers: int) -> dict:
    shown = [0]

    def progress(done, total):
        if done - shown[0] >= total // 20 or done == total:
            shown[0] = done
            print(f"  site: {done}/{total} pages", flush=True)

    (own, children), started = cpu_seconds(), time.perf_counter()
    info = build_site(docs, data, workers=workers, progress=progress)
    own_after, children_after = cpu_seconds()
    # Without other load, the workers run side by side: the build takes the parent's CPU time (staging,
    # shared preparation, listing pages, search index) plus one worker's share.
    return {"seconds": time.perf_counter() - started, "parent": own_after - own, "workers": children_after - children,
            "pages": info["rendered"], "quiet": own_after - own + (children_after - children) / max(workers, 1)}


def publish_rounds(docs: Path, data: Path, rounds: int) -> list[tuple[str, float, float]]:
    from analytics import accounts
    from contrib import queue
    from indexer.build import build_full
    from kbserver import create_app
    from kbserver.db import open_db

    t = time.perf_counter()
    build_full(docs, data)
    print(f"  index: {time.perf_counter() - t:.1f}s", flush=True)
    app = create_app({"docs": docs, "data": data, "semantic_model": "off"})
    timings = []
    try:
        db = open_db(app.config["KB"]["database_url"])
        vip, _, _ = accounts.create_user(db, "bench-vip", "vip", hash_cost=1)
        manager, _, _ = accounts.create_user(db, "bench-manager", "manager", hash_cost=1)
        publisher, updater = app.extensions["kb_publisher"], app.extensions["kb_site_updater"]
        subs = []
        for i in range(rounds + 1):  # the first warms the process up (jieba, templates), as a running server is
            fields = {"title": f"跨部门采购审批的看板做法 {i}", "summary": "用看板泳道跟踪跨部门审批进度。",
                      "body": "## 做法\n\n1. 按部门建泳道\n2. 每周同步一次\n", "tags": ["看板", "审批"],
                      "module": "approvals", "organisation": "Bench 公司", "consent": True}
            sub, _ = queue.create(db, vip, fields, submit=True)
            cpu, started = time.process_time(), time.perf_counter()
            sub = publisher.approve_and_publish(db, sub["id"], manager)
            status = updater.wait(sub["site_ticket"], timeout=600)
            seconds = time.perf_counter() - started
            assert status["state"] == "live", status
            assert (site_dir(data) / "practices" / sub["slug"] / "index.html").is_file()
            subs.append(sub)
            if i:
                timings.append(("publish", seconds, time.process_time() - cpu))
                print(f"  publish {i}: {seconds:.2f}s to live ({load()})", flush=True)
        cpu, started = time.process_time(), time.perf_counter()
        sub = publisher.unpublish(db, subs[-1]["id"], manager)
        status = updater.wait(sub["site_ticket"], timeout=600)
        seconds = time.perf_counter() - started
        assert status["state"] == "live" and not (site_dir(data) / "practices" / sub["slug"] / "index.html").exists()
        timings.append(("unpublish", seconds, time.process_time() - cpu))
        print(f"  unpublish: {seconds:.2f}s to gone ({load()})", flush=True)
    finally:
        app.extensions["kb_events"].close()
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    lines = [f"site build and publish-to-live, {args.articles} generated articles, {os.cpu_count()} cores, "
             f"{args.workers} site workers ({time.strftime('%Y-%m-%d %H:%M')})"]
    with tempfile.TemporaryDirectory(prefix="kb-site-bench-") as tmp:
        work = Path(tmp)
        docs = work / "docs"
        generate_corpus(docs, args.articles)
        shutil.copy(ROOT / "docs" / "tags.md", docs / "tags.md")
        print(f"generated {args.articles} articles ({load()})", flush=True)
        before = load()
        full = full_build(docs, work / "data", args.workers)
        lines.append(f"full site build: {full['pages']} pages in {full['seconds']:.1f}s wall ({before} before, "
                     f"{load()} after); CPU {full['parent']:.1f}s in the main process + {full['workers']:.1f}s in "
                     f"{args.workers} workers, so {full['quiet']:.1f}s on {args.workers} otherwise idle cores")
        print(lines[-1], flush=True)
        timings = publish_rounds(docs, work / "data", args.rounds)
        walls = [s for kind, s, _ in timings if kind == "publish"]
        cpus = [c for kind, _, c in timings if kind == "publish"]
        lines.append(f"publish-to-live: median {statistics.median(walls):.2f}s, max {max(walls):.2f}s wall over "
                     f"{len(walls)} publications (CPU of the serving process {statistics.median(cpus):.2f}s median); "
                     f"unpublish-to-gone {timings[-1][1]:.2f}s ({load()})")
        print(lines[-1], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
