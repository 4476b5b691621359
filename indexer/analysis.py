"""Text analysis shared by indexing and querying: Chinese segmentation, English stemming, synonyms.

Chinese is segmented with jieba's dictionary and HMM (through rjieba, the Rust port, which gives the
same words 10x faster) plus a project dictionary of product terms (甘特图, 里程碑, 看板, 审批流 ...)
that plain jieba splits. English words are lower-cased and Porter-stemmed in the same fields, so one
query can mix both ("Excel 导入", "API 限流").
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import Filter, LowercaseFilter, StopFilter, Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

DATA = Path(__file__).parent / "data"
USER_DICT = DATA / "userdict.txt"

_WORDLIKE = re.compile(r"\w", re.U)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-\.]*[A-Za-z0-9]|[A-Za-z0-9]")


def _read_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def user_dictionary_words() -> list[tuple[str, int | None]]:
    """(word, frequency) pairs of the project dictionary, in jieba's user-dict format."""
    words = []
    for line in _read_lines(USER_DICT):
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        words.append((parts[0], freq))
    return words


@lru_cache(maxsize=1)
def _segmenter():
    """The process-wide segmenter with the project dictionary loaded (rjieba, else jieba)."""
    try:
        import rjieba

        seg = rjieba.Jieba()
        for word, freq in user_dictionary_words():
            seg.add_word(word, freq or 50000, None)
        return lambda text, mode="default": seg.tokenize(text, mode=mode)
    except ImportError:  # pragma: no cover - rjieba ships wheels for our platforms
        import jieba

        jieba.setLogLevel(logging.WARNING)
        for word, freq in user_dictionary_words():
            jieba.add_word(word, freq or 50000)
        return lambda text, mode="default": [(w, s, e) for w, s, e in jieba.tokenize(text, mode=mode)]


def segment(text: str, search: bool = False) -> list[tuple[str, int, int]]:
    """Split text into (word, start, end) with jieba; whitespace and punctuation dropped.

    search=True is jieba's search mode: a long word also yields the dictionary words inside it
    (默认值 → 默认, 默认值), so a query's shorter word finds it. Articles are indexed that way;
    queries are cut normally, so 默认值 in a query still means the whole word.
    """
    return [(w, s, e) for (w, s, e) in _segmenter()(text, "search" if search else "default") if _WORDLIKE.search(w)]


def normalize(text: str) -> str:
    """The normalized form of a query: NFKC (full-width to ASCII), lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.lower().split())


def has_cjk(text: str) -> bool:
    """True when text contains a Chinese character."""
    return bool(_CJK.search(text))


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Chinese function words and English stop words that carry no topic."""
    return frozenset(w.lower() for line in _read_lines(DATA / "stopwords.txt") for w in line.split())


class MixedTokenizer(Tokenizer):
    """Whoosh tokenizer: jieba words for Chinese, plain words for everything else, with char offsets."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        # Whoosh passes mode="index" when indexing; queries are analyzed with mode="query".
        for pos, (word, start, end) in enumerate(segment(value, search=mode != "query")):
            t.text = unicodedata.normalize("NFKC", word)
            t.boost = 1.0
            if keeporiginal:
                t.original = t.text
            t.stopped = False
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            yield t


class LatinStemFilter(Filter):
    """Porter-stem words that are plain Latin letters; Chinese and codes pass untouched."""

    def __call__(self, tokens):
        for t in tokens:
            if t.text.isascii() and t.text.isalpha():
                t.text = _stem(t.text)
            yield t


@lru_cache(maxsize=50000)
def _stem(word: str) -> str:
    return porter_stem(word)


def mixed_analyzer():
    """The analyzer of every text field: segment, lower-case, drop stop words, stem English."""
    return MixedTokenizer() | LowercaseFilter() | StopFilter(stoplist=stopwords(), minsize=1) | LatinStemFilter()


class LatinOnlyFilter(Filter):
    """Keep only Latin-letter words: the vocabulary spelling suggestions are drawn from."""

    def __call__(self, tokens):
        for t in tokens:
            if t.text.isascii() and t.text.isalpha() and len(t.text) > 2:
                yield t


def spelling_analyzer():
    """Unstemmed, lower-cased English words, so did_you_mean offers real words ("password", not "passwort")."""
    return MixedTokenizer() | LowercaseFilter() | LatinOnlyFilter()


class BigramTokenizer(Tokenizer):
    """Chinese character bigrams (and plain Latin words) for recall when segmentation disagrees."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for gram, start, end in bigrams(value):
            t.text, t.boost, t.stopped = gram, 1.0, False
            if positions:
                t.pos = pos
                pos += 1
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            yield t


def bigrams(text: str) -> list[tuple[str, int, int]]:
    """Overlapping character bigrams of each Chinese run; a lone character stands as itself."""
    grams = []
    for run in _CJK_RUN.finditer(text):
        s, chars = run.start(), run.group()
        if len(chars) == 1:
            grams.append((chars, s, s + 1))
        for i in range(len(chars) - 1):
            grams.append((chars[i : i + 2], s + i, s + i + 2))
    return grams


def bigram_analyzer():
    """Analyzer of the recall field: Chinese bigrams only."""
    return BigramTokenizer()


@lru_cache(maxsize=1)
def synonym_groups() -> list[tuple[str, ...]]:
    """Groups of words customers use for the same thing (a line of comma-separated words each)."""
    groups = []
    for line in _read_lines(DATA / "synonyms.txt"):
        words = tuple(normalize(w) for w in re.split(r"[,，]", line) if w.strip())
        if len(words) > 1:
            groups.append(words)
    return groups


@lru_cache(maxsize=1)
def synonym_vocabulary() -> tuple[str, ...]:
    """English words of the synonym groups: valid spellings even when no article uses them."""
    words = {w for group in synonym_groups() for phrase in group for w in phrase.split()}
    return tuple(sorted(w for w in words if w.isascii() and w.isalpha() and len(w) > 2))


def expand_synonyms(normalized_query: str) -> list[str]:
    """Phrases to add to a query: the other members of every synonym group the query mentions."""
    words = set(_LATIN_WORD.findall(normalized_query))
    extra: list[str] = []
    for group in _groups_mentioned(normalized_query, words):
        extra.extend(w for w in group if w not in normalized_query)
    return extra


def expand_learned(normalized_query: str, pairs: tuple[tuple[str, str], ...]) -> list[str]:
    """Article words for the customer words of learned pairs ((customer, article), approved by a manager)
    that the query mentions: Chinese and phrases as substrings, single English words as whole words."""
    if not pairs:
        return []
    words = set(_LATIN_WORD.findall(normalized_query))
    extra = []
    for customer, article in pairs:
        mentioned = customer in words if (customer.isascii() and " " not in customer) else customer in normalized_query
        if mentioned and article not in normalized_query and article not in extra:
            extra.append(article)
    return extra


def _groups_mentioned(text: str, words: set[str]) -> list[tuple[str, ...]]:
    by_word, substrings = _synonym_lookup()
    found = {i for w in words for i in by_word.get(w, ())}
    found |= {g for phrase, g in substrings if phrase in text}
    return [synonym_groups()[i] for i in sorted(found)]


@lru_cache(maxsize=1)
def _synonym_lookup() -> tuple[dict[str, list[int]], list[tuple[str, int]]]:
    """Single English words → their groups (a dict lookup); Chinese words and phrases → checked as substrings."""
    by_word: dict[str, list[int]] = {}
    substrings = []
    for i, group in enumerate(synonym_groups()):
        for w in group:
            if has_cjk(w) or " " in w:
                substrings.append((w, i))
            else:
                by_word.setdefault(w, []).append(i)
    return by_word, substrings
