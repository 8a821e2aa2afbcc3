"""Find feeds in documents a user hands us: the outlines of an OPML file, the alternate links of an HTML page.

Both are pure: they take text or bytes and return data. OPML is read with the standard library's parser, after
refusing any ``<!DOCTYPE`` or ``<!ENTITY`` declaration, so no entity expands and nothing external is read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.etree import ElementTree

from selectolax.lexbor import LexborHTMLParser

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class OpmlError(ValueError):
    """Raised when an OPML document cannot be read or declares a DTD or entities."""


@dataclass(frozen=True)
class FoundFeed:
    """A feed found in a document: its URL and the title the document gives it (possibly empty)."""

    url: str
    title: str


def parse_opml(document: bytes) -> list[FoundFeed]:
    """Return the feeds of an OPML document (outlines with an ``xmlUrl``, nested ones too), in document order."""
    if _DECLARATION.search(document):
        raise OpmlError("OPML: DTD and entity declarations are refused")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise OpmlError(f"OPML: not well-formed XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"OPML: the root element is <{root.tag}>, not <opml>")
    found: list[FoundFeed] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            title = (outline.get("title") or outline.get("text") or "").strip()
            found.append(FoundFeed(url, title))
    return found


def alternate_feeds(html: str, base_url: str) -> list[FoundFeed]:
    """Return the feeds an HTML page announces with ``<link rel="alternate" type=...>``, hrefs made absolute.

    An href that cannot be made into a URL is skipped.
    """
    found: list[FoundFeed] = []
    for link in LexborHTMLParser(html).css("link[href]"):
        rel = (link.attributes.get("rel") or "").lower().split()
        kind = (link.attributes.get("type") or "").lower().split(";")[0].strip()
        href = (link.attributes.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            try:
                url = urljoin(base_url, href)
            except ValueError:  # such as an unclosed "[" in the host: not a link to anything
                continue
            if url not in (feed.url for feed in found):
                found.append(FoundFeed(url, (link.attributes.get("title") or "").strip()))
    return found


def slugify(text: str) -> str:
    """Return a feed name made of lower-case ASCII letters, digits and hyphens (``feed`` if nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-") or "feed"


def unique_name(wanted: str, taken: Iterable[str]) -> str:
    """Return ``wanted``, or ``wanted-2``, ``wanted-3``... the first that is not among ``taken``."""
    names = set(taken)
    if wanted not in names:
        return wanted
    number = 2
    while f"{wanted}-{number}" in names:
        number += 1
    return f"{wanted}-{number}"
