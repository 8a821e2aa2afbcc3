"""The value every ingest path produces and storage consumes, and the text that rules read of it."""

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
    # The main text of its page, for a feed with full text (``ingest.pages``); "" when none was read.
    full_text: str = ""


def readable_text(text: str, full_text: str | None) -> str:
    """Return what a rule's ``text:`` field reads: the feed's text, then the page's main text.

    The feed's text is left out when the page's text holds it already (a teaser that is the article's first
    paragraph), so that it is not matched, nor its snippet cut, twice.
    """
    if not full_text:
        return text
    if not text or text in full_text:
        return full_text
    return f"{text}\n\n{full_text}"
