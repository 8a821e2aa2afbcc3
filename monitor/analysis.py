"""What is worked out of new articles before they are stored: each one's story sketch and the rules' hits on it.

It is pure CPU work and needs no lock, so the pipeline does it before its storing transaction, on the articles
that look new: in the calling thread, or on the parse pool's worker processes (``ingest.parsepool``), which
then hold a matcher built from the same rules. Rules read an article's title, and as its text the feed's text
followed by its page's main text when it has one (``article.readable_text``); its sketch is of the title and the
feed's text only, so that it compares with copies of the story from feeds read without full text.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.ingest import stories
from monitor.ingest.article import ParsedArticle, readable_text
from monitor.ingest.normalize import plausible_published
from monitor.matching import Hit, Matcher
from monitor.matching.text import fold_words


@dataclass(frozen=True)
class Analysis:
    """By content key: each article's MinHash signature, and the hits of the articles that were matched."""

    sketches: dict[str, bytes]
    hits: dict[str, list[Hit]]


def recent(articles: Sequence[ParsedArticle], since: datetime | None) -> set[str]:
    """Return the content keys of the articles published since ``since`` (all of them without it; an undated
    article is always recent)."""
    return {a.content_key for a in articles if since is None or a.published is None or a.published >= since}


def with_plausible_dates(articles: Sequence[ParsedArticle], fetched: datetime) -> list[ParsedArticle]:
    """Return the articles with a date too far in the future replaced by the time they were fetched."""
    return [
        article
        if (published := plausible_published(article.published, fetched)) == article.published
        else replace(article, published=published)
        for article in articles
    ]


def analyze(matcher: Matcher, articles: Sequence[ParsedArticle], to_match: Set[str]) -> Analysis:
    """Return the sketch of every article, and the hits of those whose content key is in ``to_match``."""
    sketches: dict[str, bytes] = {}
    hits: dict[str, list[Hit]] = {}
    for article in articles:
        if article.content_key in to_match:
            # Tokenized once, for the rules and for the sketch.
            text = readable_text(article.text, article.full_text)
            document = matcher.document(article.title, text, article.language)
            hits[article.content_key] = matcher.match_document(document)
            text_words = fold_words(article.text)[0] if article.full_text else document.text.words
            words = document.title.words + text_words
        else:
            words = fold_words(article.title)[0] + fold_words(article.text)[0]
        sketches[article.content_key] = stories.sketch(words)
    return Analysis(sketches, hits)
