"""Articles cut into passages: the unit the semantic stage embeds and the answer box quotes.

A passage is a piece of one section (split at h2-h4 headings) of about 300-500 characters, cut at
line or sentence ends, and it is embedded with the article's title and its heading in front, so
"步骤 3" still knows it belongs to "重置密码". The whole body is covered: a feasibility run showed
that embedding only the first passages of each article destroyed the gain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_CHARS = 400  # a passage closes at the first line end past this many characters
MAX_CHARS = 600  # a longer line is cut at sentence ends, then hard
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.!?])\s+")


@dataclass(frozen=True)
class Passage:
    """One passage of an article: its heading and anchor on the page, and its text."""

    heading: str
    anchor: str
    text: str

    def embedding_text(self, title: str) -> str:
        """What the model reads: title and heading first, then the passage."""
        head = f"{title} · {self.heading}" if self.heading else title
        return f"{head}\n{self.text}"


def split_passages(article) -> list[Passage]:
    """The passages of an Article, in page order; at least one (title and summary) per article.

    Short neighbouring sections are joined (the later heading kept as a line of text), so an
    article of many two-line sections is not embedded as dozens of fragments.
    """
    units = []
    for index, (heading, anchor, text) in enumerate(article.sections or [("", "", article.body)]):
        if index == 0 and article.summary and article.summary not in text:
            text = f"{article.summary}\n{text}".strip()
        chunks = _chunks(text) or ([heading] if heading else [])
        units += [Passage(heading, anchor, chunk) for chunk in chunks]
    passages: list[Passage] = []
    for unit in units:
        last = passages[-1] if passages else None
        joined = f"{unit.heading}\n{unit.text}" if unit.heading and unit.heading != unit.text else unit.text
        if last and len(last.text) < TARGET_CHARS // 2 and len(last.text) + len(joined) <= TARGET_CHARS:
            passages[-1] = Passage(last.heading, last.anchor, f"{last.text}\n{joined}")
        else:
            passages.append(unit)
    return passages or [Passage("", "", article.summary or article.title)]


def _chunks(text: str) -> list[str]:
    pieces = []
    for line in text.splitlines():
        line = line.strip()
        if len(line) <= MAX_CHARS:
            if line:
                pieces.append(line)
            continue
        pieces.extend(_split_long(line))
    chunks, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) > MAX_CHARS:
            chunks.append(current)
            current = ""
        current = f"{current}\n{piece}" if current else piece
        if len(current) >= TARGET_CHARS:
            chunks.append(current)
            current = ""
    if current:
        if chunks and len(current) < TARGET_CHARS // 4 and len(chunks[-1]) + len(current) <= MAX_CHARS:
            chunks[-1] = f"{chunks[-1]}\n{current}"  # a short tail joins the passage before it
        else:
            chunks.append(current)
    return chunks


def _split_long(line: str) -> list[str]:
    out, current = [], ""
    for sentence in (s for s in _SENTENCE_END.split(line) if s):
        while len(sentence) > MAX_CHARS:
            out.append(sentence[:MAX_CHARS])
            sentence = sentence[MAX_CHARS:]
        if current and len(current) + len(sentence) > TARGET_CHARS:
            out.append(current)
            current = ""
        current += sentence
    if current:
        out.append(current)
    return out
