"""Turn what sources give into clean values: HTML to text, canonical URLs, content keys, language."""

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
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hsenc|_hsmi|mkt_tok|"
    r"ocid|cmpid|xtor|at_medium|at_campaign|ito|ref_src|smid|sr_share)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Runs of spaces other than one plain space (which would be replaced by itself).
_SPACE = r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]"
_SPACES = re.compile(rf"[\t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]{_SPACE}*| {_SPACE}+")
# Blank lines, once every line is stripped: three line breaks or more.
_BLANK_LINES = re.compile(r"\n{3,}")
_UNCLEAN = re.compile(r"[\x00-\x1f\x7f\u00a0\u2000-\u200a\u202f\u205f\u3000]|  ")
_LANGUAGE_MIN_LETTERS = 20
_LANGUAGE_MIN_PROBABILITY = 0.8
# Clocks and time zones of feeds are often a little off; a date further ahead than this is a mistake.
FUTURE_TOLERANCE = timedelta(days=1)


def clean_text(text: str) -> str:
    """Return text without control characters, with runs of spaces and blank lines collapsed."""
    if _UNCLEAN.search(text) is None:
        return text.strip()  # one line, single spaces: most titles, links and names
    text = _SPACES.sub(" ", _CONTROL.sub("", text.replace("\r\n", "\n")))
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()


def html_to_text(markup: str) -> str:
    """Return the readable text of an HTML fragment: tags dropped, entities decoded, blocks on their own lines."""
    if "<" not in markup:
        return clean_text(html.unescape(markup))
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for node in tree.css(_BLOCK_TAGS):
        node.insert_after("\n")
    for node in tree.css("img[alt]"):
        node.insert_after(f" {node.attributes.get('alt') or ''} ")
    root = tree.root
    return clean_text(root.text(separator="") if root is not None else "")


@lru_cache(maxsize=4096)
def canonical_url(url: str) -> str:
    """Return the URL with a lower-case scheme and host, no default port, fragment or tracking parameters."""
    url = url.strip()
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


def content_key(guid: str | None, url: str | None, title: str, text: str, scope: str) -> str:
    """Return the key that makes an article unique: its GUID, else its canonical URL, else a content hash.

    A GUID that is an http(s) URL is keyed as that URL so the same story from two feeds is one article;
    any other GUID is only unique within its feed, so it is scoped by ``scope`` (the feed's name).
    """
    guid = (guid or "").strip()
    if guid:
        if re.match(r"^https?://", guid, re.IGNORECASE):
            return "url:" + canonical_url(guid)
        return "guid:" + hashlib.sha256(f"{scope}\n{guid}".encode()).hexdigest()
    if url and url.strip():
        return "url:" + canonical_url(url)
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
        keys.append("url:" + canonical_url(url))
    folded = fold(text)
    if folded:
        keys.append("fp:" + hashlib.sha256(f"{fold(title)}\n{folded}".encode()).hexdigest())
    return tuple(dict.fromkeys(keys))


def fold(text: str) -> str:
    """Return the text's words, case- and accent-folded, joined by single spaces: punctuation and spacing vanish.

    Two titles equal after folding are "trivially edited" copies of each other (``Nato's  Summit!`` and
    ``nato s summit``).
    """
    if text.isascii():
        return " ".join(_WORD.findall(text.lower()))
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
