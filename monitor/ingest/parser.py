"""Parse feed bytes (RSS, Atom, RDF) with feedparser into ParsedArticle values."""

from __future__ import annotations

import calendar
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import FeedParseError
from monitor.ingest.article import ParsedArticle
from monitor.ingest.normalize import clean_text, content_key, html_to_text

MAX_ENTRIES = 1000
MAX_TITLE = 1000
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def parse_feed(
    content: bytes,
    source: str,
    headers: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> list[ParsedArticle]:
    """Return the entries of a feed document as articles; raise FeedParseError if it is not a feed."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if base_url:
        response_headers.setdefault("content-location", base_url)
    parsed = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f": {reason}" if reason else ""
        raise FeedParseError(f"feed '{source}': not a feed{detail}")
    feed_language = _language(parsed.feed.get("language") or response_headers.get("content-language"))
    articles = []
    for entry in parsed.entries[:MAX_ENTRIES]:
        article = _article(entry, source, feed_language)
        if article is not None:
            articles.append(article)
    return articles


def _article(entry: Any, source: str, feed_language: str | None) -> ParsedArticle | None:
    title = _text_of(entry.get("title_detail"), entry.get("title", ""))[:MAX_TITLE]
    body = _body(entry)
    link = entry.get("link") or None
    if not title and not body:
        return None
    if not title:
        title = body[:200].split("\n", 1)[0]
    guid = entry.get("id") or None
    return ParsedArticle(
        content_key=content_key(guid, link, title, body, scope=source),
        source=source,
        title=title,
        text=body,
        url=link,
        author=clean_text(entry.get("author", "")) or None,
        language=_entry_language(entry) or feed_language,
        published=_published(entry),
    )


def _body(entry: Any) -> str:
    candidates = []
    for content in entry.get("content", []) or []:
        candidates.append(_text_of(content, content.get("value", "")))
    if entry.get("summary"):
        candidates.append(_text_of(entry.get("summary_detail"), entry.get("summary", "")))
    return max(candidates, key=len, default="")


def _text_of(detail: Any, value: str) -> str:
    kind = (detail or {}).get("type", "text/html")
    if kind in _HTML_TYPES:
        return html_to_text(value)
    return clean_text(value)


def _entry_language(entry: Any) -> str | None:
    for detail in [entry.get("title_detail"), *(entry.get("content") or [])]:
        if detail and detail.get("language"):
            return _language(detail["language"])
    return None


def _language(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().replace("_", "-").lower()[:20] or None


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
