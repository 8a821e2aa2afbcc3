"""The value every ingest path produces and storage consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ParsedArticle:
    """An article as read from a feed entry or a seed file, text already plain."""

    content_key: str
    source: str
    title: str
    text: str
    url: str | None = None
    author: str | None = None
    language: str | None = None
    published: datetime | None = None
    # Further keys the article is known by (``normalize.article_keys``): any one already seen makes it a copy.
    keys: tuple[str, ...] = ()
