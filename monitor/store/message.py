"""The plain alert value every renderer receives: no ORM rows, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    snippet: str
    matched: tuple[str, ...]
    created_at: datetime
    field: str = "text"
    # The other articles of its story (the same story from other outlets) known when it is sent.
    also_in: tuple[ArticleRef, ...] = ()
    # The rule's priority when it sets one (``min``, ``low``, ``default``, ``high``, ``max``, ``urgent``).
    priority: str | None = None
