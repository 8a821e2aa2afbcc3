"""Queries on the article pages fetched for their full text: which are known, what came of each, by feed.

``PageStore`` is a part of ``Storage`` (which it is mixed into), like ``FeedStore``, and ``PageWrites`` a part
of its write transaction, so that the pages a feed's articles were read with are stored with those articles. A
page is keyed by the ``url_key`` of its article's canonical link: once a row is there, the page is never fetched
again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select

from monitor.store.models import Page
from monitor.store.tx import Writes, table_of

_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class PageOutcome:
    """What fetching one page gave, as it is stored: ``ok`` or the kind of failure, the answer's validators."""

    url_key: str
    feed: str
    outcome: str
    status_code: int | None = None
    etag: str | None = None
    last_modified: str | None = None


class PageWrites(Writes):
    """The step of a write transaction that records pages."""

    def record_pages(self, pages: Sequence[PageOutcome], now: datetime) -> None:
        """Record what fetching each page gave; a page recorded already (by another feed or instance) keeps its row."""
        if not pages:
            return
        rows = [
            {
                "url_key": page.url_key,
                "feed": page.feed,
                "outcome": page.outcome,
                "status_code": page.status_code,
                "etag": page.etag,
                "last_modified": page.last_modified,
                "fetched_at": now,
            }
            for page in {page.url_key: page for page in pages}.values()
        ]
        self.session.execute(self.insert_new(table_of(Page), "url_key"), rows)


class PageStore:
    """The queries on fetched pages."""

    engine: Engine
    reader: Engine

    def transaction(self) -> AbstractContextManager[PageWrites]:  # provided by Storage
        raise NotImplementedError

    def known_pages(self, keys: Iterable[str]) -> set[str]:
        """Return those of the page keys that were fetched (or tried) already."""
        wanted = list(dict.fromkeys(keys))
        table = table_of(Page)
        known: set[str] = set()
        with self.reader.connect() as connection:
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                chunk = wanted[start : start + _KEYS_PER_QUERY]
                known.update(connection.execute(select(table.c.url_key).where(table.c.url_key.in_(chunk))).scalars())
        return known

    def record_page(self, page: PageOutcome, now: datetime) -> None:
        """Record what fetching a page gave, on its own; a page recorded already keeps its row."""
        with self.transaction() as tx:
            tx.record_pages([page], now)

    def page_failures(self, feeds: Sequence[str], since: datetime) -> dict[str, dict[str, int]]:
        """Return, by feed and then by kind, how many of its pages fetched since ``since`` failed."""
        failures: dict[str, dict[str, int]] = {}
        names = list(feeds)
        with self.reader.connect() as connection:
            for start in range(0, len(names), _KEYS_PER_QUERY):
                rows = connection.execute(
                    select(col(Page.feed), col(Page.outcome), func.count())
                    .where(col(Page.feed).in_(names[start : start + _KEYS_PER_QUERY]))
                    .where(col(Page.outcome) != "ok", col(Page.fetched_at) >= since)
                    .group_by(col(Page.feed), col(Page.outcome))
                )
                for feed, outcome, count in rows:
                    failures.setdefault(feed, {})[outcome] = int(count)
        return failures
