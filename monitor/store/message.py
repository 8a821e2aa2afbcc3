"""The plain alert value every renderer receives: no ORM rows, no I/O.

An alert's ``snippet`` is plain text and its ``highlights`` the ``(start, end)`` character offsets of the matched
words in it. Alerts recorded before highlights were stored apart carry ``**`` marks in their snippet instead;
``unmark`` reads those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# How much of an article's text an alert carries, for a message whose snippet is the title.
OPENING_CHARS = 1000

_MARKED = re.compile(r"\*\*(.+?)\*\*")

Highlights = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ArticleRef:
    """What a chat message says about the article that matched."""

    title: str
    url: str | None
    source: str
    published: datetime | None
    language: str | None


@dataclass(frozen=True)
class AlertMessage:
    """One alert as renderers see it: the rule, the article, why it matched."""

    id: int
    rule: str
    query: str
    article: ArticleRef
    snippet: str  # plain text from the field that matched (``field``)
    matched: tuple[str, ...]
    created_at: datetime
    field: str = "text"
    # The other articles of its story (the same story from other outlets) known when it is sent.
    also_in: tuple[ArticleRef, ...] = ()
    # The rule's priority when it sets one (``min``, ``low``, ``default``, ``high``, ``max``, ``urgent``).
    priority: str | None = None
    # Where the matched words lie in ``snippet``, in characters, sorted and apart.
    highlights: Highlights = ()
    # The start of the article's text (at most OPENING_CHARS), for a message whose snippet is from the title.
    opening: str = ""


def unmark(snippet: str) -> tuple[str, Highlights]:
    """Return a snippet written with ``**`` around its matches as plain text and highlights."""
    pieces: list[str] = []
    highlights: list[tuple[int, int]] = []
    length = cursor = 0
    for match in _MARKED.finditer(snippet):
        before, word = snippet[cursor : match.start()], match.group(1)
        pieces += [before, word]
        length += len(before)
        highlights.append((length, length + len(word)))
        length += len(word)
        cursor = match.end()
    pieces.append(snippet[cursor:])
    return "".join(pieces), tuple(highlights)
