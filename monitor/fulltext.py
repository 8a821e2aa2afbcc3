"""Give the new articles of a feed with full text the main text of their pages, before they are matched.

Two steps of ``pipeline.refresh_feed``. ``FullText.request``, as soon as the feed is read: of its articles,
those that look new and may alert (recent enough, ``analysis.recent``) and link to a page no one fetched yet get
it queued (``ingest.pages``), its main text to be extracted on a worker process: the run's parse pool when there
is one, else a small pool of EXTRACT_WORKERS processes of its own, started on first need. ``complete``, where
the feed is then stored: waits for those pages until ``[ingest] full_text_wait`` after they were asked for, and
returns the articles with their text and what each page gave, which the caller stores with the articles;
whatever is not read by then is matched on what it has. Each page's outcome is counted in the metrics and, when
it failed, logged at INFO: a page is never its feed's error. ``later`` runs the rest of a feed's refresh (its
pages, then storing) on one of FINISHING threads, so that a feed waiting for its pages holds none of the feed
poller's connections; since the wait began when the pages were asked for, a feed queued there behind others
waits no longer for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from monitor.analysis import recent
from monitor.ingest.article import ParsedArticle
from monitor.ingest.normalize import url_key
from monitor.ingest.pages import Page, PageFetcher, PageRequest, Policy, Ticket
from monitor.ingest.parsepool import ParsePool, default_workers
from monitor.observe.metrics import Metrics
from monitor.settings.config import Settings
from monitor.store.pages import PageOutcome
from monitor.store.storage import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")
EXTRACT_WORKERS = 2
FINISHING = 64


@dataclass(frozen=True)
class Pending:
    """A feed's articles that look new: those that may alert (which wait for their pages) and the backlog of a
    first poll (which does not); the page key of each article's link whose page was asked for (by content key);
    the ticket to collect the pages with."""

    feed: str
    articles: Sequence[ParsedArticle]
    backlog: Sequence[ParsedArticle]
    keys: Mapping[str, str]
    ticket: Ticket | None = None


class FullText:
    """The page fetcher and the extraction workers of one pipeline."""

    def __init__(self, storage: Storage, metrics: Metrics, clock: Callable[[], datetime]) -> None:
        self.storage = storage
        self.metrics = metrics
        self.clock = clock
        self.pages = PageFetcher(self._record)
        self._pool: ParsePool | None = None
        self._lock = threading.Lock()
        self._finishing = ThreadPoolExecutor(FINISHING, thread_name_prefix="full text")

    def later(self, feed: str, work: Callable[[], T]) -> Future[T]:
        """Return the future of ``work`` run on a finishing thread; a failure is logged there, and kept in it."""

        def logged() -> T:
            try:
                return work()
            except Exception:
                log.exception("feed '%s': refresh failed", feed, extra={"feed": feed})
                raise

        return self._finishing.submit(logged)

    def request(
        self,
        feed: str,
        articles: Sequence[ParsedArticle],
        alert_since: datetime | None,
        allow_private: bool,
        settings: Settings,
        pool: ParsePool | None = None,
    ) -> Pending:
        """Queue the pages of the new and recent articles that no one fetched yet; return what to complete with.

        Only the articles that look new and may alert are kept to be completed: a feed waiting for its pages holds
        no more, and stores its backlog meanwhile. ``allow_private`` is the feed's own address policy (whether its
        answer came from a non-public address); ``pool`` is the parse pool to extract on, if the caller has one.
        """
        fresh = self.storage.unseen(articles)
        wanted = recent(fresh, alert_since)
        waiting = [a for a in fresh if a.content_key in wanted]
        backlog = [a for a in fresh if a.content_key not in wanted]
        links = {a.content_key: a.url for a in waiting if a.url and _is_web(a.url)}
        keys = {key: url_key(url) for key, url in links.items()}
        known = self.storage.known_pages(keys.values()) if keys else set()
        requests = [
            PageRequest(feed, url, keys[key], allow_private) for key, url in links.items() if keys[key] not in known
        ]
        if not requests:
            return Pending(feed, waiting, backlog, {})
        http, ingest = settings.http, settings.ingest
        policy = Policy(
            deadline=http.timeout.total_seconds(),
            max_bytes=http.max_bytes,
            max_text=ingest.max_text,
            gap=ingest.page_gap.total_seconds(),
            robots=ingest.robots,
            max_connections=http.max_connections,
        )
        extract = pool.extract if pool is not None else self._extractor().extract
        ticket = self.pages.submit(requests, policy, extract, ingest.full_text_wait.total_seconds())
        return Pending(feed, waiting, backlog, keys, ticket)

    def complete(self, pending: Pending) -> tuple[list[ParsedArticle], list[PageOutcome]]:
        """Return the new articles that may alert, those whose page was read with its main text, and what each
        page asked for gave."""
        articles = pending.articles
        if pending.ticket is None:
            return list(articles), []
        pages = {page.key: page for page in self.pages.collect(pending.ticket)}
        for page in pages.values():
            self.metrics.record_page(pending.feed, page.outcome)
            if not page.ok:
                log.info("%s", page.error, extra={"feed": pending.feed, "kind": page.outcome})
        texts = {key: pages[page].text for key, page in pending.keys.items() if page in pages}
        with_text = [replace(a, full_text=texts[a.content_key]) if texts.get(a.content_key) else a for a in articles]
        return with_text, [_outcome(page) for page in pages.values()]

    def close(self) -> None:
        """Let the feeds and pages under way finish, then stop the extraction workers."""
        self._finishing.shutdown(wait=True)
        self._finishing = ThreadPoolExecutor(FINISHING, thread_name_prefix="full text")
        self.pages.close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _extractor(self) -> ParsePool:
        with self._lock:
            if self._pool is None:
                self._pool = ParsePool(workers=min(EXTRACT_WORKERS, default_workers()))
            return self._pool

    def _record(self, page: Page) -> None:
        """Store the outcome of a page that no feed waited for any more (``late``)."""
        self.storage.record_page(_outcome(page), self.clock())


def _outcome(page: Page) -> PageOutcome:
    return PageOutcome(page.key, page.feed, page.outcome, page.status, page.etag, page.last_modified)


def _is_web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))
