"""Fetch many feeds at once with one shared client: at most ``max_connections`` at a time, PER_HOST per host.

Each queued feed waits in its host's line. A fetch starts as soon as both limits allow, so a slow host holds
PER_HOST threads at most and the other hosts go on. A thread done with its fetch takes the next feed that may
start, or waits up to IDLE_SECONDS to be handed one, so that a daemon polling a feed every few seconds does not
start a thread for each. A feed already queued or being fetched is not queued again. The client is made on first
use and closed by ``close``.
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
IDLE_SECONDS = 60.0


class FeedPoller:
    """Run ``refresh(feed, client)`` for queued feeds, within the connection limits."""

    def __init__(
        self,
        refresh: Callable[[FeedSettings, httpx.Client], object],
        max_connections: Callable[[], int],
        make_client: Callable[[], httpx.Client] = fetcher.feed_client,
        per_host: int = PER_HOST,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._refresh = refresh
        self._max_connections = max_connections
        self._make_client = make_client
        self._per_host = per_host
        self._idle_seconds = idle_seconds
        self._client: httpx.Client | None = None
        lock = threading.RLock()
        self._lock = threading.Condition(lock)  # signalled when a feed is done, for ``wait``
        self._work = threading.Condition(lock)  # signalled when a feed is handed to an idle thread
        self._lines: dict[str, deque[FeedSettings]] = {}
        self._running: dict[str, int] = {}
        self._pending: set[str] = set()
        self._threads: set[threading.Thread] = set()
        self._handed: deque[tuple[str, FeedSettings]] = deque()  # taken off their lines, for idle threads
        self._idle = 0  # threads waiting to be handed a feed
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
            for host, feed in self._handed:  # handed to no thread yet: dropped too
                self._pending.discard(feed.name)
                self._running[host] -= 1
                if not self._running[host]:
                    del self._running[host]
            self._handed.clear()
            threads = list(self._threads)
            self._lock.notify_all()
            self._work.notify_all()
        for thread in threads:
            thread.join()
        with self._lock:
            client, self._client = self._client, None
            self._closed = False
        if client is not None:
            client.close()

    def _start_what_fits(self) -> None:
        """Hand each queued feed that both limits allow to an idle thread, or a new one (called with the lock held)."""
        while (job := self._next()) is not None:
            if self._idle > len(self._handed):
                self._handed.append(job)
                self._work.notify()
                continue
            if self._client is None:
                self._client = self._make_client()
            thread = threading.Thread(target=self._run, args=(job, self._client), name="feed", daemon=True)
            self._threads.add(thread)
            thread.start()

    def _next(self) -> tuple[str, FeedSettings] | None:
        """Take the next queued feed that both limits allow off its line, counted as running (lock held)."""
        limit = max(1, self._max_connections())
        if sum(self._running.values()) >= limit:
            return None
        for host, line in list(self._lines.items()):
            if self._running.get(host, 0) >= self._per_host:
                continue
            feed = line.popleft()
            if not line:
                del self._lines[host]
            self._running[host] = self._running.get(host, 0) + 1
            return host, feed
        return None

    def _run(self, job: tuple[str, FeedSettings] | None, client: httpx.Client) -> None:
        while job is not None:
            host, feed = job
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
                    self._lock.notify_all()  # before this thread may wait idle in ``_following``
                    job = self._following()

    def _following(self) -> tuple[str, FeedSettings] | None:
        """Return the feed this thread fetches next: one that may start, or one handed to it while it waits idle;
        None (the thread ends) once the poller closes or nothing came for ``idle_seconds`` (lock held)."""
        job = None if self._closed else self._next()
        if job is None and not self._closed:
            self._idle += 1
            self._work.wait_for(lambda: self._closed or bool(self._handed), self._idle_seconds)
            self._idle -= 1
            job = self._handed.popleft() if self._handed and not self._closed else None
        if job is None:
            self._threads.discard(threading.current_thread())
        return job


def _host(feed: FeedSettings) -> str:
    try:
        return httpx.URL(feed.url).host.lower()
    except httpx.InvalidURL:
        return feed.url
