"""A long text (a whole support ticket) as a query: every word counts, weighted like a document.

A customer's query has three words and each of them matters; a ticket has three hundred, most of
them about the customer's day, and the few that name the product's feature decide. A handful of
key phrases picked from the ticket lost the right article for a third of the dev set's tickets
(`tests/bench/tickets.py`), because the words they drop (a second symptom, the feature's other
name) are the ones that tell two close articles apart. So the whole cleaned ticket is searched:

- each word weighs by how often the ticket uses it, dampened (1 + ln tf), so a word repeated in a
  long paste does not drown the others; the subject counts ``SUBJECT_WEIGHT`` times;
- how rare a word is among the articles is the ranker's BM25 idf, as for any query;
- the synonym list adds the customer's other words at the weight a short query gives them;
- the meaning of the whole ticket (one vector of its first ``MAX_VECTOR_CHARS`` characters, plus
  ``SUBJECT_VECTOR_SHARE`` of the subject's own vector: the subject says in a line what the body
  says in a page) is compared with every passage, and decides more than for a short query
  (``LEXICAL_WEIGHT``): many words match many articles a little, the ticket's meaning matches one well.

Weights were chosen on the third-party dev set's tickets (nocobase-zh, plane-en), never on ours.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .analysis import expand_synonyms, mixed_analyzer, normalize

SUBJECT_WEIGHT = 2.0  # a subject word counts as two body words (dev set: 1-3 within one ticket)
LEXICAL_WEIGHT = 0.25  # share of the keyword score in the fused ranking (short queries: 0.1-0.5)
SUBJECT_VECTOR_SHARE = 0.5  # dev set, recall@3 zh/en: ticket vector alone 0.90/1.00 at best, + subject x1 0.90/0.95
MAX_VECTOR_CHARS = 2000  # what of the ticket the sentence model reads (it dilutes past a few paragraphs)
MAX_TERMS = 400  # distinct words searched: a pasted log must not become a 10,000-clause query


def weighted_terms(subject: str, body: str) -> dict[str, float]:
    """{index term: weight} of a long text; subject words count SUBJECT_WEIGHT times, tf dampened."""
    analyzer = mixed_analyzer()
    counts: Counter = Counter()
    for text, weight in ((subject, SUBJECT_WEIGHT), (body, 1.0)):
        for token in analyzer(normalize(text), mode="query"):
            counts[token.text] += weight
    return {term: 1.0 + math.log(tf) for term, tf in counts.most_common(MAX_TERMS)}


def synonym_terms(subject: str, body: str, known: set[str]) -> list[str]:
    """Index terms of the synonym list's other words for what the text mentions (not already in known)."""
    analyzer = mixed_analyzer()
    extra: list[str] = []
    for phrase in expand_synonyms(normalize(f"{subject}\n{body}")):
        for token in analyzer(phrase, mode="query"):
            if token.text not in known and len(token.text) > 1:
                known.add(token.text)
                extra.append(token.text)
    return extra


def vector_text(subject: str, body: str) -> str:
    """What of the text the sentence model embeds: subject and the start of the body."""
    return normalize(f"{subject}\n{body}")[:MAX_VECTOR_CHARS]


def ticket_vector(whole: np.ndarray, subject: np.ndarray | None) -> np.ndarray:
    """The vector a ticket is searched with: the whole text's, plus a share of its subject's (unit length)."""
    if subject is None:
        return whole
    combined = whole + SUBJECT_VECTOR_SHARE * subject
    norm = float(np.linalg.norm(combined))
    return combined / norm if norm > 0 else whole
