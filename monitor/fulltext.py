"""Give the new articles of a feed with full text the main text of their pages, before they are matched.

``FullText.complete`` is one step of ``pipeline.refresh_feed``: of a feed's articles, those that look new and
may alert (recent enough, ``analysis.recent``) and link to a page no one fetched yet get it fetched
(``ingest.pages``) and its main text extracted on a worker process: the run's parse pool when there is one,
else a small pool of EXTRACT_WORKERS processes of its own, started on first need. Whatever is not read within
``[ingest] full_text_wait`` is matched on what it has. Each page's outcome is stored (``store.pages``), counted
in the metrics and, when it failed, logged at INFO: a page is never its feed's error. ``later`` runs the rest of
a feed's refresh (its pages, then storing) on one of FINISHING threads, so that a feed waiting for its pages
holds none of the feed poller's connections.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from monitor.analysis import recent
from monitor.ingest.article import ParsedArticle
from monitor.ingest.normalize import url_key
from monitor.ingest.pages import Page, PageFetcher, PageRequest, Policy
from monitor.ingest.parsepool import ParsePool, default_workers
from monitor.observe.metrics import Metrics
from monitor.settings.config import Settings
from monitor.store.pages import PageOutcome
from monitor.store.storage import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")
EXTRACT_WORKERS = 2
FINISHING = 64


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

    def complete(
        self,
        feed: str,
        articles: Sequence[ParsedArticle],
        alert_since: datetime | None,
        allow_private: bool,
        settings: Settings,
        pool: ParsePool | None = None,
    ) -> list[ParsedArticle]:
        """Return the articles, the new and recent ones with the main text of their page where it was read.

        ``allow_private`` is the feed's own address policy (whether its answer came from a non-public address);
        ``pool`` is the parse pool to extract on, if the caller has one.
        """
        fresh = self.storage.unseen(articles)
        wanted = recent(fresh, alert_since)
        links = {a.content_key: a.url for a in fresh if a.content_key in wanted and _is_web(a.url)}
        if not links:
            return list(articles)
        keys = {key: url_key(url) for key, url in links.items() if url}
        known = self.storage.known_pages(keys.values())
        requests = [
            PageRequest(feed, url, keys[key], allow_private)
            for key, url in links.items()
            if url and keys[key] not in known
        ]
        if not requests:
            return list(articles)
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
        pages = {
            page.key: page
            for page in self.pages.fetch(requests, policy, extract, ingest.full_text_wait.total_seconds())
        }
        for page in pages.values():
            self.metrics.record_page(feed, page.outcome)
            if not page.ok:
                log.info("%s", page.error, extra={"feed": feed, "kind": page.outcome})
        texts = {key: pages[page_key].text for key, page_key in keys.items() if page_key in pages}
        return [replace(a, full_text=texts[a.content_key]) if texts.get(a.content_key) else a for a in articles]

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
        outcome = PageOutcome(page.key, page.feed, page.outcome, page.status, page.etag, page.last_modified)
        self.storage.record_page(outcome, self.clock())


def _is_web(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://"))
