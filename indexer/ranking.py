"""BM25F ranking over the Whoosh index's own postings, held in memory as sparse columns.

Why not let Whoosh score? Whoosh's matchers are pure Python: at 10,000 articles a three-word
help-center query touches ~3,000 postings per field and took ~300 ms (p50) to rank. Whoosh stays the
index of record (segments, stored fields, spelling, incremental updates, atomic commits); when a new
index version appears, this module reads its postings once (about a second at 10,000 articles) into
one compressed column per (field, term) holding precomputed BM25 weights, and a query becomes a few
numpy additions: well under a millisecond.
"""

from __future__ import annotations

import math
import re
from array import array

import numpy as np

from .schema import FIELD_BOOSTS

K1 = 1.2
B = 0.75
RANKED_FIELDS = (*FIELD_BOOSTS, "grams")
CHINESE_SHARE = 0.2  # an article whose body words are over a fifth Chinese is Chinese (code and English names make up the rest)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class FieldColumns:
    """For one field: term -> slice of (docnums, weights), like a CSC matrix built by hand.

    A term usually has postings in several Whoosh segments (a full build writes one segment per
    writer process; every incremental update adds one): ``add`` is called once per (segment, term)
    and the pieces are joined per term in ``finish``, so each column holds all of a term's postings.
    """

    __slots__ = ("starts", "docs", "weights", "_pieces")

    def __init__(self):
        self.starts: dict[str, tuple[int, int]] = {}
        self.docs = np.zeros(0, dtype=np.int32)
        self.weights = np.zeros(0, dtype=np.float32)
        self._pieces: dict[str, list[tuple[list[int], list[float]]]] = {}

    def add(self, term: str, docs, tfs) -> None:
        """Postings of a term in one segment (document numbers already offset to the whole index)."""
        self._pieces.setdefault(term, []).append((docs, tfs))

    def finish(self, lengths: np.ndarray, doc_count: int, avg_length: float, languages: bool = False) -> np.ndarray | None:
        """Turn posting weights into BM25 weights with Whoosh's statistics, so scores equal its BM25F.

        Whoosh counts deleted documents (still in their segment until a merge) in the document
        count, the document frequency and the average field length; so does this, on purpose: a
        ranking that can be checked against Whoosh's own scorer is worth more than the tiny
        difference deleted documents make until the next merge.

        languages=True also returns, per document, the share of its words (counted with repeats) in
        this field that are Chinese.
        """
        docs, tfs, starts = array("i"), array("f"), {}
        for term, pieces in self._pieces.items():
            start = len(docs)
            for piece_docs, piece_tfs in pieces:
                docs.extend(piece_docs)
                tfs.extend(piece_tfs)
            starts[term] = (start, len(docs))
        self._pieces = {}
        docs_np = np.frombuffer(docs, dtype=np.int32).copy()
        tf = np.frombuffer(tfs, dtype=np.float32).astype(np.float64)
        avg = avg_length if avg_length > 0 else 1.0
        norm = K1 * ((1 - B) + B * lengths[docs_np] / avg)
        weights = tf * (K1 + 1) / (tf + norm)
        for start, end in starts.values():
            weights[start:end] *= math.log(doc_count / (end - start + 1)) + 1  # Whoosh's idf
        self.starts = starts
        self.docs = docs_np
        self.weights = weights.astype(np.float32)
        if not languages:
            return None
        chinese = np.repeat(np.array([bool(_CJK.search(t)) for t in starts], dtype=bool),
                            [end - start for start, end in starts.values()])
        every = np.bincount(docs_np, weights=tf, minlength=doc_count)
        return np.bincount(docs_np[chinese], weights=tf[chinese], minlength=doc_count) / np.maximum(every, 1.0)

    def column(self, term: str):
        span = self.starts.get(term)
        if span is None:
            return None
        return self.docs[span[0] : span[1]], self.weights[span[0] : span[1]]

    def doc_frequency(self, term: str) -> int:
        """Documents whose postings hold the term, over every segment (deleted ones included)."""
        span = self.starts.get(term)
        return 0 if span is None else span[1] - span[0]


class Ranker:
    """Scores every document of one index version for a list of (term, boost) clauses."""

    def __init__(self, reader):
        self.doc_count_all = reader.doc_count_all()
        self.live = np.zeros(self.doc_count_all, dtype=bool)
        self.live[list(reader.all_doc_ids())] = True
        self.tiebreak = _slug_order(reader, self.doc_count_all)
        self.fields: dict[str, FieldColumns] = {}
        self.chinese = np.zeros(self.doc_count_all, dtype=bool)
        self._language_weights: dict[tuple[bool, float], np.ndarray] = {}
        for field in RANKED_FIELDS:
            columns = FieldColumns()
            lengths = np.ones(self.doc_count_all, dtype=np.float64)  # Whoosh's default length is 1
            for leaf, offset in reader.leaf_readers():
                for docnum in range(leaf.doc_count_all()):
                    lengths[offset + docnum] = leaf.doc_field_length(docnum, field, 1)
                for term, _ in leaf.iter_field(field):
                    docs, tfs = _postings(leaf, field, term)
                    if offset:
                        docs = [d + offset for d in docs]
                    columns.add(term.decode("utf-8") if isinstance(term, bytes) else term, docs, tfs)
            # Whoosh stores tf x field_boost as the posting weight, so the boost is already in.
            avg_length = reader.field_length(field) / (self.doc_count_all or 1)
            share = columns.finish(lengths, self.doc_count_all, avg_length, languages=field == "body")
            if share is not None:  # an article's language: its body's
                self.chinese = share > CHINESE_SHARE
            self.fields[field] = columns

    def scores(self, clauses: list[tuple[str, str, float]], body_weights: np.ndarray | None = None) -> np.ndarray:
        """BM25F score of every document for clauses of (field, term, boost); 0 where nothing matched.

        body_weights, one factor per document, scales what the body field adds to each document."""
        scores = np.zeros(self.doc_count_all, dtype=np.float32)
        body = np.zeros(self.doc_count_all, dtype=np.float32) if body_weights is not None else scores
        for field, term, boost in clauses:
            col = self.fields[field].column(term)
            if col is not None:  # a column lists each document once, so plain fancy-index += is safe
                (body if field == "body" else scores)[col[0]] += col[1] * boost
        if body_weights is not None:
            scores += body * body_weights
        scores[~self.live] = 0.0
        return scores

    def language_weights(self, chinese: bool, weight: float) -> np.ndarray:
        """A factor per document: weight for articles in the language (Chinese or not), 1 for the others."""
        key = (chinese, weight)
        found = self._language_weights.get(key)
        if found is None:
            found = np.where(self.chinese == chinese, weight, 1.0).astype(np.float32)
            self._language_weights[key] = found
        return found

    def top(self, scores: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[list[tuple[int, float]], int]:
        """The n best (docnum, score) pairs, best first, and how many documents matched at all.

        Ties are broken by slug, over all tied documents, so consecutive pages never repeat or skip
        a result, and two builds of the same docs (whose segments may hold the articles in another
        order) rank them identically.
        """
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        matched = np.flatnonzero(scores > 0)
        if not len(matched):
            return [], 0
        if len(matched) > n:
            # Everything scoring at least the n-th best score: ties at the cut stay together.
            kth = -np.partition(-scores[matched], n - 1)[n - 1]
            candidates = matched[scores[matched] >= kth]
        else:
            candidates = matched
        order = candidates[np.lexsort((self.tiebreak[candidates], -scores[candidates]))][:n]
        return [(int(d), float(scores[d])) for d in order], len(matched)


def _slug_order(reader, doc_count_all: int) -> np.ndarray:
    """Each document's position in slug order (the slug field's terms come sorted)."""
    order = np.full(doc_count_all, doc_count_all, dtype=np.int64)
    for rank, (slug, _) in enumerate(reader.iter_field("slug")):
        for docnum in reader.postings("slug", slug).all_ids():
            order[docnum] = rank
    return order


def _postings(leaf, field: str, term: str):
    """(docnums, term frequencies) of one term in one segment, read a block at a time."""
    m = leaf.postings(field, term)
    m = getattr(m, "child", m)  # unwrap the deleted-documents filter: Ranker masks deleted docs itself
    try:  # Whoosh 2.7's on-disk matcher: whole blocks of ids and weights (fast path)
        docs, tfs = [], []
        while True:
            if m._ids is None:
                m._read_ids()
            if m._weights is None:
                m._read_weights()
            docs.extend(m._ids)
            tfs.extend(m._weights)
            if m._lastblock:
                return docs, tfs
            m._next_block()
    except AttributeError:  # another matcher type: the public, slower way
        m = leaf.postings(field, term)
        docs, tfs = [], []
        while m.is_active():
            docs.append(m.id())
            tfs.append(m.weight())
            m.next()
        return docs, tfs
