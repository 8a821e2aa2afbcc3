"""The main text of an article's page: the body, without navigation, asides, comments and footers.

Two steps, both pure. ``page_markup`` runs where the page was fetched and is cheap: it checks that the body is
HTML (``text/html`` or XHTML, or no type and a body that starts like HTML; never a PDF), decodes it (the
charset of the Content-Type, a byte order mark, a ``<meta charset>``, else UTF-8, else a guess), drops scripts,
styles, SVG, templates and comments in one pass over the bytes, and keeps at most MAX_MARKUP bytes of what
remains. ``main_text`` runs on a worker process: trafilatura finds the main text (its own extractor, then its
readability and jusText fallbacks when that finds little), which is cleaned like any article text and cut at
``[ingest] max_text``.

Why the cut: trafilatura's time and memory grow faster than the markup. Measured on a page whose body is links,
512 KB of markup take about 2 s and 75 MB, 1 MB about 6 s and 190 MB, 13 MB four minutes and 3 GB. Without
scripts and styles a news page's markup is rarely over 300 KB, and its article comes before its comments and
footer, so the cut loses nothing in practice.
"""

from __future__ import annotations

import codecs
import re
from functools import cache
from typing import Any

from monitor.ingest.normalize import clean_text, cut

MAX_MARKUP = 512 * 1024
HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF = 1024
_META_WINDOW = 4096
_OPENING = re.compile(rb"<(script|style|noscript|template|svg|math|iframe|object)\b|<!--", re.IGNORECASE)
_CLOSING = {
    name: re.compile(rb"</" + name + rb"\s*>", re.IGNORECASE)
    for name in (b"script", b"style", b"noscript", b"template", b"svg", b"math", b"iframe", b"object")
}
_COMMENT_END = re.compile(rb"-->")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_HTML_START = re.compile(
    rb"\s*(?:<\?xml|<!doctype\s+html|<html|<head|<body|<!--|<meta|<title|<div|<p\b)", re.IGNORECASE
)
# What WHATWG's encoding standard reads these labels as: the Windows code page, a superset.
_WEB_ALIASES = {"iso8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class NotHtmlError(ValueError):
    """Raised for a page body that is not HTML: another Content-Type, or bytes that are plainly something else."""


def is_html_type(content_type: str | None) -> bool:
    """Return whether a Content-Type is HTML or XHTML; a missing one is judged by the body (``page_markup``)."""
    if not content_type:
        return True
    return content_type.split(";")[0].strip().lower() in HTML_TYPES


def page_markup(body: bytes, content_type: str | None, limit: int = MAX_MARKUP) -> str:
    """Return a page's markup decoded, without scripts, styles and comments, at most ``limit`` bytes of it.

    Raise NotHtmlError when the Content-Type is not HTML, or the body is a PDF, binary, or (with no type) does
    not start like HTML.
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in HTML_TYPES:
        raise NotHtmlError(f"the page is {kind}, not HTML")
    encoding = _declared(content_type) or _bom(body) or _meta_charset(body[:_META_WINDOW])
    head = body[:_SNIFF]
    if head.lstrip().startswith(b"%PDF") or (b"\x00" in head and encoding != "utf-16"):
        raise NotHtmlError("the page is not HTML (its body is a PDF or binary)")
    if encoding == "utf-16":
        body = body.decode(encoding, errors="replace").encode("utf-8")
        encoding = "utf-8"
    elif body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    if not kind and not _HTML_START.match(body[:_SNIFF]):
        raise NotHtmlError("the page has no Content-Type and does not start like HTML")
    return _decode(_stripped(body, limit), encoding)


def main_text(markup: str, url: str | None = None, max_text: int = 200_000) -> str:
    """Return the main text of a page's markup (from ``page_markup``), cleaned and cut at ``max_text``; ``""`` if
    none is found."""
    if not markup.strip():
        return ""
    found = _trafilatura().extract(
        markup,
        url=url,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
    )
    return cut(clean_text(found), max_text) if found else ""


@cache
def _trafilatura() -> Any:
    """Import trafilatura on first use: the parse workers that never extract a page do without it."""
    import logging

    import trafilatura

    # It reports pages it finds nothing in as warnings; the caller counts those as its own failures.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    return trafilatura


def _stripped(body: bytes, limit: int) -> bytes:
    """Return the body without scripts, styles, SVG, templates and comments, cut at ``limit`` bytes; one pass."""
    pieces: list[bytes] = []
    size, at = 0, 0
    while size < limit:
        found = _OPENING.search(body, at)
        piece = body[at : found.start() if found else len(body)][: limit - size]
        pieces.append(piece)
        size += len(piece)
        if found is None:
            break
        name = found.group(1)
        closing = _CLOSING[name.lower()] if name else _COMMENT_END
        end = closing.search(body, found.end())
        if end is None:
            break  # never closed: the rest of the page is inside it
        at = end.end()
    return b"".join(pieces)


def _decode(data: bytes, encoding: str | None) -> str:
    """Return ``data`` decoded with ``encoding``, else UTF-8, else the best guess; a sequence cut at the end is
    dropped."""
    if encoding is not None:
        return codecs.getincrementaldecoder(encoding)(errors="replace").decode(data, final=False)
    try:
        return codecs.getincrementaldecoder("utf-8")(errors="strict").decode(data, final=False)
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: _META_WINDOW * 16]).best()
    guess = best.encoding if best is not None else "cp1252"
    return codecs.getincrementaldecoder(_codec(guess) or "cp1252")(errors="replace").decode(data, final=False)


def _declared(content_type: str | None) -> str | None:
    """Return the codec of the Content-Type's charset parameter, if it names one Python knows."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return _codec(value.strip().strip("\"'"))
    return None


def _bom(body: bytes) -> str | None:
    return next((name for mark, name in _BOMS if body.startswith(mark)), None)


def _meta_charset(head: bytes) -> str | None:
    found = _META_CHARSET.search(head)
    return _codec(found.group(1).decode("ascii")) if found else None


def _codec(label: str) -> str | None:
    """Return Python's name for a charset label as browsers read it, or None if it names none."""
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith("utf-16") or name.startswith("utf-32"):
        return "utf-16" if name.startswith("utf-16") else None
    return _WEB_ALIASES.get(name, name)
