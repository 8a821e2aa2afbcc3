"""Parse feed bytes (RSS 2.0, RSS 1.0/RDF, Atom) with feedparser into ParsedArticle values.

The bytes are made safe before feedparser sees them: UTF-16 and UTF-32 documents are re-encoded as UTF-8, and NUL
bytes are dropped (PostgreSQL rejects them in text). No entity that a document declares is ever expanded
(billion laughs, quadratic blow-up) and none is read from a file or a URL: feedparser's XML parser is the expat
reader of ``saxdriver``, which refuses entity declarations, and its tolerant parser, which then reads the
document, is given no entity to expand (``loose``): each reference to one stays as written. feedparser's HTML
sanitizer and relative-URI resolution are off: titles and contents become plain text here
(``normalize.html_to_text`` drops scripts, styles and every tag), so nothing of the markup survives for them to
protect. Text that a wrong charset declaration left with C1 control characters (Windows-1252 served as
ISO-8859-1) gets its Windows-1252 characters back.

A document that is not a feed (an HTML page, JSON, garbage) raises ``NotAFeedError``; one that is a feed but
cannot be read raises ``FeedParseError``. At most MAX_ENTRIES entries are kept, titles are cut at MAX_TITLE
characters and texts at ``max_text`` (MAX_TEXT unless told), never inside a character or before a combining mark.
"""

from __future__ import annotations

import calendar
import codecs
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from xml.sax import SAXException

import feedparser
import feedparser.api
import feedparser.mixin
import feedparser.urls

from monitor.errors import FeedParseError
from monitor.ingest import loose
from monitor.ingest.article import ParsedArticle
from monitor.ingest.normalize import article_keys, clean_text, content_key, cut, html_to_text

MAX_ENTRIES = 1000
MAX_TITLE = 1000
MAX_TEXT = 200_000
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_WIDE_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_XML_ENCODING = re.compile(rb"""^((?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*)(["'])([^"']*)\2""", re.IGNORECASE)
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^;\"'\s]*)[\"']?", re.IGNORECASE)
_LATIN1_NAMES = ("iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
_UNREADABLE = re.compile(r"[\x00\x80-\x9f\ud800-\udfff]")
_C1 = {code: bytes([code]).decode("cp1252", errors="ignore") or None for code in range(0x80, 0xA0)}
_LOOKS_HTML = re.compile(rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
# An absolute http(s) URL with a plain host and path, and no query, fragment or parameters: ``urljoin`` returns it
# unchanged whatever the base.
_PLAIN_ABSOLUTE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~!$&'()*+,=:@%/-]*")


def _urljoin(base: str, uri: str) -> str:
    """Return ``uri`` resolved against ``base``, as feedparser resolves it."""
    if _PLAIN_ABSOLUTE_URL.fullmatch(uri):
        return uri
    joined: str = feedparser.urls._urljoin(base, uri)
    return joined


# feedparser joins the base URI of every element it opens with its parent's, and resolves every link and id
# against it: a full ``urljoin`` each time, a fifth of its parsing time. Both joins are pure functions of their
# strings: the base joins (a feed has one base, or a few) are remembered, and a link already absolute is kept.
feedparser.mixin.make_safe_absolute_uri = lru_cache(maxsize=256)(feedparser.urls.make_safe_absolute_uri)
feedparser.mixin._urljoin = _urljoin
# It reads documents with the expat reader of ``saxdriver``, which refuses entity declarations and hands each run
# of text over in one piece; the DOCTYPE is left in place for it to see.
feedparser.api.PREFERRED_XML_PARSERS = ["monitor.ingest.saxdriver"]


# Its tolerant parser, for documents the strict one refuses, is given no entity to expand (``loose``).
feedparser.api.replace_doctype = loose.read_doctype
feedparser.api.LooseFeedParser = loose.LooseParser


class NotAFeedError(FeedParseError):
    """Raised when fetched bytes are a document of another kind (an HTML page, JSON, garbage)."""


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's entries as articles, and how long the feed asks to be cached (its ``<ttl>``), if it says."""

    articles: list[ParsedArticle]
    ttl: timedelta | None = None


def parse_feed(
    content: bytes,
    source: str,
    headers: Mapping[str, str] | None = None,
    base_url: str | None = None,
    max_entries: int = MAX_ENTRIES,
    max_text: int = MAX_TEXT,
) -> ParsedFeed:
    """Return the entries of a feed document as articles, texts cut at ``max_text`` characters; raise
    NotAFeedError or FeedParseError."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if base_url:
        response_headers.setdefault("content-location", base_url)
    document = _make_safe(content, response_headers)
    try:
        parsed = feedparser.parse(
            io.BytesIO(document),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser's fallback parser raises on a few malformed documents
        raise FeedParseError(f"feed '{source}': parse error: {type(exc).__name__}: {exc}") from None
    if not parsed.get("version") and not parsed.entries:
        raise NotAFeedError(f"feed '{source}': not a feed{_why_not(document, parsed, response_headers)}")
    feed_language = _language(parsed.feed.get("language") or response_headers.get("content-language"))
    articles = []
    for entry in parsed.entries[:max_entries]:
        article = _article(entry, source, feed_language, max_text)
        if article is not None:
            articles.append(article)
    # Broken XML that gave nothing to read is an error, even where the tolerant parser began an empty entry.
    if not articles and isinstance(parsed.get("bozo_exception"), SAXException):
        raise FeedParseError(f"feed '{source}': parse error: {parsed['bozo_exception']}")
    return ParsedFeed(articles, _ttl(parsed.feed.get("ttl")))


def _make_safe(content: bytes, headers: dict[str, str]) -> bytes:
    """Return the document without NUL bytes, re-encoded as UTF-8 if it has to be.

    UTF-16 and UTF-32 are re-encoded (their NUL bytes are part of the characters), and so is Windows-1252 that
    is declared as ISO-8859-1 (or ASCII); ``headers`` then have their charset changed to match.
    """
    encoding = _recode_from(content, headers)
    if encoding is not None:
        text = content.decode(encoding, errors="replace").lstrip("\ufeff")
        content = _XML_ENCODING.sub(rb'\1"utf-8"', text.encode("utf-8"), count=1)
        if "content-type" in headers:
            headers["content-type"] = _CHARSET.sub("", headers["content-type"]) + "; charset=utf-8"
    return content.replace(b"\x00", b"")


def _recode_from(content: bytes, headers: Mapping[str, str]) -> str | None:
    """Return the encoding to read the document with before feedparser does, if feedparser would read it wrong."""
    for bom, encoding in _WIDE_BOMS:
        if content.startswith(bom):
            return encoding
    declared = _XML_ENCODING.match(content)
    charset = _CHARSET.search(headers.get("content-type", ""))
    name = declared.group(3).decode("ascii", "replace") if declared else charset.group(1) if charset else ""
    if name.strip().lower() in _LATIN1_NAMES and _C1_BYTES.search(content):
        return "cp1252"  # as browsers do: Windows-1252 is what such documents almost always are
    return None


def _why_not(document: bytes, parsed: Any, headers: Mapping[str, str]) -> str:
    if not document.strip():
        return ": the document is empty"
    if _LOOKS_HTML.search(document[:4096]) or headers.get("content-type", "").startswith("text/html"):
        return ": an HTML page"
    reason = parsed.get("bozo_exception")
    return f": {reason}" if reason else ""


def _ttl(value: Any) -> timedelta | None:
    text = str(value or "").strip()
    if not text.isdigit() or int(text) == 0:
        return None
    return timedelta(minutes=min(int(text), 7 * 24 * 60))


def _article(entry: Any, source: str, feed_language: str | None, max_text: int) -> ParsedArticle | None:
    # Plain look-ups, much cheaper than feedparser's: none of the keys read from ``fields`` is one of its aliases.
    fields = dict(entry)
    title = cut(_text_of(fields.get("title_detail"), fields.get("title", "")), MAX_TITLE)
    body = cut(_body(fields), max_text)
    link = _value(fields.get("link"))
    if not title and not body:
        return None
    if not title:
        title = body[:200].split("\n", 1)[0]
    guid = _value(fields.get("id"))
    return ParsedArticle(
        content_key=content_key(guid, link, title, body, scope=source),
        source=source,
        title=title,
        text=body,
        url=link,
        author=clean_text(_repair(fields.get("author", ""))) or None,
        language=_entry_language(fields) or feed_language,
        published=_published(entry),
        keys=article_keys(guid, link, title, body, scope=source),
    )


def _value(value: Any) -> str | None:
    """Return an identifier (link, GUID) as clean one-line text, or None if it is empty."""
    return clean_text(_repair(value or "")).replace("\n", " ") or None


def _repair(value: Any) -> str:
    """Return text without NUL or lone surrogates, and with C1 controls read as the Windows-1252 they were."""
    text = str(value)
    if text.isascii():
        return text.replace("\x00", "")
    return _UNSAFE.sub("", text).translate(_C1) if _UNREADABLE.search(text) else text


def _body(entry: Any) -> str:
    """Return the text of the entry's longest content (or summary); a shorter one only when the longer is empty."""
    candidates = [(content, content.get("value", "")) for content in entry.get("content", []) or []]
    if entry.get("summary"):
        candidates.append((entry.get("summary_detail"), entry.get("summary", "")))
    # Longest as given first: turning markup into text is the costly part, and the longest rarely loses.
    for detail, value in sorted(candidates, key=lambda candidate: len(candidate[1]), reverse=True):
        text = _text_of(detail, value)
        if text:
            return text
    return ""


def _text_of(detail: Any, value: str) -> str:
    kind = (detail or {}).get("type", "text/html")
    if kind in _HTML_TYPES:
        return html_to_text(_repair(value))
    return clean_text(_repair(value))


def _entry_language(entry: Any) -> str | None:
    for detail in [entry.get("title_detail"), *(entry.get("content") or [])]:
        if detail and detail.get("language"):
            return _language(detail["language"])
    return None


def _language(value: str | None) -> str | None:
    if not value:
        return None
    return _repair(value).strip().replace("_", "-").lower()[:20] or None


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:  # the same instant as below, when every field is in its range
                year, month, day, hour, minute, second = value[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                pass
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
