"""Parse feed documents on worker processes, so that parsing uses every core while threads fetch and store.

Parsing (feedparser, HTML to text, language detection) is pure CPU work in Python and holds the GIL; fetching
many feeds at once on threads would otherwise parse them one at a time. The workers start from a fresh
interpreter (``forkserver``), importing only the parser, so they stay small. ``parse`` has the signature and
errors of ``parser.parse_feed``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor

from monitor.ingest.parser import ParsedFeed, parse_feed

MAX_WORKERS = 4


def default_workers() -> int:
    """Return how many parsing processes to run: one per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


class ParsePool:
    """A pool of parsing processes, started on first use and stopped by ``close``."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or default_workers()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def parse(
        self, content: bytes, source: str, headers: Mapping[str, str] | None = None, base_url: str | None = None
    ) -> ParsedFeed:
        """Return the feed parsed on a worker process; raise what ``parse_feed`` raises."""
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["monitor.ingest.parser"])
                self._executor = ProcessPoolExecutor(self._workers, mp_context=context)
            executor = self._executor
        return executor.submit(parse_feed, content, source, dict(headers or {}), base_url).result()

    def close(self) -> None:
        """Stop the worker processes, once the parses in progress are done."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
