"""The only writer of the search index: full builds (atomic swap) and incremental updates.

Layout inside the data folder::

    indexes/<name>/      Whoosh index directories (the current one and the one before it)
    index.current        JSON pointer {"dir": name, "generation": n, "version": "name:n"}: the index
                         readers must use (replaced atomically with os.replace)
    kb-manifest.json     inside each index directory: {slug: content hash} of what it holds

A full build writes a brand-new directory and then replaces ``index.current`` with os.replace, so a
running server sees either the old index or the new one, never half of one. An incremental update
writes a new Whoosh segment generation into the current directory (Whoosh commits are atomic) and
then bumps the pointer's generation, which is what result caches key on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index

from .articles import Article, load_articles, slug_for
from .errors import ArticleError, IndexMissing
from .i18n import N_, gettext
from .schema import article_fields, article_schema

POINTER = "index.current"
INDEXES = "indexes"
# Whoosh analyzes in this many processes on a full build (jieba and Porter stemming are CPU-bound);
# each writes its own segment, which the ranker and searchers read as one index.
WRITER_PROCS = max(1, min(2, os.cpu_count() or 1))
MANIFEST = "kb-manifest.json"  # {slug: content_hash} of what the index holds, beside Whoosh's files


@dataclass
class IndexReport:
    """What a build or update did, for the CLI to print and tests to check."""

    mode: str  # "full" or "incremental"
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[ArticleError] = field(default_factory=list)
    seconds: float = 0.0
    version: str = ""

    def summary(self) -> str:
        """One line a person reads: what changed and how long it took."""
        counts = {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed),
                  "unchanged": self.unchanged, "seconds": f"{self.seconds:.2f}"}
        if self.mode == "full":
            return gettext(N_("完整索引：新增 %(added)s 篇，修改 %(changed)s 篇，删除 %(removed)s 篇，未变 %(unchanged)s 篇，"
                              "用时 %(seconds)s 秒"), **counts)
        return gettext(N_("增量索引：新增 %(added)s 篇，修改 %(changed)s 篇，删除 %(removed)s 篇，未变 %(unchanged)s 篇，"
                          "用时 %(seconds)s 秒"), **counts)


def read_pointer(data_dir: Path) -> dict | None:
    """The current index pointer, or None before the first build."""
    try:
        return json.loads((Path(data_dir) / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, or half-written by a crashed older version
        return None


def _write_pointer(data_dir: Path, dirname: str, generation: int) -> str:
    tmp = Path(data_dir) / (POINTER + ".tmp")
    version = f"{dirname}:{generation}"
    tmp.write_text(json.dumps({"dir": dirname, "generation": generation, "version": version}), encoding="utf-8")
    os.replace(tmp, Path(data_dir) / POINTER)
    return version


def current_index_dir(data_dir: Path) -> Path:
    """The directory of the index readers use; IndexMissing if there is none yet."""
    pointer = read_pointer(data_dir)
    if not pointer:
        raise IndexMissing(N_("%(data)s 中还没有搜索索引：请先运行 `kb build`（或 `kb index`）"), data=str(data_dir))
    return index_dir_for(data_dir, pointer)


def index_dir_for(data_dir: Path, pointer: dict) -> Path:
    """The directory a pointer names; IndexMissing if it is gone."""
    path = Path(data_dir) / INDEXES / pointer["dir"]
    if not path.is_dir():
        raise IndexMissing(N_("索引目录 %(path)s 不见了：请运行 `kb index --full` 重建索引"), path=str(path))
    return path


def _add_all(writer, articles: list[Article], progress) -> None:
    for i, article in enumerate(articles, 1):
        writer.add_document(**article_fields(article))
        if progress:
            progress(i, len(articles))


def build_full(docs_dir: Path, data_dir: Path, progress=None, on_problem=None) -> IndexReport:
    """Index every article into a new directory, then switch readers to it atomically."""
    started = time.perf_counter()
    report = IndexReport(mode="full")
    articles = load_articles(docs_dir, on_problem=_collect(report, on_problem))
    data_dir = Path(data_dir)
    root = data_dir / INDEXES
    root.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.perf_counter_ns() % 100000}"
    building = root / (name + ".building")
    building.mkdir()
    try:
        ix = whoosh_index.create_in(str(building), article_schema())
        writer = ix.writer(limitmb=256, procs=WRITER_PROCS, multisegment=WRITER_PROCS > 1)
        _add_all(writer, articles, progress)
        writer.commit()
        generation = ix.latest_generation()
        ix.close()
        _write_manifest(building, {a.slug: a.content_hash for a in articles})
        os.replace(building, root / name)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    previous = read_pointer(data_dir)
    report.version = _write_pointer(data_dir, name, generation)
    _prune_old_indexes(root, keep={name, previous["dir"] if previous else name})
    report.added = [a.slug for a in articles]
    report.seconds = time.perf_counter() - started
    return report


def update_incremental(docs_dir: Path, data_dir: Path, progress=None, on_problem=None) -> IndexReport:
    """Touch only added, changed or removed articles (by content hash); full build if there is no index."""
    if not read_pointer(data_dir):
        return build_full(docs_dir, data_dir, progress=progress, on_problem=on_problem)
    started = time.perf_counter()
    report = IndexReport(mode="incremental")
    index_dir = current_index_dir(data_dir)
    indexed = _read_manifest(index_dir)
    articles = load_articles(docs_dir, on_problem=_collect(report, on_problem), known=indexed)
    ix = whoosh_index.open_dir(str(index_dir))
    current = {a.slug: a for a in articles}
    report.removed = sorted(set(indexed) - set(current))
    to_write = []
    for article in articles:
        if article.slug not in indexed:
            report.added.append(article.slug)
            to_write.append(article)
        elif indexed[article.slug] != article.content_hash:
            report.changed.append(article.slug)
            to_write.append(article)
        else:
            report.unchanged += 1
    # Files that failed to parse keep their last good version in the index rather than vanishing.
    broken = {slug_for(p.path) for p in report.problems if p.path}
    report.removed = [s for s in report.removed if s not in broken]
    if to_write or report.removed:
        writer = ix.writer(limitmb=128)
        for slug in report.removed:
            writer.delete_by_term("slug", slug)
        for i, article in enumerate(to_write, 1):
            writer.update_document(**article_fields(article))
            if progress:
                progress(i, len(to_write))
        writer.commit()
        manifest = {slug: h for slug, h in indexed.items() if slug not in report.removed}
        manifest.update({a.slug: a.content_hash for a in to_write})
        _write_manifest(index_dir, manifest)
        report.version = _write_pointer(data_dir, index_dir.name, ix.latest_generation())
    else:
        report.version = read_pointer(data_dir)["version"]
    ix.close()
    report.seconds = time.perf_counter() - started
    return report


def index_manifest(data_dir: Path) -> dict[str, str]:
    """{slug: content hash} of what the current index holds."""
    return _read_manifest(current_index_dir(data_dir))


def _read_manifest(index_dir: Path) -> dict[str, str]:
    try:
        return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:  # an index from before manifests: read the hashes Whoosh stores
        ix = whoosh_index.open_dir(str(index_dir))
        with ix.searcher() as searcher:
            return {doc["slug"]: doc.get("content_hash") for doc in searcher.all_stored_fields()}


def _write_manifest(index_dir: Path, manifest: dict[str, str]) -> None:
    tmp = index_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, index_dir / MANIFEST)


def _collect(report: IndexReport, on_problem):
    def collect(exc: ArticleError) -> None:
        report.problems.append(exc)
        if on_problem:
            on_problem(exc)

    return collect


def _prune_old_indexes(root: Path, keep: set[str]) -> None:
    # Keep the previous index too: a server may still hold a searcher on it for one more request.
    for path in root.iterdir():
        if path.name not in keep and not path.name.endswith(".building"):
            shutil.rmtree(path, ignore_errors=True)
