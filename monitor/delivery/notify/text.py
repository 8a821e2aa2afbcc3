"""Text helpers shared by the renderers: clean feed text, cut it safely, format times and links.

``clean`` is the one gate every piece of feed text goes through before a renderer escapes it for a platform:

- line breaks are normalised to ``\\n`` (``\\r\\n``, ``\\r``, U+2028, U+2029);
- control characters other than newline and tab are dropped;
- bidirectional embeddings, overrides, isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
  U+061C) are dropped, so a headline cannot reorder the text around it;
- zero-width characters (U+200B-U+200D, U+2060, U+FEFF) are dropped, except a single joiner (U+200C or
  U+200D) between two visible characters that are not ASCII punctuation: that is how emoji families, Persian
  words and Indic conjuncts are spelled, and removing it changes what the text says, while a joiner beside
  ``@``, ``<``, ``_`` and the like only hides markup (``@``, U+200D, ``all``) from the mention breaking below;
- trailing whitespace is removed from each line, runs of blank lines become one, and the ends are trimmed.

``break_mentions`` is the last step of every chat renderer's escaping, on text already cleaned and escaped. It
puts a zero-width space (U+200B) where a mention would start, which no platform reads as part of a name:

- after ``@`` before ``everyone``, ``here``, ``channel`` and ``all``, wherever it stands;
- after any other ``@`` followed by a letter, digit, ``_``, ``.``, ``-``, ``:`` or a Markdown escape, unless an
  ASCII letter or digit comes right before it (``mail@example.com`` stays whole). Mattermost's server trims
  ``_``, ``.``, ``-`` and ``:`` off a word before looking for ``@name``, and its web app starts a mention after
  ``_`` or any character that is not an ASCII letter or digit, including a Markdown escape such as ``\\_``;
- after ``<`` before a letter, ``!``, ``@``, ``#`` or ``/``: ``<!channel>``, ``<@U123>``, ``<users/all>``,
  ``<at>`` and ``</cmd:1>`` are mentions in the platforms' own syntax wherever that text is not escaped.

``clean`` drops U+200B, so feed text cannot bring its own (or a joiner) to make a broken mention look whole to
this step: cleaning always comes first, breaking last, and ``break_mentions`` is idempotent.

``truncate`` and ``truncate_bytes`` never split a grapheme cluster (a letter and its accents, an emoji with
its skin tone, a ZWJ family), and the ellipsis they add counts toward the limit. ``fit`` cuts source text so
that its *rendered* form (escaped, marked up) fits a platform limit.

``excerpt`` is what a message quotes of the article: the snippet when the match is in the text; when it is in
the title, which the message shows anyway, the first sentence of the text instead (``lead``), so a message
never shows the title twice. The matched words of the quote are wrapped in ``OPEN`` and ``CLOSE``, two
private-use characters that are taken out of the article's own text first: cleaning and cutting keep them in
place, and ``split_marked`` reads them back, so that nothing a feed writes (``**``, ``_``, ``<b>``) can pass for
a match. ``unmarked`` gives the quote back as plain text and the offsets of its matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

# regex ships without type stubs; only its grapheme matcher (\X) is used here.
import regex  # type: ignore[import-untyped, unused-ignore]

from monitor.store.message import AlertMessage, Highlights

ELLIPSIS = "…"
URL_LIMIT = 2048
# Around a matched word while a quote is cleaned, cut and escaped: private-use characters, no platform's markup.
OPEN, CLOSE = "\ue000", "\ue001"
# The longest first sentence a message quotes when the match is in the title.
LEAD_CHARS = 400
# A sentence ends at one of these (and its closing quotes or brackets), then spaces and a capital, a letter of a
# script without case, a digit or an opening mark, or the end; a CJK full stop or a danda wherever it is. So
# "U.S. officials" goes on; a "sentence" shorter than _SHORTEST_SENTENCE is taken for an abbreviation.
_SENTENCE_END = regex.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s+[\"'«“‘(\[\p{Lu}\p{Lt}\p{Lo}\d]|\s*$)|[。！？।]+[」』”’）]*")
_SHORTEST_SENTENCE = 20
_MARKERS = re.compile("[\ue000\ue001]")
_SPLIT = re.compile("([\ue000\ue001])")

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")
_CONTROLS_AND_BIDI = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]+")
_JOINERS = ("\u200c", "\u200d")
_TRAILING_SPACE = re.compile(r"[^\S\n]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
_GRAPHEME = regex.compile(r"\X")
_WHITESPACE = re.compile(r"\s+")
# See the module docstring: broadcast words after any "@", other names unless an ASCII letter or digit comes
# before the "@" (a match's edge right before it counts as nothing: a renderer may start a new run of text
# there, as Teams does), and the platforms' "<...>" mention syntax. A match's OPEN or CLOSE between the "@" or "<" and
# the name is seen through; _MENTIONS_ACROSS finds only those, for a quote about to be split at its matches.
_MENTION = (
    r"@(?={m}(?:everyone|here|channel|all))"
    r"|(?<![A-Za-z0-9])@(?={m}[\w.:\\-])"
    r"|<(?={m}[A-Za-z!@#/])"
)
_MENTIONS = re.compile(_MENTION.format(m="[\ue000\ue001]*"), re.IGNORECASE)
_MENTIONS_ACROSS = re.compile(_MENTION.format(m="[\ue000\ue001]+"), re.IGNORECASE)
_BREAK = "\u200b"
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_HOST = re.compile(r"[a-z0-9._-]+|\[[0-9a-f:.]+\]")


def clean(s: str) -> str:
    """Return s without control, bidirectional and stray zero-width characters, blank-line runs collapsed."""
    s = _NEWLINES.sub("\n", s)
    s = _CONTROLS_AND_BIDI.sub("", s)
    s = _ZERO_WIDTH.sub(_keep_joiner, s)
    s = _TRAILING_SPACE.sub("", s)
    s = _BLANK_RUNS.sub("\n\n", s)
    return s.strip()


def _keep_joiner(match: re.Match[str]) -> str:
    """Return the matched zero-width run if it is one joiner between visible characters, else nothing."""
    s, start, end = match.string, match.start(), match.end()
    lone_joiner = match.group() in _JOINERS and start > 0 and end < len(s)
    if lone_joiner and _joinable(s[start - 1]) and _joinable(s[end]):
        return match.group()
    return ""


def _joinable(c: str) -> bool:
    """Return whether a joiner beside c can be part of the spelling: c is neither a space nor ASCII punctuation."""
    return not c.isspace() and not (c.isascii() and not c.isalnum())


def one_line(s: str) -> str:
    """Return clean(s) with every run of whitespace, line breaks included, as a single space."""
    return _WHITESPACE.sub(" ", clean(s))


def truncate(s: str, limit: int) -> str:
    """Return s cut on a grapheme boundary to at most limit characters, ending in an ellipsis when cut."""
    return _cut(s, limit, len)


def truncate_bytes(s: str, limit: int) -> str:
    """Return s cut on a grapheme boundary to at most limit UTF-8 bytes, ending in an ellipsis when cut."""
    return _cut(s, limit, _utf8_len)


def _utf8_len(s: str) -> int:
    """Return the length of s in UTF-8 bytes."""
    return len(s.encode("utf-8", "surrogatepass"))


def utf8_len(s: str) -> int:
    """Return the length of s in UTF-8 bytes."""
    return _utf8_len(s)


def utf16_len(s: str) -> int:
    """Return the length of s in UTF-16 code units, as JavaScript and Telegram count it."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _cut(s: str, limit: int, size: Callable[[str], int]) -> str:
    """Return the longest grapheme prefix of s that fits limit with an ellipsis, measured by size."""
    if size(s) <= limit:
        return s
    budget = limit - size(ELLIPSIS)
    if budget < 0:
        return ""
    used = end = 0
    for match in _GRAPHEME.finditer(s):
        width = size(match.group())
        if used + width > budget:
            break
        used += width
        end = match.end()
    # Trimming only shortens the prefix, so the result still fits.
    return s[:end].rstrip().rstrip("".join(_JOINERS)) + ELLIPSIS


def fit(s: str, limit: int, render: Callable[[str], str], size: Callable[[str], int] = len) -> str:
    """Return render(truncate(s, n)) for the largest n found whose output's size is at most limit.

    The size is in characters unless ``size`` measures otherwise (``utf16_len`` for platforms that count UTF-16
    code units); it must never be smaller than the length in characters.
    """
    out = render(s)
    if size(out) <= limit:
        return out
    best = render("")
    if size(best) > limit:
        return ""
    # Escaping and marking up only grow text (a match's two markers become at least two marks), so 4 * limit
    # bounds the search.
    low, high = 0, min(len(s), 4 * limit)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = render(truncate(s, middle))
        if size(candidate) <= limit:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best


def excerpt(alert: AlertMessage) -> str:
    """Return what a message quotes of the alert's article, cleaned, its matched words between OPEN and CLOSE."""
    if alert.field == "title":
        return clean(lead(alert.opening, alert.article.title))
    return clean(marked(alert.snippet, alert.highlights))


def marked(text: str, highlights: Highlights) -> str:
    """Return text with each highlight between OPEN and CLOSE, any OPEN or CLOSE of its own taken out first."""
    pieces: list[str] = []
    cursor = 0
    for start, end in highlights:
        if start < cursor or end <= start:
            continue  # overlapping or empty: not a place a match can be
        pieces += [_MARKERS.sub("", text[cursor:start]), OPEN, _MARKERS.sub("", text[start:end]), CLOSE]
        cursor = end
    pieces.append(_MARKERS.sub("", text[cursor:]))
    return "".join(pieces)


def lead(text: str, title: str) -> str:
    """Return the first sentence of text, after the title when the text starts with it, at most LEAD_CHARS long."""
    body = one_line(_MARKERS.sub("", text))
    head = one_line(title)
    if head and body[: len(head)].casefold() == head.casefold():
        body = body[len(head) :].lstrip(" .:;,!?-–—|")
    for end in _SENTENCE_END.finditer(body):
        if end.end() >= _SHORTEST_SENTENCE or end.group()[0] in "。！？।":
            body = body[: end.end()]
            break
    return truncate(body, LEAD_CHARS)


def split_marked(snippet: str) -> list[tuple[str, bool]]:
    """Return a marked quote as (text, is_matched) pieces; a match cut short by an ellipsis ends before it."""
    pieces: list[tuple[str, bool]] = []
    matched = False
    for index, part in enumerate(_SPLIT.split(snippet)):
        if index % 2:
            matched = part == OPEN
        elif part:
            pieces.append((part, matched))
    if matched and pieces and pieces[-1][1] and pieces[-1][0].endswith(ELLIPSIS):
        # The cut fell inside a match: the ellipsis it added is not part of the match.
        text = pieces.pop()[0][: -len(ELLIPSIS)]
        pieces += [(text, True), (ELLIPSIS, False)] if text else [(ELLIPSIS, False)]
    return pieces


def unmarked(snippet: str) -> tuple[str, list[list[int]]]:
    """Return a marked quote as plain text and the ``[start, end]`` character offsets of its matches."""
    text, spans, length = [], [], 0
    for part, matched in split_marked(snippet):
        if matched:
            spans.append([length, length + len(part)])
        text.append(part)
        length += len(part)
    return "".join(text), spans


def break_mentions(s: str) -> str:
    """Return s with a zero-width space after every ``@`` or ``<`` that could start a mention (see above)."""
    # Call after clean, which removes U+200B. Mattermost finds mentions in the raw text, and a zero-width space
    # ends the word, so this is its only guard; for Discord and Slack (allowed_mentions, verbatim) it keeps the
    # text harmless when it is copied or quoted elsewhere.
    return _MENTIONS.sub(lambda match: match.group() + _BREAK, s)


def break_across_marks(s: str) -> str:
    """Return a marked quote with a zero-width space after each ``@`` or ``<`` whose mention a match starts.

    Escaped piece by piece, ``@`` and ``everyone`` in ``@`` OPEN ``everyone`` CLOSE would each look harmless.
    """
    return _MENTIONS_ACROSS.sub(lambda match: match.group() + _BREAK, s)


def iso(dt: datetime | None) -> str | None:
    """Return dt as an ISO 8601 UTC string ending in ``Z`` (whole seconds), or None."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        # Naive times in monitor are UTC (SQLite keeps no offset).
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def utc_label(dt: datetime | None) -> str:
    """Return dt as ``YYYY-MM-DD HH:MM UTC`` for people to read, or an empty string when unknown."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def web_url(url: str | None, limit: int = URL_LIMIT) -> str | None:
    """Return url as a percent-encoded ASCII http(s) URL, or None if it is not one or longer than limit."""
    if not url:
        return None
    url = clean(url)
    if not url or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    # Credentials in a link are how "https://bank.example@evil.example" phishing is spelled: refuse them.
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username or parts.password:
        return None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    path, query, fragment = (quote(p, safe=_URL_SAFE) for p in (parts.path, parts.query, parts.fragment))
    result = urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))
    return result if len(result) <= limit else None


def bold_marked(snippet: str, escape: Callable[[str], str]) -> str:
    """Return a snippet escaped piece by piece, its matched words wrapped in Markdown ``**`` (spaces kept outside)."""
    out: list[str] = []
    for text, matched in split_marked(break_across_marks(snippet)):
        escaped = escape(text)
        core = escaped.strip()
        if matched and core:
            lead, trail = escaped[: len(escaped) - len(escaped.lstrip())], escaped[len(escaped.rstrip()) :]
            out.append(f"{lead}**{core}**{trail}")
        else:
            out.append(escaped)
    return "".join(out)
