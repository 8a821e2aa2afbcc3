"""Turn what sources give into clean values: HTML to text, texts cut to size, canonical URLs, content keys,
language."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

_BLOCK_TAGS = (
    "p,br,div,li,ul,ol,h1,h2,h3,h4,h5,h6,blockquote,pre,table,tr,section,article,header,footer,figure,"
    "figcaption,hr,dd,dt"
)
_DROP_TAGS = "script,style,noscript,template,iframe,object,svg"
_DROP_OPENINGS = tuple(f"<{name}" for name in _DROP_TAGS.split(","))
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hsenc|_hsmi|mkt_tok|"
    r"ocid|cmpid|xtor|at_medium|at_campaign|ito|ref_src|smid|sr_share)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP = re.compile(r"https?://", re.IGNORECASE)
# An http(s) URL with a lower-case host and a path, and no port, user, query, fragment, space or control character.
_PLAIN_URL = re.compile(r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*/[^?#\x00-\x20\x7f]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Runs of spaces other than one plain space (which would be replaced by itself).
_SPACE = r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]"
_SPACES = re.compile(rf"[\t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]{_SPACE}*| {_SPACE}+")
# Blank lines, once every line is stripped: three line breaks or more.
_BLANK_LINES = re.compile(r"\n\n\n+")
_BLANK_BYTES = re.compile(b"\n\n\n+")
# For ASCII text, on bytes: the control characters of _CONTROL, and a table that turns tabs and returns to spaces.
_ASCII_CONTROLS = bytes(code for code in range(128) if _CONTROL.match(chr(code)))
_ASCII_SPACES = bytes.maketrans(b"\t\r", b"  ")
_SPACE_RUN = re.compile(b"  +")
_LANGUAGE_MIN_LETTERS = 20
_LANGUAGE_MIN_PROBABILITY = 0.8
# The longest key an article is stored under (the keys' columns are this wide).
MAX_KEY = 600
# Long texts are unescaped this many characters at a time; a reference is at most this long (``&#x10FFFF;``,
# ``&CounterClockwiseContourIntegral;``).
_UNESCAPE_PIECE = 64 * 1024
_REFERENCE_ROOM = 40
# ``cut`` steps back over at most this many characters that belong to the one before them.
_MAX_CLUSTER = 32
_JOINER = "\u200d"
_JOINERS = "\u200c\u200d"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")
# Clocks and time zones of feeds are often a little off; a date further ahead than this is a mistake.
FUTURE_TOLERANCE = timedelta(days=1)


def clean_text(text: str) -> str:
    """Return text without control characters, with runs of spaces and blank lines collapsed."""
    if text.isprintable() and "  " not in text:
        return text.strip()  # one line, single spaces: most titles, links and names
    if text.isascii():
        return _clean_ascii(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    text = "\n".join([_clean_line(line) for line in text.split("\n")])
    return (_BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def _clean_ascii(text: str) -> str:
    """Return ``clean_text`` of ASCII text, computed on bytes: controls gone, spaces are blanks, tabs, returns."""
    raw = text.encode("ascii")
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    raw = _SPACE_RUN.sub(b" ", raw.translate(_ASCII_SPACES, _ASCII_CONTROLS))
    raw = b"\n".join([line.strip(b" ") for line in raw.split(b"\n")])
    return (_BLANK_BYTES.sub(b"\n\n", raw) if b"\n\n\n" in raw else raw).strip().decode("ascii")


def _clean_line(line: str) -> str:
    """Return one line without control characters, runs of spaces collapsed, stripped."""
    if line.isprintable():  # no control characters, and no space but the plain one
        return line.strip() if "  " not in line else _SPACES.sub(" ", line).strip()
    return _SPACES.sub(" ", _CONTROL.sub("", line)).strip()


def cut(text: str, size: int) -> str:
    """Return text cut to ``size`` characters at most, before any mark or joiner that belongs to the last one."""
    if len(text) <= size:
        return text
    end = size
    while size - end < _MAX_CLUSTER and end > 0 and (_joins_previous(text[end]) or text[end - 1] == _JOINER):
        end -= 1
    if size - end == _MAX_CLUSTER:
        end = size  # not a character with its marks: a run of marks, cut anywhere
    return text[:end].rstrip()


def _joins_previous(char: str) -> bool:
    """Return whether a character is drawn with the one before it: a combining mark, a variation selector (both
    marks), a zero-width joiner or non-joiner, or an emoji skin tone."""
    return unicodedata.category(char).startswith("M") or char in _JOINERS or _SKIN_TONES[0] <= char <= _SKIN_TONES[1]


def html_to_text(markup: str) -> str:
    """Return the readable text of an HTML fragment: tags dropped, entities decoded, blocks on their own lines."""
    if "<" not in markup:
        return clean_text(_unescape(markup))
    return clean_text(_parsed_text(markup))


def _unescape(text: str) -> str:
    """Return the text with its character references decoded, a piece at a time when it is long.

    ``html.unescape`` makes a string of each reference before joining them: a long run of ``&x;`` would cost
    twenty times its size. A piece never ends inside a reference, unless one is longer than _REFERENCE_ROOM.
    """
    if len(text) <= _UNESCAPE_PIECE or "&" not in text:
        return html.unescape(text)
    pieces, start, size = [], 0, len(text)
    while start < size:
        end = min(start + _UNESCAPE_PIECE, size)
        if end < size:
            at = text.rfind("&", end - _REFERENCE_ROOM, end)
            end = at if at > start else end
        pieces.append(html.unescape(text[start:end]))
        start = end
    return "".join(pieces)


def _parsed_text(markup: str) -> str:
    """Return the text of any markup as an HTML parser reads it, a line break after each block, alt text of images."""
    tree = LexborHTMLParser(markup)
    lowered = markup.lower()
    if any(opening in lowered for opening in _DROP_OPENINGS):
        for node in tree.css(_DROP_TAGS):
            node.decompose()
    if "<im" in lowered:  # <img>, or <image>, which HTML parsers read as <img>
        for node in tree.css(_BLOCK_TAGS + ",img[alt]"):
            node.insert_after(f" {node.attributes.get('alt') or ''} " if node.tag == "img" else "\n")
    else:
        for node in tree.css(_BLOCK_TAGS):
            node.insert_after("\n")
    root = tree.root
    return root.text(separator="") if root is not None else ""


@lru_cache(maxsize=4096)
def canonical_url(url: str) -> str:
    """Return the URL with a lower-case scheme and host, no default port, fragment or tracking parameters."""
    url = url.strip()
    if _PLAIN_URL.fullmatch(url):
        return url  # already canonical: nothing below would change it
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc += f":{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def url_key(url: str) -> str:
    """Return the key of an article known by its URL: ``url:`` and the canonical URL, or its SHA-256 when the key
    would be longer than MAX_KEY (the keys' columns hold no more)."""
    key = "url:" + canonical_url(url)
    if len(key) <= MAX_KEY:
        return key
    return "url:sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def content_key(guid: str | None, url: str | None, title: str, text: str, scope: str) -> str:
    """Return the key that makes an article unique: its GUID, else its canonical URL, else a content hash.

    A GUID that is an http(s) URL is keyed as that URL so the same story from two feeds is one article;
    any other GUID is only unique within its feed, so it is scoped by ``scope`` (the feed's name).
    """
    guid = (guid or "").strip()
    if guid:
        if _HTTP.match(guid):
            return url_key(guid)
        return "guid:" + hashlib.sha256(f"{scope}\n{guid}".encode()).hexdigest()
    if url and url.strip():
        return url_key(url)
    digest = hashlib.sha256(f"{_fingerprint(title)}\n{_fingerprint(text)}".encode()).hexdigest()
    return "sha256:" + digest


def article_keys(guid: str | None, url: str | None, title: str, text: str, scope: str) -> tuple[str, ...]:
    """Return every key under which an article is known: its GUID, its canonical URL, its title+text fingerprint.

    An article is the same as a stored one if any of these keys was seen. The GUID is scoped to its feed unless it
    is an http(s) URL; the fingerprint (see ``fold``) is left out when the text is empty, since a bare title such
    as "Live updates" is not enough to tell two articles apart.
    """
    keys = [content_key(guid, None, title, text, scope)] if (guid or "").strip() else []
    if url and url.strip():
        keys.append(url_key(url))
    folded = fold(text)
    if folded:
        keys.append("fp:" + hashlib.sha256(f"{fold(title)}\n{folded}".encode()).hexdigest())
    return tuple(dict.fromkeys(keys))


def fold(text: str) -> str:
    """Return the text's words, case- and accent-folded, joined by single spaces: punctuation and spacing vanish.

    Two titles equal after folding are "trivially edited" copies of each other (``Nato's  Summit!`` and
    ``nato s summit``).
    """
    if text.isascii():  # words are runs of [a-z0-9_] once lower-cased: the rest becomes spaces, then collapses
        return _SPACE_RUN.sub(b" ", text.encode("ascii").translate(_ASCII_FOLD)).strip(b" ").decode("ascii")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(_WORD.findall(decomposed.translate(_UNMARKED)))


class _Unmarked(dict[int, int | None]):
    """Each character's code, or None for a combining mark; ``str.translate`` looks characters up here."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNMARKED = _Unmarked()
_WORD = re.compile(r"\w+")
# What ``fold`` does to ASCII: letters, digits and "_" (what \w matches there) kept, lower-cased; the rest spaces
# (the upper half of the table, which ``bytes.translate`` wants, is never used).
_ASCII_FOLD = bytes(ord(ch.lower()) if ch.isalnum() or ch == "_" else 32 for ch in map(chr, range(128))) + bytes(128)


def _fingerprint(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def plausible_published(published: datetime | None, fetched_at: datetime) -> datetime | None:
    """Return the publication time, or the fetch time when it lies more than ``FUTURE_TOLERANCE`` ahead of it."""
    if published is not None and published > fetched_at + FUTURE_TOLERANCE:
        return fetched_at
    return published


def detect_language(text: str) -> str | None:
    """Return the ISO 639-1 code of the text's language when it is clear, else None."""
    sample = text[:2000]
    if sum(ch.isalpha() for ch in sample) < _LANGUAGE_MIN_LETTERS:
        return None
    language, probability = _language_identifier().classify(sample)
    return str(language) if probability >= _LANGUAGE_MIN_PROBABILITY else None


@cache
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
