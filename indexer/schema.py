"""The one Whoosh schema of the article index."""

import json

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
    )


def article_fields(article) -> dict:
    """The Whoosh document for an Article."""
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
        "passages": json.dumps([[p.heading, p.anchor, p.text] for p in split_passages(article)], ensure_ascii=False),
    }
