"""From a support ticket (subject + messy body) to key phrases and suggested articles.

A ticket is not a query: it has greetings, signatures, phone and order numbers, quoted history and
HTML. We strip those, and search with the whole cleaned ticket (``ArticleIndex.search_long``: every
word, the subject counting double, plus the ticket's meaning against every passage), which puts the
right article in the top 3 far more often than a few key phrases did (tests/bench/tickets.py).

Key phrases are still picked, by TF-IDF where the corpus is the knowledge base itself (a word that
appears in few articles but often in the ticket says most about which article fits; a word no article
uses cannot find one): the agent sees them, they are marked in each suggestion's passage, and an
agent who edits them searches with exactly those words.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from bs4 import BeautifulSoup
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from indexer.analysis import has_cjk, normalize, segment, stopwords, synonym_vocabulary
from indexer.errors import InvalidInput
from indexer.i18n import N_, gettext

MAX_TICKET_CHARS = 20_000  # what is analysed of a long ticket (a 1 MB paste is cut, not refused)
MAX_PHRASES = 8
_QUOTE_START = re.compile(r"^\s*(>|在.{0,40}写道|On .{0,80}wrote:|-{2,}\s*Original|发件人[:：]|From:|Sent:|-----)",
                          re.I)
_SIGNATURE = re.compile(r"^\s*(--\s*$|——\s*$|best regards|kind regards|regards,|thanks,?\s*$|thank you,?\s*$|"
                        r"谢谢[！!。]?\s*$|此致|祝好|顺祝)", re.I)
# Every repetition is bounded: an unbounded \S+ or {6,} backtracks over a long run of letters or
# digits from every starting point, and a 1 MB paste of one "word" cost ~12 s of CPU per pattern.
_NOISE = [
    re.compile(r"https?://\S{1,2000}"), re.compile(r"[^\s@]{1,64}@[^\s@]{1,255}\.\w{1,24}"),
    re.compile(r"\b[A-Z]{2,12}[-_]?\d[\d-]{2,30}\b"),  # order / ticket numbers: YF-2026-10432
    re.compile(r"[+＋]?\d[\d\s\-xX]{6,24}\d"),  # phone numbers
    re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"),
]
_GREETING = re.compile(r"^\s*(您好|你好|hi|hello|dear|hey|各位|老师)[^\n]{0,20}[,，:：!！]?\s*$", re.I)
_EXTRA_STOP = {"云帆", "云帆项目", "yunfan", "麻烦", "尽快", "回复", "一下", "现在", "今天", "昨天", "我们", "他们", "你们",
               "问题", "情况", "请问", "谢谢", "感谢", "thanks", "please", "hi", "hello", "team", "regards", "issue",
               "help", "question", "get", "got", "still", "also", "just", "like", "know", "want", "need", "one"}


def clean_ticket(subject: str, body: str) -> str:
    """The ticket's own words: HTML stripped, quoted history, signature, greetings and numbers removed."""
    return "\n".join(clean_parts(subject, body))


def clean_parts(subject: str, body: str) -> tuple[str, str]:
    """(subject, body) of a ticket, each cleaned as clean_ticket says."""
    for name, value in (("subject", subject), ("body", body)):
        if not isinstance(value, str):
            raise InvalidInput(N_("%(field)s 必须是文本"), field=name)
    body = body[: MAX_TICKET_CHARS * 5]
    if "<" in body and ">" in body:
        soup = BeautifulSoup(body, "html.parser")
        for hidden in soup.find_all(["script", "style", "head", "title"]):
            hidden.decompose()  # e-mail HTML carries CSS and scripts: not the customer's words
        for block in soup.find_all(["p", "div", "br", "li", "tr", "blockquote"]):
            if block.name == "blockquote":
                block.decompose()  # quoted reply
            else:
                block.append("\n")
        body = soup.get_text("")
    kept = []
    for line in body.splitlines():
        if _QUOTE_START.match(line):
            break  # everything below is the quoted conversation
        if _SIGNATURE.match(line):
            break
        if _GREETING.match(line):
            continue
        kept.append(line)
    subject = subject[:1000]
    text = "\n".join(kept)[: MAX_TICKET_CHARS - len(subject)]  # cut first: the patterns see at most this
    for pattern in _NOISE:
        subject, text = pattern.sub(" ", subject), pattern.sub(" ", text)
    return subject, text


def key_phrases(subject: str, cleaned: str, doc_frequency, doc_count: int, n: int = MAX_PHRASES) -> list[str]:
    """The n words of the ticket that say most about which article fits (subject words count double).

    doc_frequency(word) -> in how many articles the word occurs (0: none)."""
    stop = stopwords() | _EXTRA_STOP | ENGLISH_STOP_WORDS
    vocabulary = set(synonym_vocabulary())
    counts: Counter = Counter()
    subject_words = {w for w, _, _ in segment(normalize(subject))}
    for word, _, _ in segment(normalize(cleaned)):
        if word in stop or word.isdigit() or (not has_cjk(word) and len(word) < 3) or (has_cjk(word) and len(word) < 2):
            continue
        counts[word] += 2 if word in subject_words else 1
    scored = []
    for word, tf in counts.items():
        df = doc_frequency(word)
        if df:
            idf = math.log((1 + doc_count) / (1 + df)) + 1
        elif word in vocabulary:
            idf = 1.0  # customers' word for something (the synonym list maps it)
        else:
            continue  # no article uses it: it cannot help find one
        scored.append((math.log1p(tf) * idf, word))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [w for _, w in scored[:n]]


def suggest(index, subject: str, body: str, phrases: list[str] | None = None, limit: int = 5) -> dict:
    """Suggested articles for a ticket: {phrases, results, message}; phrases may be given (edited by the agent).

    Each result carries ``passage``: the part of the article that matches the ticket best."""
    clean_subject, clean_body = clean_parts(subject or "", body or "")
    cleaned = f"{clean_subject}\n{clean_body}"
    if phrases is None:
        phrases = key_phrases(subject or "", cleaned, index.doc_frequency, index.count())
        found = index.search_long(clean_subject, clean_body, limit=limit, highlight=phrases)["results"]
        if not phrases:
            # No word of the ticket occurs in any article (another language, or only greetings):
            # only what the ticket's meaning found is worth showing.
            found = [r for r in found if "meaning" in r["matched"]]
        return {"phrases": phrases, "results": found, "message": "" if found else
                gettext("这张工单里没有找到关键词（只有问候语或陌生的词？）：请输入几个词")}
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise InvalidInput(N_("phrases 必须是词语列表"))
    phrases = [p.strip() for p in phrases if p.strip()][:20]
    if not phrases:
        return {"phrases": [], "results": [], "message": gettext("请输入几个要搜索的词")}
    # The agent's words, searched the same way (so each suggestion still shows its passage).
    found = index.search_long(" ".join(phrases)[:500], "", limit=limit, highlight=phrases)["results"]
    return {"phrases": phrases, "results": found, "message": "" if found else gettext("没有文章包含这些词")}
