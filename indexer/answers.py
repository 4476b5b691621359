"""The answer box: the one passage of the best articles that answers a question, or nothing.

Only a query that asks something gets one (a question word, a question mark, or a symptom such as
"打不开", "doesn't sync"); a bare keyword query is looking for an article, not an answer. The articles
of the first page's top results are cut into the blocks a reader sees as units (a whole numbered
list with its numbers, a paragraph, one table row with its header: ``articles.Block``) and each
block is scored by meaning (the query's similarity to the embedded passage the block lies in, from
the same vectors hybrid search uses) plus the share of the query's words it holds. An answer is
shown only when its article is clearly the one: its best block well ahead of every other article's,
holding the query's words, and the article well ahead in the ranking (``Confidence``, chosen on the
third-party dev set by tests/bench/answers.py). No answer is better than a wrong one, and without
vectors (semantic model off, or the article not embedded yet) there is none at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from .analysis import mixed_analyzer

TOP_ARTICLES = 3  # results of page 1 whose blocks compete
OVERLAP_WEIGHT = 0.2  # a block's score: similarity + this share of the query's words it holds ...
RANK_PENALTY = 0.2  # ... minus this per result position below the first (the ranking weighed whole articles)
STEPS_BONUS = 0.1  # ... plus this for a numbered list when the query asks how to do something: steps answer it
# Within the chosen article, a tip, note or warning box (a Markdown admonition) is an aside to its section:
# it answers only when it is clearly better than the section's own text. Short asides otherwise win on
# meaning alone ("如果你的数据是 .csv 文件…" over the numbered steps it follows). Block choice only: which
# article answers, and so the dev set's precision and coverage, is unchanged (its corpora have no
# admonitions either; README "Answer box").
ASIDE_PENALTY = 0.1
_HOW = re.compile(r"怎么|怎样|如何|步骤|\bhow\b|\bsteps?\b", re.I)

# Question words and symptoms, Chinese and English. Words, not one article's vocabulary.
_QUESTION = re.compile(
    r"[?？]|怎么|怎样|如何|为什么|为何|吗|呢|能否|能不能|可不可以|是否|什么|哪|多少|几[个天次]|"
    r"不了|不能|无法|不到|不出|不上|失败|报错|出错|错误|没有|没了|不见|丢失|消失|变成|不显示|不生效|不对|打不开|"
    r"\b(?:how|what|why|when|where|which|who|can|could|is|are|do|does|did|should|will|won't|can't|cannot|"
    r"doesn't|don't|isn't|not|error|fails?|failed|missing|disappeared|broken|stuck|"
    r"wrong|unable)\b",
    re.I,
)


def is_question(text: str) -> bool:
    """True when a query asks something or describes a problem (it may get an answer)."""
    return bool(_QUESTION.search(text or ""))


@dataclass(frozen=True)
class Confidence:
    """When the best block is shown (chosen on the dev set: tests/bench/answers.py --tune).

    Its lead over the best block of any other article, plus ``word_share`` x the share of the query's
    words it holds, plus ``margin_share`` x the lead of the first result over the second in the search
    ranking, must reach ``threshold``. Precision counts whether the right article is quoted, so the
    lead that matters is over other articles; within the article the best block wins."""

    threshold: float = 0.68
    word_share: float = 0.4
    margin_share: float = 2.0


DEFAULT_CONFIDENCE = Confidence()


@dataclass
class Candidate:
    """One block of one result, scored."""

    docnum: int
    rank: int  # the article's position in the results (1-based)
    heading: str
    anchor: str
    kind: str
    html: str
    text: str
    similarity: float
    overlap: float  # share of the query's words the block (or its heading) holds
    score: float = 0.0
    index: int = 0  # the block's place in its article
    own_overlap: float = 0.0  # share of the query's words in the block itself (its heading included)


def candidates(snap, query_text: str, query_words: list[str], docnums: list[int], query_vector,
               block_terms=None) -> list[Candidate]:
    """Every block of the given articles (best result first), scored against the query, best first.

    block_terms(stored) -> [(title terms, [terms of each block])] may serve the analyzed words from a cache."""
    if query_vector is None or snap.dense is None:
        return []
    words = set(query_words)
    how = bool(_HOW.search(query_text))
    out: list[Candidate] = []
    for rank, docnum in enumerate(docnums[:TOP_ARTICLES], start=1):
        sims = snap.dense.passage_similarities(query_vector, docnum)
        if sims is None:
            continue  # not embedded yet: no meaning to judge it by
        stored = snap.stored(docnum)
        title_terms, terms_of_blocks = (block_terms or analyzed_blocks)(stored)
        for number, (heading, anchor, kind, html, text, passage) in enumerate(stored_blocks(stored)):
            own = terms_of_blocks[number] & words
            held = own | (title_terms & words)
            overlap = len(held) / len(words) if words else 0.0
            own_overlap = len(own) / len(words) if words else 0.0
            similarity = float(sims[passage]) if passage < len(sims) else float(np.max(sims))
            score = similarity + OVERLAP_WEIGHT * overlap - RANK_PENALTY * (rank - 1)
            if how and kind == "list" and "<ol" in html:
                score += STEPS_BONUS
            out.append(Candidate(docnum, rank, heading, anchor, kind, html, text, similarity, overlap, score, number,
                                 own_overlap))
    out.sort(key=lambda c: -c.score)
    return out


def confident(ranked: list[Candidate], scores: list[float], rule: Confidence = DEFAULT_CONFIDENCE) -> Candidate | None:
    """The best candidate when it clears the rule, else None; scores are the results' search scores, best first."""
    if not ranked:
        return None
    best = ranked[0]
    other = max((c.score for c in ranked if c.docnum != best.docnum), default=0.0)
    margin = (scores[0] - scores[1]) if len(scores) > 1 else (scores[0] if scores else 0.0)
    value = best.score - other + rule.word_share * best.overlap + rule.margin_share * margin
    return best if value >= rule.threshold else None


def find_answer(snap, text: str, query_words: list[str], docnums: list[int], scores: list[float], query_vector,
                rule: Confidence = DEFAULT_CONFIDENCE, block_vectors=None, block_terms=None) -> dict | None:
    """The answer to a question-like query from its top results (docnums and search scores, best first), or None.

    The confidence rule decides on the article; block_vectors(docnum, candidates) -> matrix, when given,
    then picks the block within it by the block's own meaning (an embedded passage may hold several).

    passage_html is the article's own rendered HTML: the caller sanitizes it before showing it."""
    if not is_question(text):
        return None
    ranked = candidates(snap, text, query_words, docnums, query_vector, block_terms)
    best = confident(ranked, scores, rule)
    if best is None:
        return None
    if block_vectors is not None:
        best = _best_block([c for c in ranked if c.docnum == best.docnum], query_vector, block_vectors) or best
    stored = snap.stored(best.docnum)
    url = stored.get("url") or ""
    return {"slug": stored["slug"], "title": stored.get("title") or "", "heading": best.heading,
            "url": f"{url}#{best.anchor}" if best.anchor else url, "passage_html": best.html,
            "passage_text": best.text, "kind": best.kind, "score": round(best.score, 4)}


def _best_block(own: list[Candidate], query_vector, block_vectors) -> Candidate | None:
    own = sorted(own, key=lambda c: c.index)
    vectors = block_vectors(own[0].docnum, own)
    if vectors is None or len(vectors) != len(own):
        return None
    # Within one article the title's words are everyone's: the block's own words and meaning decide.
    sims = vectors @ query_vector
    for c, sim in zip(own, sims, strict=True):
        c.score += float(sim) - c.similarity + OVERLAP_WEIGHT * (c.own_overlap - c.overlap)
        c.similarity = float(sim)
        if is_aside(c.html):
            c.score -= ASIDE_PENALTY
    return max(own, key=lambda c: c.score)


def is_aside(html: str) -> bool:
    """True for a block that is a tip, note or warning box (rendered admonition or details)."""
    return html.lstrip().startswith(('<div class="admonition', "<details"))


def block_texts(stored: dict) -> list[str]:
    """What the model reads for each block of an article: title and heading first, as for passages."""
    title = stored.get("title") or ""
    return [f"{title} · {b[0]}\n{b[4]}" if b[0] else f"{title}\n{b[4]}" for b in stored_blocks(stored)]


def stored_blocks(stored: dict) -> list[list]:
    """[heading, anchor, kind, html, text, passage number] of an indexed article.

    An index built before blocks existed has none: its embedded passages stand in, as escaped text."""
    if stored.get("blocks"):
        return json.loads(stored["blocks"])
    from html import escape

    rows = json.loads(stored.get("passages") or "[]")
    return [[h, a, "paragraph", "<p>" + escape(t).replace("\n", "<br>") + "</p>", t, i]
            for i, (h, a, t) in enumerate(rows)]


def analyzed_blocks(stored: dict) -> tuple[frozenset[str], list[frozenset[str]]]:
    """The analyzer's words of an article's title and of each of its blocks (heading included)."""
    blocks = [_terms(f"{b[0]} {b[4]}") for b in stored_blocks(stored)]
    return _terms(stored.get("title") or ""), blocks


def _terms(text: str) -> frozenset[str]:
    return frozenset(t.text for t in mixed_analyzer()(text, mode="query"))
