"""Passage vectors of one index version in memory, searched by meaning; and the job that embeds them.

Search side (``DenseIndex``, one per snapshot): every passage vector of the version's live articles
as one float32 matrix, grouped by article, plus one article vector each (the normalized mean of its
passages). A query is answered in two stages so that 10,000 articles (~50,000 passages, 100 MB in
float32) stay within a few milliseconds: the article vectors pick the ``FIRST_STAGE`` most similar
articles, those and the lexical stage's candidates are re-scored by their best passage. Brute force
over every passage costs ~20 ms per query at that size (memory bound); an approximate-neighbour
library would add a second index to keep in step with Whoosh's segments for a gain we do not need.

Write side (``fill_vectors``): embeds the passages of the articles whose content hash has no vectors
yet, a few articles per transaction, so a running server sees the vectors appear while the job runs
and an interrupted job loses at most one batch. Search never waits for it: articles without vectors
are found by keywords only until theirs arrive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index

from .i18n import N_, gettext
from .passages import Passage
from .vectors import VectorStore, vector_key

FIRST_STAGE = 300  # articles re-scored by their passages, besides the lexical candidates
# An article's similarity: its best passage, plus this share of its article vector's similarity, so
# an article about the query throughout outranks one with a single close sentence (dev set: +0.01).
ARTICLE_SHARE = 0.3
# ... plus this share of its title's similarity: a title says what the article is for in a few words,
# which carries a short query across languages best (dev set: cross-lingual MRR 0.55 → 0.66 on zh).
TITLE_SHARE = 0.5
REFRESH_SECONDS = 3.0  # how often a snapshot looks for vectors added since it loaded
BATCH_PASSAGES = 64  # passages per model call while filling


class DenseIndex:
    """The vectors of one index version: built on first use, topped up as the fill job adds more."""

    def __init__(self, reader, model: str, store: VectorStore):
        self.model = model
        self.store = store
        # docnum -> vector key for live documents (from the stored content hash)
        self.keys: dict[int, str] = {}
        for docnum in reader.all_doc_ids():
            fields = reader.stored_fields(docnum)
            if fields.get("content_hash"):
                self.keys[docnum] = vector_key(model, fields["content_hash"])
        self._state = _Arrays.empty()
        self._lock = threading.Lock()
        self._checked = 0.0
        self.refresh(force=True)

    @property
    def coverage(self) -> tuple[int, int]:
        """(articles with vectors, live articles)."""
        return len(self._state.docnums), len(self.keys)

    @property
    def generation(self) -> int:
        """Changes whenever vectors are added; result caches key on it."""
        return len(self._state.docnums)

    def refresh(self, force: bool = False) -> None:
        """Load vectors the fill job stored since the last look (at most every REFRESH_SECONDS)."""
        state = self._state
        if len(state.docnums) == len(self.keys):
            return
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_SECONDS:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is loading them; use what is there
        try:
            self._checked = now
            loaded = set(state.docnums.tolist())
            wanted = {d: k for d, k in self.keys.items() if d not in loaded}
            found = self.store.get_many(sorted(set(wanted.values())))
            new = [(d, found[k]) for d, k in sorted(wanted.items()) if k in found]
            if new:
                self._state = state.extended(new)
        finally:
            self._lock.release()

    def has_vectors(self, docnums: np.ndarray) -> np.ndarray:
        """For each docnum, whether its vectors are loaded."""
        return self._state.row_of_doc(docnums) >= 0

    def best_passages(self, query_vector: np.ndarray, docnums: list[int]) -> dict[int, float]:
        """{docnum: cosine of its passage most similar to the query}, for the docnums that have vectors."""
        self.refresh()
        state = self._state
        out = {}
        if not len(state.docnums) or not docnums:
            return out
        rows = state.row_of_doc(np.asarray(docnums, dtype=np.int64))
        for docnum, row in zip(docnums, rows, strict=True):
            if row >= 0:
                out[int(docnum)] = float((state.passages[state.starts[row]:state.starts[row + 1]] @ query_vector).max())
        return out

    def search(self, query_vector: np.ndarray, extra: np.ndarray | None = None, first_stage: int = FIRST_STAGE):
        """{docnum: (similarity, best passage number)} for the most similar articles and ``extra``."""
        self.refresh()
        state = self._state
        if not len(state.docnums):
            return {}
        article_sims = state.articles @ query_vector
        title_sims = state.titles @ query_vector
        first = article_sims + TITLE_SHARE * title_sims
        k = min(first_stage, len(first))
        picked = np.argpartition(-first, k - 1)[:k] if k < len(first) else np.arange(len(first))
        if extra is not None and len(extra):
            rows = state.row_of_doc(extra)
            picked = np.union1d(picked, rows[rows >= 0])
        out = {}
        for row in picked:
            start, end = state.starts[row], state.starts[row + 1]
            sims = state.passages[start:end] @ query_vector
            best = int(np.argmax(sims))
            score = float(sims[best]) + ARTICLE_SHARE * float(article_sims[row]) + TITLE_SHARE * float(title_sims[row])
            out[int(state.docnums[row])] = (score, best)
        return out

    def passage_similarities(self, query_vector: np.ndarray, docnum: int) -> np.ndarray | None:
        """The query's similarity to each passage of one article (page order), or None without vectors."""
        state = self._state
        row = int(state.row_of_doc(np.array([docnum]))[0])
        if row < 0:
            return None
        return state.passages[state.starts[row] : state.starts[row + 1]] @ query_vector


@dataclass(frozen=True)
class _Arrays:
    """Immutable arrays swapped as a whole, so readers never see half an update."""

    docnums: np.ndarray  # article row -> docnum
    starts: np.ndarray  # article row -> first passage row (len = articles + 1)
    passages: np.ndarray  # passage rows x dim
    articles: np.ndarray  # article rows x dim (normalized mean of its passages)
    titles: np.ndarray  # article rows x dim (its title alone)
    lookup: np.ndarray  # docnum -> article row, -1 when it has none

    @staticmethod
    def empty() -> _Arrays:
        z = np.zeros((0, 1), dtype=np.float32)
        return _Arrays(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), z, z, z, np.zeros(0, dtype=np.int64))

    def extended(self, new: list[tuple[int, np.ndarray]]) -> _Arrays:
        """These arrays plus new articles' matrices (row 0 the title, then the passages)."""
        dim = new[0][1].shape[1]
        docnums = np.concatenate([self.docnums, np.array([d for d, _ in new], dtype=np.int64)])
        counts = np.array([m.shape[0] - 1 for _, m in new], dtype=np.int64)
        starts = np.concatenate([self.starts, self.starts[-1] + np.cumsum(counts)])
        empty = np.zeros((0, dim), dtype=np.float32)
        old = (self.passages, self.articles, self.titles) if len(self.docnums) else (empty, empty, empty)
        passages = np.concatenate([old[0], *[m[1:] for _, m in new]]).astype(np.float32, copy=False)
        means = np.stack([m[1:].mean(axis=0) for _, m in new])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
        articles = np.concatenate([old[1], means.astype(np.float32)])
        titles = np.concatenate([old[2], np.stack([m[0] for _, m in new]).astype(np.float32)])
        lookup = np.full(int(docnums.max()) + 1, -1, dtype=np.int64)
        lookup[docnums] = np.arange(len(docnums))
        return _Arrays(docnums, starts, passages, articles, titles, lookup)

    def row_of_doc(self, docnums: np.ndarray) -> np.ndarray:
        docnums = np.asarray(docnums, dtype=np.int64)
        rows = np.full(len(docnums), -1, dtype=np.int64)
        inside = docnums < len(self.lookup)
        rows[inside] = self.lookup[docnums[inside]]
        return rows


@dataclass
class FillReport:
    """What an embedding run did."""

    articles: int = 0  # articles embedded now
    passages: int = 0
    cached: int = 0  # articles whose vectors were already there
    seconds: float = 0.0

    def summary(self) -> str:
        """One line a person reads after `kb build`/`kb index`: what was embedded and how long it took."""
        return gettext(N_("向量：为 %(articles)s 篇文章生成了向量（%(passages)s 个段落），沿用 %(cached)s 篇已有的，"
                          "用时 %(seconds)s 秒"), articles=self.articles, passages=self.passages, cached=self.cached,
                       seconds=f"{self.seconds:.1f}")


def fill_vectors(index_dir: Path, store: VectorStore, encoder, progress=None, should_stop=None) -> FillReport:
    """Embed every live article of the index whose vectors are missing; progress(done, total) as it goes."""
    started = time.perf_counter()
    report = FillReport()
    ix = whoosh_index.open_dir(str(index_dir))
    try:
        with ix.searcher() as searcher:
            reader = searcher.reader()
            todo: dict[str, int] = {}
            live = 0
            for docnum in reader.all_doc_ids():
                content_hash = reader.stored_fields(docnum).get("content_hash")
                if content_hash:
                    live += 1
                    todo.setdefault(vector_key(encoder.name, content_hash), docnum)
            missing = store.missing(list(todo))
            report.cached = live - len(missing)
            batch_texts: list[str] = []
            batch_owners: list[tuple[str, int]] = []  # (key, passage count)

            def flush():
                nonlocal batch_texts, batch_owners
                if not batch_texts:
                    return
                vectors = encoder.passages(batch_texts)
                items, at = {}, 0
                for key, count in batch_owners:
                    items[key] = vectors[at : at + count]
                    at += count
                store.put_many(items)
                batch_texts, batch_owners = [], []

            for key in missing:
                if should_stop and should_stop():
                    break
                stored = reader.stored_fields(todo[key])
                texts = passage_texts(stored)
                batch_texts += texts
                batch_owners.append((key, len(texts)))
                report.articles += 1
                report.passages += len(texts) - 1  # the first is the title
                if len(batch_texts) >= BATCH_PASSAGES:
                    flush()
                    if progress:
                        progress(report.articles, len(missing))
            flush()
            if progress and missing:
                progress(report.articles, len(missing))
    finally:
        ix.close()
    report.seconds = time.perf_counter() - started
    return report


def passage_texts(stored: dict) -> list[str]:
    """What the model reads for a stored article: its title alone, then each passage (title, heading, text)."""
    title = stored.get("title") or ""
    return [title] + ([p.embedding_text(title) for p in stored_passages(stored)] or [title])


def stored_passages(stored: dict) -> list[Passage]:
    """The passages an article was indexed with (stored beside it in the index)."""
    return [Passage(*row) for row in json.loads(stored.get("passages") or "[]")]


class VectorFiller:
    """Background thread of `kb serve`: embeds whatever the current index version lacks, then waits.

    It looks at the index pointer every ``poll`` seconds, so a `kb index`, a published practice or
    an edited article gets its vectors within seconds, and a full build of 10,000 articles fills in
    while search already answers by keywords. Progress is readable for /api/health.
    """

    def __init__(self, data_dir: Path, semantic, poll: float = 2.0):
        self.data_dir = Path(data_dir)
        self.semantic = semantic
        self.poll = poll
        self.done = 0
        self.total = 0
        self.error = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._filled_version = None

    def start(self) -> VectorFiller:
        self._thread = threading.Thread(target=self._loop, name="kb-vectors", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the index now (after a publish or an edit) instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict:
        return {"filling": self.total > 0 and self.done < self.total, "done": self.done, "total": self.total,
                **({"error": self.error} if self.error else {})}

    def _loop(self) -> None:
        from .build import current_index_dir, read_pointer
        from .errors import IndexMissing

        store = None
        while not self._stop.is_set():
            try:
                pointer = read_pointer(self.data_dir)
                encoder = self.semantic.get()
                if pointer and encoder is not None and pointer["version"] != self._filled_version:
                    store = store or VectorStore(self.data_dir)
                    self.done, self.total = 0, 0
                    fill_vectors(current_index_dir(self.data_dir), store, encoder, progress=self._progress,
                                 should_stop=self._stop.is_set)
                    if not self._stop.is_set():
                        self._filled_version = pointer["version"]
                    self.error = ""
            except IndexMissing:
                pass
            except Exception as exc:  # a failed run must not stop the next one, nor search
                self.error = f"{type(exc).__name__}: {exc}"
                logging.getLogger("kb.semantic").exception("embedding passages failed; retrying at the next change")
                pointer = read_pointer(self.data_dir)
                self._filled_version = pointer["version"] if pointer else None  # not again for this version
            self._wake.wait(self.poll)
            self._wake.clear()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
