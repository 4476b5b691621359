"""The only reader of the search index: turn what a customer typed into ranked, highlighted results.

User text never goes through Whoosh's query parser, so `"unbalanced`, `AND OR`, `title:` or `*` are
just words here, never a syntax error. Results are cached per (index version, normalized query,
filters, page); the version is read from the index pointer on every search, so a cached answer from
an older index is never served.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from whoosh import query as Q
from whoosh.lang.porter import stem as porter_stem

from .analysis import bigrams, expand_learned, expand_synonyms, has_cjk, mixed_analyzer, normalize
from .answers import analyzed_blocks, block_texts, find_answer
from .dense import stored_passages
from .errors import InvalidInput, NotFound
from .i18n import N_
from .longtext import LEXICAL_WEIGHT as LONG_LEXICAL_WEIGHT
from .longtext import synonym_terms, ticket_vector, vector_text, weighted_terms
from .schema import SEARCH_FIELDS
from .semantic import ModelState, model_state
from .snapshot import Snapshot, Snapshots

MAX_QUERY_CHARS = 500
MAX_LIMIT = 50
MAX_PAGE = 100
# Shown in both languages by the empty-query error: a customer's query is data, not interface.
EXAMPLE_QUERY = "如何导入Excel数据"
SYNONYM_WEIGHT = 0.6
CORRECTION_WEIGHT = 0.9
SNIPPET_CHARS = 160
# Fusion of the two stages, chosen on the third-party dev set (tests/bench/thirdparty.py): the
# lexical score (scaled so the best keyword match is 1) weighs between LEXICAL_WEIGHT and
# LEXICAL_WEIGHT_FULL, by how many of the query's words that best match holds (an English query on
# Chinese docs matches few: meaning decides), the semantic similarity the rest. Rank fusion (RRF) was
# 0.02-0.04 nDCG worse on every corpus. An article the keywords did not find enters only among the query's
# MEANING_TOP most similar articles and above MEANING_FLOOR, so a vague query is not padded with
# everything the model finds faintly related.
LEXICAL_WEIGHT = 0.1  # the lexical weight when the best keyword match holds none of the query words
LEXICAL_WEIGHT_FULL = 0.5  # ... and when it holds every one (squared share in between)
# ... but at least CHINESE_LEXICAL_WEIGHT for a Chinese query whose best keyword match is a Chinese
# article: the model understands Chinese less well than English (a colloquial Chinese query's words
# match the right article's body where its vector does not), so there the keywords keep more say.
# nocobase-zh nDCG@10 0.820 -> 0.840 with CHINESE_BODY_WEIGHT; English queries and Chinese queries on
# English articles (cross-lingual: meaning decides) are untouched (tests/bench/thirdparty_cv.py).
CHINESE_LEXICAL_WEIGHT = 0.3
MEANING_TOP = 10
# A Chinese query counts a Chinese article's body CHINESE_BODY_WEIGHT times (title and the other fields
# as before). Chinese titles are short noun phrases (自定义品牌) while customers describe the task in
# everyday words that only the body uses (登录页面的底部); with the body at 1 the ranker trailed plain
# BM25 over the whole text on colloquial and symptom queries. Chosen on the third-party dev set with
# two-fold cross-validation (tests/bench/thirdparty_cv.py): nocobase-zh nDCG@10 0.797 -> 0.820; English
# queries and English articles are untouched (the same weight for them helped plane-en but cost the
# starter docs' English queries on a mixed-language help center), and so is a Chinese query's match in an
# English article (plane-en's Chinese queries lost with it).
CHINESE_BODY_WEIGHT = 4.0
MEANING_FLOOR = 0.3
AGENT_LINK_REASON = "agents sent this article for similar tickets"
LEXICAL_CANDIDATES = 100  # best keyword matches whose passages are always compared with the query
# "No good match" (issue 10): the best result is weak when it holds less than WEAK_WORDS of the query's
# words *and* its fused score is below WEAK_SCORE (keywords-only search: when it holds none of them).
# Chosen on the third-party dev set's answerable queries and our unanswerable ones
# (tests/bench/weak_match.py, tests/data/unanswerable.yml).
WEAK_WORDS = 0.5
WEAK_SCORE = 0.45

_LATIN = re.compile(r"^[a-z0-9][a-z0-9_\-\.]*$")
_CJK_WORDS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,6}")  # Chinese runs short enough to be one typo
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


class QueryTerms:
    """A query analyzed once: index terms, synonym terms, bigrams and the words to highlight."""

    def __init__(self, normalized: str, learned: tuple[tuple[str, str], ...] = ()):
        analyzer = mixed_analyzer()
        self.normalized = normalized
        self.tokens: list[tuple[str, str]] = []  # (index term, surface word)
        self.spans: list[tuple[int, int]] = []  # where each surface word stands in the query
        seen = set()
        for t in analyzer(normalized, mode="query", keeporiginal=True, chars=True):
            surface = normalized[t.startchar : t.endchar]
            if t.text not in seen:
                seen.add(t.text)
                self.tokens.append((t.text, surface))
                self.spans.append((t.startchar, t.endchar))
        self.synonyms: list[str] = []
        for phrase in expand_synonyms(normalized) + expand_learned(normalized, learned):
            for t in analyzer(phrase, mode="query"):
                if t.text not in seen and not (len(t.text) == 1 and has_cjk(t.text)):  # 图 alone means nothing
                    seen.add(t.text)
                    self.synonyms.append(t.text)
        self.corrections: list[str] = []
        self.correction_words: list[str] = []
        token_words = {s for _, s in self.tokens}
        self.grams = [g for g, _, _ in bigrams(normalized) if g not in token_words]

    @property
    def empty(self) -> bool:
        return not (self.tokens or self.synonyms or self.grams or self.corrections)

    def add_correction(self, corrected_query: str) -> None:
        """Also search the words of a spelling-corrected version of the query, and their synonyms."""
        analyzer = mixed_analyzer()
        known = {t for t, _ in self.tokens} | set(self.synonyms)
        for t in analyzer(corrected_query, mode="query", chars=True):
            if t.text not in known:
                known.add(t.text)
                self.corrections.append(t.text)
                self.correction_words.append(corrected_query[t.startchar : t.endchar])
        for phrase in expand_synonyms(corrected_query):
            for t in analyzer(phrase, mode="query"):
                if t.text not in known:
                    known.add(t.text)
                    self.synonyms.append(t.text)

    def highlight_words(self) -> list[tuple[str, bool]]:
        """(word, is_latin) pairs to mark in snippets; Latin words match words of the same stem.

        A single Chinese character that jieba cut out of a longer run (成 in 导出成表格) is not a query
        word: marking it everywhere lit up every 成 of the text. The whole run is marked instead where it
        occurs; a character the customer typed on its own (成 表格) is still a word."""
        words, runs = [], set()
        typed_alone = {w for w in self.normalized.split() if len(w) == 1}
        for term, surface in self.tokens:
            if _LATIN.match(surface):
                words.append((term if len(term) >= 3 else surface, True))
            elif len(surface) == 1 and has_cjk(surface) and surface not in typed_alone:
                runs.update(m.group() for m in _CJK_RUN.finditer(self.normalized) if surface in m.group())
            else:
                words.append((surface, False))
        words += [(run, False) for run in sorted(runs) if len(run) > 1]
        words += [(w, bool(_LATIN.match(w))) for w in self.correction_words]
        return words

    def clauses(self) -> list[tuple[str, str, float]]:
        """(field, term, boost) for the ranker: any word in any field; synonyms and corrections weigh less."""
        clauses = [(f, term, 1.0) for term, _ in self.tokens for f in SEARCH_FIELDS]
        clauses += [(f, term, SYNONYM_WEIGHT) for term in self.synonyms for f in SEARCH_FIELDS]
        clauses += [(f, term, CORRECTION_WEIGHT) for term in self.corrections for f in SEARCH_FIELDS]
        clauses += [("grams", g, 1.0) for g in self.grams]
        return clauses


def make_snippet(text: str, words: list[tuple[str, bool]], width: int = SNIPPET_CHARS) -> str:
    """The passage of text with the most query words, HTML-escaped, with <mark> around each match."""
    if not text:
        return ""
    patterns, stems = [], set()
    for word, latin in sorted(words, key=lambda w: -len(w[0])):
        patterns.append(r"\b" + re.escape(word) + r"\w*" if latin else re.escape(word))
        if latin and word.isalpha():
            stems.update((word.lower(), porter_stem(word.lower())))
    spans = []
    if patterns:
        # A Latin match counts only as a word of the query's stem: `app` marks app and apps, not Apple.
        spans = [m.span() for m in re.finditer("|".join(patterns), text, re.I)
                 if not (m.group().isascii() and m.group().isalpha()) or not stems
                 or m.group().lower() in stems or porter_stem(m.group().lower()) in stems]
    start = 0
    if spans:
        # Sliding window over match starts (sorted): the window of `width` characters with the most matches.
        best, best_count, j = spans[0][0], 0, 0
        for i, (s, _) in enumerate(spans):
            j = max(j, i)
            while j + 1 < len(spans) and spans[j + 1][0] < s + width:
                j += 1
            if j - i + 1 > best_count:
                best, best_count = s, j - i + 1
        start = max(0, best - width // 5)
    end = min(len(text), start + width)
    out, pos = [], start
    for s, e in spans:
        if s < start or e > end or s < pos:
            continue
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    snippet = "".join(out).replace("\n", " ")
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.data: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value):
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class ArticleIndex:
    """Read access to the current index in a data folder, safe to share between threads."""

    def __init__(self, data_dir: Path, cache_size: int = 4096, semantic: str | ModelState = "use"):
        self.data_dir = Path(data_dir)
        self.cache = _LRU(cache_size) if cache_size else None
        self.semantic = semantic if isinstance(semantic, ModelState) else model_state(semantic)
        self.snapshots = Snapshots(self.data_dir, self.semantic)
        self.query_vectors = _LRU(max(cache_size, 256))
        self.block_vectors = _LRU(512)  # articles whose blocks the answer box embedded (~100 KB each at most)
        self.block_terms = _LRU(2048)  # ... and whose blocks' words it analyzed
        self.learned: tuple[tuple[str, str], ...] = ()  # approved (customer word, article word) pairs

    def set_learned_synonyms(self, pairs) -> None:
        """Use these approved (customer word, article word) pairs from the next search on.

        The pairs are part of the result cache's key, so no answer computed without them is served."""
        self.learned = tuple(sorted((normalize(a), normalize(b)) for a, b in pairs if normalize(a) and normalize(b)))

    def version(self) -> str:
        """The version readers must use now (changes on every build or incremental update)."""
        return self.snapshots.pointer()["version"]

    def warm(self) -> None:
        """Load the current version (its postings) and the segmenter now rather than on the first search."""
        snap = self.snapshots.current()
        QueryTerms(normalize("预热 warm up"))
        if snap.dense is not None:
            self._query_vector("预热 warm up")

    def semantic_status(self) -> dict:
        """Whether meaning-based search is on, and how many articles have vectors yet."""
        encoder = self.semantic.get()
        status = {"model": self.semantic.name, "available": encoder is not None}
        if encoder is None:
            status["reason"] = self.semantic.reason
            return status
        snap = self.snapshots.current()
        if snap.dense is not None:
            snap.dense.refresh()
            done, total = snap.dense.coverage
            status.update(articles_with_vectors=done, articles=total, complete=done >= total)
        return status

    def embed(self, texts: list[str]):
        """Meaning vectors of short texts (queries), one row each, or None when semantic search is off.

        Analytics clusters failing queries with them: the multilingual model groups paraphrases and
        languages that share no word ("暗黑模式" ~ "dark mode")."""
        vectors = [self._query_vector(normalize(t) or t) for t in texts]
        if not vectors or any(v is None for v in vectors):
            return None
        return np.vstack(vectors)

    def _query_vector(self, normalized: str):
        encoder = self.semantic.get()
        if encoder is None:
            return None
        vector = self.query_vectors.get(normalized)
        if vector is None:
            vector = encoder.query(normalized)
            self.query_vectors.put(normalized, vector)
        return vector

    def _block_vectors(self, snap: Snapshot):
        """block_vectors(docnum, blocks) for the answer box: one article's blocks embedded, cached by content."""
        encoder = self.semantic.get()
        if encoder is None or snap.dense is None:
            return None

        def vectors(docnum: int, blocks) -> np.ndarray:
            stored = snap.stored(docnum)
            key = (encoder.name, stored.get("content_hash"), stored.get("slug"))
            found = self.block_vectors.get(key)
            if found is None:
                found = encoder.passages(block_texts(stored))
                self.block_vectors.put(key, found)
            return found

        return vectors

    def _block_terms(self, stored: dict):
        """The analyzed words of an article's blocks for the answer box, cached by content (jieba is the cost)."""
        key = (stored.get("content_hash"), stored.get("slug"))
        found = self.block_terms.get(key)
        if found is None:
            found = analyzed_blocks(stored)
            self.block_terms.put(key, found)
        return found

    # -- articles ----------------------------------------------------------------------
    def article(self, slug: str) -> dict:
        """Stored fields of one article; NotFound if the slug is not indexed."""
        fields = self.snapshots.current().document(slug=slug)
        if fields is None:
            raise NotFound(N_("没有地址为 %(slug)r 的文章"), slug=slug)
        return fields

    def has_article(self, slug: str) -> bool:
        """True if the slug is in the current index."""
        return self.snapshots.current().document(slug=slug) is not None

    def articles_in(self, module: str) -> list[dict]:
        """Stored fields of every article of a module (its `module` front matter), in no particular order."""
        return self.snapshots.current().documents(module=module)

    def modules(self) -> set[str]:
        """The module names articles declare."""
        return set(self.snapshots.current().field_values("module")) - {""}

    def count(self) -> int:
        """How many articles the current index holds."""
        return self.snapshots.current().doc_count()

    def doc_frequency(self, word: str) -> int:
        """In how many articles a word (as the analyzer indexes it) occurs, in title, summary or body."""
        return self.snapshots.current().doc_frequency(word)

    def passage_similarity(self, text: str, slugs: list[str]) -> dict[str, float]:
        """{slug: cosine between the text and the article's most similar passage}; empty without vectors.

        Analytics uses it to tell whether an article really answers a query search put first."""
        snap = self.snapshots.current()
        if snap.dense is None or not slugs:
            return {}
        normalized = normalize(text)
        vector = self._query_vector(normalized)
        if vector is None:
            return {}
        docnums = {snap.docnum(s): s for s in slugs}
        docnums.pop(None, None)
        sims = snap.dense.best_passages(vector, list(docnums))
        # A misspelt query embeds far from what it means ("pasword reset"); search reads it as corrected.
        corrected = _correct(snap, QueryTerms(normalized)) if normalized.strip() else None
        if corrected and corrected != normalized:
            again = snap.dense.best_passages(self._query_vector(corrected), list(docnums))
            sims = {d: max(v, again.get(d, v)) for d, v in sims.items()}
        return {docnums[d]: v for d, v in sims.items()}

    # -- search ------------------------------------------------------------------------
    def search(self, text: str, limit: int = 10, page: int = 1, module: str | None = None,
               tag: str | None = None, boosts: dict[str, float] | None = None, cache: bool = True) -> dict:
        """Ranked results for a customer's query; raises InvalidInput for unusable input.

        boosts ({slug: multiplier} or {slug: (multiplier, reason)}) reorder articles the query already
        matches (agent links, clicks); they never add an article the query did not find. cache=False for
        bulk callers (analysis runs thousands of queries): they must not push customers' results out."""
        started = time.perf_counter()
        normalized = validate_query(text)
        limit, page = validate_paging(limit, page)
        snap = self.snapshots.current()
        boosts = boosts or {}
        if snap.dense is not None:
            snap.dense.refresh()  # vectors the background job added since: results improve as they arrive
        dense_generation = snap.dense.generation if snap.dense is not None else -1
        learned = self.learned
        key = (snap.version, dense_generation, normalized, module or "", (tag or "").lower(), page, limit,
               tuple(sorted(boosts.items())), learned)
        cache = self.cache if cache else None
        cached = cache.get(key) if cache else None
        if cached is None:
            query_vector = self._query_vector(normalized) if snap.dense is not None else None
            cached = _search(snap, normalized, limit, page, module, tag, boosts, query_vector,
                             self._block_vectors(snap), self._block_terms, learned)
            if cache:
                cache.put(key, cached)
        result = dict(cached)
        result["query"] = text
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result

    def search_long(self, subject: str, body: str, limit: int = 5, highlight: list[str] | None = None) -> dict:
        """Articles for a long text (a cleaned ticket), each with the passage that matches it best.

        Every word of the text is searched (indexer/longtext.py says how they are weighted) and the
        text's meaning is compared with every passage; ``highlight`` are the words to mark in the
        passages (the ticket's key phrases). Returns {total, results}; a result's ``passage`` is
        {heading, anchor, url, text, html, similarity} (similarity null when found by keywords)."""
        limit, _ = validate_paging(limit, 1)
        subject, body = (subject or "").strip(), (body or "").strip()
        if not (subject or body):
            return {"total": 0, "results": []}
        snap = self.snapshots.current()
        if snap.dense is not None:
            snap.dense.refresh()
        query_vector = None
        if snap.dense is not None and self.semantic.get() is not None:
            query_vector = ticket_vector(self._query_vector(vector_text(subject, body)),
                                         self._query_vector(normalize(subject)) if subject else None)
        return _search_long(snap, subject, body, limit, highlight or [], query_vector)



def _search(snap: Snapshot, normalized: str, limit: int, page: int, module, tag, boosts: dict, query_vector=None,
            block_vectors=None, block_terms=None, learned: tuple = ()) -> dict:
    terms = QueryTerms(normalized, learned)
    # Misspelt words ("pasword") are searched as written *and* as corrected, so a typo next to a
    # correct word still finds the right article; the corrected query is offered as did_you_mean.
    did_you_mean = _correct(snap, terms)
    if did_you_mean:
        terms.add_correction(did_you_mean)
    total, results = _rank(snap, terms, limit, page, module, tag, boosts, query_vector)
    best = results[:1] if page == 1 else _rank(snap, terms, 1, 1, module, tag, boosts, query_vector)[1]
    match = best_match(snap, terms, best[0] if best else None, semantic=query_vector is not None)
    answer = None
    if page == 1 and results and query_vector is not None and not match["weak"]:  # never above "nothing good"
        top = [(snap.docnum(r["slug"]), r["score"]) for r in results[:3]]
        top = [(d, score) for d, score in top if d is not None]
        words = [t for t, _ in terms.tokens] + terms.corrections
        answer = find_answer(snap, normalized, words, [d for d, _ in top], [score for _, score in top], query_vector,
                             block_vectors=block_vectors, block_terms=block_terms)
    return {"normalized": normalized, "total": total, "page": page, "limit": limit, "results": results,
            "did_you_mean": did_you_mean, "index_version": snap.version,
            "no_good_match": match["weak"], "best_match": match, "answer": answer}


def best_match(snap: Snapshot, terms: QueryTerms, top: dict | None, semantic: bool,
               weak_words: float = WEAK_WORDS, weak_score: float = WEAK_SCORE) -> dict:
    """How good the best result is: {score, words (share of the query's words it holds), weak}.

    Weak means the search should say plainly that nothing matches well (nothing found at all, or a
    best result that holds few of the query's words and is not close in meaning either)."""
    if top is None:
        return {"score": 0.0, "words": 0.0, "weak": True}
    docnum = snap.docnum(top["slug"])

    def holds(term: str) -> bool:
        for field in SEARCH_FIELDS:
            column = snap.ranker.fields[field].column(term)
            if column is not None and docnum in column[0]:
                return True
        return False

    # A misspelt word counts as held when the article holds its correction (webhok → webhook). Synonyms
    # do not count: on the dev set they made unrelated queries look matched (tests/bench/weak_match.py).
    held = sum(holds(term) for term, _ in terms.tokens) + sum(holds(t) for t in terms.corrections)
    held = min(held, len(terms.tokens))
    words = held / len(terms.tokens) if terms.tokens else 0.0
    # Keywords only (no model), the word share alone called 35% of the dev set's answerable queries weak
    # at < 50%; holding none of the query's words (found by a synonym or correction only) 6.5%.
    weak = (words < weak_words and top["score"] < weak_score) if semantic else words == 0
    return {"score": top["score"], "words": round(words, 3), "weak": bool(weak)}


def _rank(snap: Snapshot, terms: QueryTerms, limit, page, module, tag, boosts: dict | None = None, query_vector=None):
    if terms.empty and query_vector is None:
        return 0, []
    filters = []
    if module:
        filters.append(Q.Term("module", module))
    if tag:
        filters.append(Q.Term("tags", tag.lower()))
    allowed = None
    if filters:
        allowed = np.zeros(snap.ranker.doc_count_all, dtype=bool)
        allowed[list(snap.docs_for(Q.And(filters)))] = True
    lexical = (snap.ranker.scores(terms.clauses(), _body_weights(snap, terms)) if not terms.empty
               else np.zeros(snap.ranker.doc_count_all, np.float32))
    if allowed is not None:
        lexical = np.where(allowed, lexical, 0.0).astype(np.float32)
    scores, by_meaning, passages, confidence = lexical, set(), {}, lexical
    if query_vector is not None and snap.dense is not None:
        scores, by_meaning, passages, confidence = _fuse(snap, lexical, query_vector, allowed, terms)
    applied = {}
    for slug, boost in (boosts or {}).items():
        factor, reason = boost if isinstance(boost, tuple) else (boost, AGENT_LINK_REASON)
        docnum = snap.docnum(slug)
        if docnum is not None and scores[docnum] > 0:  # only articles the query already found
            scores[docnum] *= factor
            if confidence is not scores:
                confidence[docnum] *= factor
            applied[docnum] = (factor, reason)
    ranked, total = snap.ranker.top(scores, page * limit, allowed)
    words = terms.highlight_words()
    results = []
    for rank, (docnum, _) in enumerate(ranked[(page - 1) * limit :], start=(page - 1) * limit + 1):
        hit = snap.stored(docnum)
        body = hit.get("body") or ""
        snippet_source = body if _has_match(body, words) else (hit.get("summary") or body)
        if docnum in passages and (docnum in by_meaning or not _has_match(body, words)):
            snippet_source = _passage_text(hit, passages[docnum]) or snippet_source  # the passage that means it
        matched = (["keyword"] if lexical[docnum] > 0 else []) + (["meaning"] if docnum in by_meaning else [])
        results.append({
            "slug": hit["slug"], "title": hit["title"], "url": hit["url"], "path": hit["path"],
            "summary": hit.get("summary") or "", "module": hit.get("module") or "",
            "snippet": make_snippet(snippet_source, words), "score": round(float(confidence[docnum]), 4),
            "position": rank, "matched": matched,
        })
        if docnum in applied:
            results[-1]["boost"] = {"factor": applied[docnum][0], "reason": applied[docnum][1]}
    return total, results


def _body_weights(snap: Snapshot, terms: QueryTerms) -> np.ndarray | None:
    """How much each article's body counts: CHINESE_BODY_WEIGHT for a Chinese query in a Chinese article."""
    if CHINESE_BODY_WEIGHT == 1.0 or not has_cjk(terms.normalized):
        return None
    return snap.ranker.language_weights(True, CHINESE_BODY_WEIGHT)


def _search_long(snap: Snapshot, subject: str, body: str, limit: int, highlight: list[str], query_vector):
    weights = weighted_terms(subject, body)
    clauses = [(f, term, w) for term, w in weights.items() for f in SEARCH_FIELDS]
    clauses += [(f, term, SYNONYM_WEIGHT) for term in synonym_terms(subject, body, set(weights)) for f in SEARCH_FIELDS]
    lexical = snap.ranker.scores(clauses) if clauses else np.zeros(snap.ranker.doc_count_all, np.float32)
    scores, by_meaning, passages, similarity = lexical, set(), {}, {}
    if query_vector is not None and snap.dense is not None:
        scores, by_meaning, passages, similarity, _ = _fuse_with_similarity(snap, lexical, query_vector, None, None,
                                                                            weight=LONG_LEXICAL_WEIGHT)
    ranked, total = snap.ranker.top(scores, limit)
    words = [(w.lower(), bool(_LATIN.match(w.lower()))) for w in highlight if w.strip()]
    results = []
    for rank, (docnum, score) in enumerate(ranked, start=1):
        hit = snap.stored(docnum)
        found = stored_passages(hit)
        if docnum in passages and passages[docnum] < len(found):
            number, sim = passages[docnum], round(similarity[docnum], 4)
        else:  # no vectors (model off, or not embedded yet): the passage holding most of the words
            number, sim = _passage_by_words(found, words), None
        passage = found[number] if found else None
        text = passage.text if passage else (hit.get("summary") or "")
        results.append({
            "slug": hit["slug"], "title": hit["title"], "url": hit["url"], "path": hit["path"],
            "summary": hit.get("summary") or "", "module": hit.get("module") or "",
            "snippet": make_snippet(text, words), "score": round(score, 4), "position": rank,
            "matched": (["keyword"] if lexical[docnum] > 0 else []) + (["meaning"] if docnum in by_meaning else []),
            "passage": {
                "heading": passage.heading if passage else "", "anchor": passage.anchor if passage else "",
                "url": hit["url"] + (f"#{passage.anchor}" if passage and passage.anchor else ""),
                "text": text, "html": _marked(text, words), "similarity": sim,
            },
        })
    return {"total": total, "results": results}


def _marked(text: str, words) -> str:
    """The whole text, HTML-escaped, with <mark> around the words (a snippet window wider than it)."""
    return make_snippet(text, words, width=5 * len(text) + 5)


def _passage_by_words(passages, words) -> int:
    """Number of the passage holding the most of the words (the first on a tie, or 0)."""
    best, best_count = 0, 0
    for number, passage in enumerate(passages):
        lowered = passage.text.lower()
        count = sum(lowered.count(w) for w, _ in words)
        if count > best_count:
            best, best_count = number, count
    return best


def _lexical_weight(snap: Snapshot, lexical: np.ndarray, terms: QueryTerms) -> tuple[float, float]:
    """How much the keyword stage counts: more when its best match holds more of the query's words.

    (weight for ranking, weight for the reported score): they differ only by CHINESE_LEXICAL_WEIGHT."""
    if not terms.tokens:
        return LEXICAL_WEIGHT, LEXICAL_WEIGHT
    top = int(np.argmax(lexical))
    held = 0
    for term, _ in terms.tokens:
        for field in SEARCH_FIELDS:
            column = snap.ranker.fields[field].column(term)
            if column is not None and top in column[0]:
                held += 1
                break
    share = held / len(terms.tokens)
    plain = LEXICAL_WEIGHT + (LEXICAL_WEIGHT_FULL - LEXICAL_WEIGHT) * share * share
    if not (has_cjk(terms.normalized) and snap.ranker.chinese[top]):
        return plain, plain
    return CHINESE_LEXICAL_WEIGHT + (LEXICAL_WEIGHT_FULL - CHINESE_LEXICAL_WEIGHT) * share * share, plain


def _fuse(snap: Snapshot, lexical: np.ndarray, query_vector, allowed, terms: QueryTerms):
    """Lexical and semantic scores in one ranking: (scores to rank by, docnums found by meaning,
    {docnum: passage number}, scores to report)."""
    scores, by_meaning, best_passage, _, confidence = _fuse_with_similarity(snap, lexical, query_vector, allowed, terms)
    return scores, by_meaning, best_passage, confidence


def _fuse_with_similarity(snap: Snapshot, lexical: np.ndarray, query_vector, allowed, terms: QueryTerms | None,
                          weight: float | None = None):
    """_fuse's ranking scores, found by meaning and passages, {docnum: its best passage's similarity}, and the
    scores to report; weight fixes the lexical share (else by the query's words).

    The reported score is what search, gap advice and the answer box compare with their thresholds
    (WEAK_SCORE, analytics.gaps.ANSWER_SCORE), which were calibrated with the general weights: it is
    fused with those even where CHINESE_LEXICAL_WEIGHT reorders the results."""
    matched = np.flatnonzero(lexical > 0)
    if len(matched) > LEXICAL_CANDIDATES:
        matched = matched[np.argpartition(-lexical[matched], LEXICAL_CANDIDATES - 1)[:LEXICAL_CANDIDATES]]
    dense = snap.dense.search(query_vector, extra=matched)
    if allowed is not None:
        dense = {d: v for d, v in dense.items() if allowed[d]}
    best = float(lexical.max()) if len(lexical) else 0.0
    if weight is not None:
        plain = weight
    elif best > 0:
        weight, plain = _lexical_weight(snap, lexical, terms)
    else:
        weight = plain = LEXICAL_WEIGHT
    keyword = (lexical / best).astype(np.float32) if best > 0 else np.zeros_like(lexical)
    meaning = np.zeros_like(keyword)
    nearest = sorted(dense.items(), key=lambda item: -item[1][0])[:MEANING_TOP]
    by_meaning = {d for d, (sim, _) in nearest if sim >= MEANING_FLOOR}
    best_passage, similarity = {}, {}
    for docnum, (sim, passage) in dense.items():
        if lexical[docnum] > 0 or docnum in by_meaning:
            meaning[docnum] = max(sim, 0.0)
            best_passage[docnum] = passage
            similarity[docnum] = sim
    # Articles whose vectors are not embedded yet (just published or edited, or a big build still
    # filling in) must not sink below the rest for lack of a similarity: theirs is estimated from
    # their keyword score, relative to the best similarity among the keyword matches.
    pending = matched[~snap.dense.has_vectors(matched)] if len(matched) else matched
    if len(pending) and best > 0:
        known = [dense[d][0] for d in matched if d in dense]
        typical = max(known) if known else 0.5
        meaning[pending] = typical * keyword[pending]
    scores = (weight * keyword + (1 - weight) * meaning).astype(np.float32)
    reported = scores if plain == weight else (plain * keyword + (1 - plain) * meaning).astype(np.float32)
    return scores, by_meaning, best_passage, similarity, reported


def _passage_text(hit: dict, passage: int) -> str:
    found = stored_passages(hit)
    return found[passage].text if passage < len(found) else ""


MAX_CORRECTABLE = 24  # longer "words" are not typos of anything; skip them (and their cost)


def _correct(snap: Snapshot, terms: QueryTerms) -> str | None:
    """The query with unknown words replaced by their closest known spelling, or None."""
    text = terms.normalized
    candidates = [(start, end) for (_, surface), (start, end) in zip(terms.tokens, terms.spans, strict=True)
                  if _LATIN.match(surface) and 3 <= len(surface) <= MAX_CORRECTABLE]
    candidates += [m.span() for m in _CJK_WORDS.finditer(text)]
    replacements = []
    for start, end in sorted(set(candidates)):
        word = text[start:end]
        if snap.known(word):
            continue
        best = snap.speller(word).suggest(word, 1 if has_cjk(word) or len(word) < 5 else 2)
        if best and best != word:
            replacements.append((start, end, best))
    if not replacements:
        return None
    out, pos = [], 0
    for start, end, best in replacements:
        if start < pos:
            continue
        out += [text[pos:start], best]
        pos = end
    return "".join(out) + text[pos:]


def _has_match(text: str, words) -> bool:
    lowered = text.lower()
    return any(w.lower() in lowered for w, _ in words)


def validate_query(text) -> str:
    """The normalized query, or InvalidInput for empty, over-long or non-text input."""
    if not isinstance(text, str):
        raise InvalidInput(N_("查询 q 必须是文字"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # e.g. bytes that were not UTF-8, smuggled in as surrogates
        raise InvalidInput(N_("查询里有不是有效文字的字符（是 UTF-8 编码吗？）")) from None
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(N_("查询太长（%(length)s 个字符，最多 %(max_length)s 个）"), length=len(text),
                           max_length=MAX_QUERY_CHARS)
    normalized = normalize(text)
    if not normalized:
        raise InvalidInput(N_("查询是空的：请输入几个词，例如 %(example)s"), example=EXAMPLE_QUERY)
    return normalized


def validate_paging(limit, page) -> tuple[int, int]:
    """limit in 1..MAX_LIMIT and page in 1..MAX_PAGE, or InvalidInput."""
    try:
        limit, page = int(limit), int(page)
    except (TypeError, ValueError):
        raise InvalidInput(N_("limit 和 page 必须是整数")) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(N_("limit 必须在 1 到 %(max)s 之间"), max=MAX_LIMIT)
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(N_("page 必须在 1 到 %(max)s 之间"), max=MAX_PAGE)
    return limit, page


def open_index(data_dir: Path, cache_size: int = 4096, semantic: str = "use") -> ArticleIndex:
    """Read access to the index in data_dir (raises IndexMissing on first search if none is built).

    semantic names the sentence-embedding model ("use", or "off" for keywords only)."""
    return ArticleIndex(data_dir, cache_size=cache_size, semantic=semantic)
