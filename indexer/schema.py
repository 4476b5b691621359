"""The one Whoosh schema of the article index."""

import json
import re

from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from .analysis import bigram_analyzer, mixed_analyzer, spelling_analyzer
from .passages import split_passages

# Field weights: a word in the title says more about an article than the same word in its body.
FIELD_BOOSTS = {"title": 5.0, "keywords": 3.0, "summary": 2.0, "headings": 2.0, "body": 1.0}
GRAMS_BOOST = 0.35  # bigram recall field: enough to find, never enough to outrank a real match
SEARCH_FIELDS = tuple(FIELD_BOOSTS)


def article_schema() -> Schema:
    """Fields of one indexed article; text fields share the mixed Chinese/English analyzer."""
    text = mixed_analyzer()
    return Schema(
        slug=ID(stored=True, unique=True),
        path=STORED,
        url=STORED,
        title=TEXT(analyzer=text, stored=True, field_boost=FIELD_BOOSTS["title"], phrase=False),
        keywords=TEXT(analyzer=text, field_boost=FIELD_BOOSTS["keywords"], phrase=False),
        summary=TEXT(analyzer=text, stored=True, field_boost=FIELD_BOOSTS["summary"], phrase=False),
        headings=TEXT(analyzer=text, field_boost=FIELD_BOOSTS["headings"], phrase=False),
        body=TEXT(analyzer=text, stored=True, field_boost=FIELD_BOOSTS["body"], phrase=False),
        words=TEXT(analyzer=spelling_analyzer(), phrase=False),
        grams=TEXT(analyzer=bigram_analyzer(), field_boost=GRAMS_BOOST, phrase=False),
        tags=KEYWORD(stored=True, commas=True, lowercase=True),
        module=ID(stored=True),
        reviewed=STORED,
        content_hash=STORED,
        passages=STORED,  # JSON [[heading, anchor, text], ...]: what the semantic stage embeds and quotes
        blocks=STORED,  # JSON [[heading, anchor, kind, html, text, passage number], ...]: what the answer box quotes
    )


def article_fields(article) -> dict:
    """The Whoosh document for an Article."""
    passages = split_passages(article)
    return {
        "slug": article.slug,
        "path": article.path,
        "url": article.url,
        "title": article.title,
        "keywords": " ".join(article.tags),
        "summary": article.summary,
        "headings": " \n".join(article.headings),
        "body": article.body,
        "words": " ".join([article.title, article.summary, article.body]),
        "grams": " ".join([article.title, article.summary, " ".join(article.tags), " ".join(article.headings)]),
        "tags": ",".join(t.lower() for t in article.tags),
        "module": article.module,
        "reviewed": article.reviewed.isoformat() if article.reviewed else None,
        "content_hash": article.content_hash,
        "passages": json.dumps([[p.heading, p.anchor, p.text] for p in passages], ensure_ascii=False),
        "blocks": json.dumps([[b.heading, b.anchor, b.kind, b.html, b.text, _passage_of(b, passages)]
                              for b in article.blocks], ensure_ascii=False),
    }


_SPACE = re.compile(r"\s+")
_MARKER = re.compile(r"^(?:\d+\.|•) |^[^:\n]{0,40}: ")  # a list number or a table column name


def _passage_of(block, passages) -> int:
    """The embedded passage a block lies in (its vector stands for the block's meaning)."""
    probe = _SPACE.sub("", _MARKER.sub("", block.text.split("\n")[0]))[:30]
    same_section = [i for i, p in enumerate(passages) if p.anchor == block.anchor]
    for i in same_section + list(range(len(passages))):
        if probe and probe in _SPACE.sub("", passages[i].text):
            return i
    return same_section[0] if same_section else 0
