"""Read the article files under ``seeds/``: an optional ``date`` line, then Markdown or plain text.

A seed file may start with ``date YYYY-MM`` (or ``date YYYY-MM-DD``, optionally with a time) followed by the
text, on the same line or the next. Markdown emphasis, links and headings are reduced to their text. The title
is the first sentence; the source is ``seeds/<file name>``; the language is detected when it is clear.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.ingest.article import ParsedArticle
from monitor.ingest.normalize import clean_text, content_key, detect_language, html_to_text

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SUFFIXES = (".txt", ".md", ".markdown")
MAX_TITLE = 200
_DATE_LINE = re.compile(
    r"^\s*date\s*:?\s+(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?)?)?(?=\s|$)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"”»)]|$)|[。！？]")
_BLOCK_CLOSE = {"paragraph_close", "heading_close", "list_item_close", "blockquote_close", "table_close"}


@dataclass(frozen=True)
class SeedFile:
    """A seed file's name, its bytes and their digest."""

    name: str
    path: Path
    content: bytes
    digest: str


def scan(directory: Path) -> list[SeedFile]:
    """Return the seed files under ``directory`` (sorted by name), or none if it does not exist."""
    if not directory.is_dir():
        return []
    files = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith("."):
            content = path.read_bytes()
            name = path.relative_to(directory).as_posix()
            files.append(SeedFile(name, path, content, hashlib.sha256(content).hexdigest()))
    return files


def parse_seed(name: str, raw: str) -> ParsedArticle | None:
    """Return the article a seed file holds, or None when it holds no text."""
    published, body = _split_date(raw.lstrip("\ufeff"))
    text = markdown_to_text(body)
    if not text:
        return None
    title = first_sentence(text)
    source = f"seeds/{name}"
    return ParsedArticle(
        content_key=content_key(None, None, title, text, scope=source),
        source=source,
        title=title,
        text=text,
        language=detect_language(text),
        published=published,
    )


def _split_date(raw: str) -> tuple[datetime | None, str]:
    match = _DATE_LINE.match(raw)
    if not match:
        return None, raw
    year, month, day, hour, minute, second, zone = match.groups()
    zone_offset = timedelta(0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        zone_offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
    try:
        stamp = datetime(
            int(year),
            int(month),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(zone_offset),
        )
    except ValueError:
        return None, raw
    return stamp.astimezone(UTC), raw[match.end() :]


def markdown_to_text(source: str) -> str:
    """Return the plain text of a Markdown document: emphasis, links and headings reduced to their words."""
    pieces: list[str] = []
    for token in _markdown().parse(source):
        if token.type == "inline":
            pieces.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            pieces.append(token.content)
        elif token.type == "html_block":
            pieces.append(html_to_text(token.content))
        if token.type in _BLOCK_CLOSE or token.type in ("fence", "code_block", "html_block"):
            pieces.append("\n\n")
    return clean_text("".join(pieces))


@cache
def _markdown() -> MarkdownIt:
    """Return the CommonMark parser, made on first use."""
    # Imported here: the daemon reads seed files seldom, and a cycle without them need not hold the module.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _inline_text(children: list[Token]) -> str:
    out = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(_inline_text(child.children or []))
        elif child.type == "html_inline":
            continue
    return "".join(out)


def first_sentence(text: str) -> str:
    """Return the text's first sentence (at most MAX_TITLE characters, cut at a word)."""
    line = text.split("\n", 1)[0].strip()
    end = _SENTENCE_END.search(line)
    sentence = line[: end.start()] if end and line[end.start()] == "." else line[: end.end()] if end else line
    if len(sentence) <= MAX_TITLE:
        return sentence
    return sentence[:MAX_TITLE].rsplit(" ", 1)[0] + "…"
