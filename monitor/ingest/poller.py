"""Fetch many feeds at once with one shared client: at most ``max_connections`` at a time, PER_HOST per host.

Each queued feed waits in its host's line. A fetch starts on its own thread as soon as both limits allow, so a
slow host holds PER_HOST threads at most and the other hosts go on. A feed already queued or being fetched is not
queued again. The client is made on first use and closed by ``close``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

import httpx

from monitor.ingest import fetcher
from monitor.settings.config import FeedSettings

log = logging.getLogger(__name__)
PER_HOST = 2


class FeedPoller:
    """Run ``refresh(feed, client)`` for queued feeds, within the connection limits."""

    def __init__(
        self,
        refresh: Callable[[FeedSettings, httpx.Client], object],
        max_connections: Callable[[], int],
        make_client: Callable[[], httpx.Client] = fetcher.feed_client,
        per_host: int = PER_HOST,
    ) -> None:
        self._refresh = refresh
        self._max_connections = max_connections
        self._make_client = make_client
        self._per_host = per_host
        self._client: httpx.Client | None = None
        self._lock = threading.Condition()
        self._lines: dict[str, deque[FeedSettings]] = {}
        self._running: dict[str, int] = {}
        self._pending: set[str] = set()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def poll(self, feeds: Iterable[FeedSettings]) -> int:
        """Queue the feeds that are neither queued nor being fetched; return how many were queued."""
        queued = 0
        with self._lock:
            if self._closed:
                return 0
            for feed in feeds:
                if feed.name in self._pending:
                    continue
                self._pending.add(feed.name)
                self._lines.setdefault(_host(feed), deque()).append(feed)
                queued += 1
            self._start_what_fits()
        return queued

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every queued feed has been fetched; return False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        """Drop the feeds still queued, wait for the fetches in progress, and close the client."""
        with self._lock:
            self._closed = True
            for line in self._lines.values():
                for feed in line:
                    self._pending.discard(feed.name)
            self._lines.clear()
            threads = list(self._threads)
            self._lock.notify_all()
        for thread in threads:
            thread.join()
        with self._lock:
            client, self._client = self._client, None
            self._closed = False
        if client is not None:
            client.close()

    def _start_what_fits(self) -> None:
        """Start a thread for each queued feed that both limits allow (called with the lock held)."""
        limit = max(1, self._max_connections())
        for host, line in list(self._lines.items()):
            while line and sum(self._running.values()) < limit and self._running.get(host, 0) < self._per_host:
                feed = line.popleft()
                self._running[host] = self._running.get(host, 0) + 1
                if self._client is None:
                    self._client = self._make_client()
                thread = threading.Thread(
                    target=self._run, args=(host, feed, self._client), name=f"feed {feed.name}", daemon=True
                )
                self._threads.add(thread)
                thread.start()
            if not line:
                del self._lines[host]

    def _run(self, host: str, feed: FeedSettings, client: httpx.Client) -> None:
        try:
            self._refresh(feed, client)
        except Exception:  # one failing feed is logged, never fatal to the others
            log.exception("feed '%s': refresh failed", feed.name, extra={"feed": feed.name})
        finally:
            with self._lock:
                self._running[host] -= 1
                if not self._running[host]:
                    del self._running[host]
                self._pending.discard(feed.name)
                self._threads.discard(threading.current_thread())
                if not self._closed:
                    self._start_what_fits()
                self._lock.notify_all()


def _host(feed: FeedSettings) -> str:
    try:
        return httpx.URL(feed.url).host.lower()
    except httpx.InvalidURL:
        return feed.url
