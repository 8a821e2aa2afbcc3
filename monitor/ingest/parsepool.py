"""Parse and analyze feeds on worker processes, so that the CPU work uses every core while threads fetch and store.

Parsing (feedparser, HTML to text, keys) and analyzing new articles (story sketches, matching the rules) are pure
CPU work in Python and hold the GIL; fetching many feeds at once on threads would otherwise do them one at a time.
The workers are forked from this process when it runs no other thread: they then share the modules it imported
(the garbage collector's view of every object alive is frozen first, so that a collection in either process does
not write to, and so copy, the pages they share; it is thawed when the pool closes). A process running other
threads, one of which could hold a lock that the fork would copy held, starts them from a fresh interpreter
(``spawn``) importing only what they run. Each builds a matcher from the rules the pool was given, once.
``parse`` has the signature and errors of ``parser.parse_feed``, ``analyze`` those of ``analysis.analyze``
without the matcher; ``parse_and_analyze`` does both in one trip, for a feed polled for the first time, whose
articles are all new; ``extract`` finds the main text of an article's page (``extract.main_text``). A pool
whose worker died (a crash in a native library) is replaced at the next call, which fails as
``BrokenProcessPool`` meanwhile. A worker whose daemon is gone (killed with ``kill -9``, say, which gives it no
chance to stop them) ends within a second or so.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence, Set
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime

from monitor.analysis import Analysis, analyze, recent, with_plausible_dates
from monitor.ingest.article import ParsedArticle
from monitor.ingest.extract import main_text
from monitor.ingest.parser import MAX_ENTRIES, MAX_TEXT, ParsedFeed, parse_feed
from monitor.matching import Matcher
from monitor.matching.query import Node

MAX_WORKERS = 4

# In a worker process: the matcher of the pool's rules.
_matcher: Matcher | None = None


def default_workers() -> int:
    """Return how many worker processes to run: one per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


class ParsePool:
    """A pool of parsing processes, started on first use and stopped by ``close``."""

    def __init__(self, workers: int | None = None, rules: Mapping[str, Node] | None = None) -> None:
        self._workers = workers or default_workers()
        self._rules = dict(rules or {})
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._method = "spawn"
        self._frozen = False  # whether this pool froze the garbage collector's objects to fork its workers

    def parse(
        self,
        content: bytes,
        source: str,
        headers: Mapping[str, str] | None = None,
        base_url: str | None = None,
        max_text: int = MAX_TEXT,
    ) -> ParsedFeed:
        """Return the feed parsed on a worker process; raise what ``parse_feed`` raises."""
        future = self._start().submit(parse_feed, content, source, dict(headers or {}), base_url, MAX_ENTRIES, max_text)
        return future.result()

    def parse_and_analyze(
        self,
        content: bytes,
        source: str,
        headers: Mapping[str, str],
        base_url: str | None,
        fetched: datetime,
        alert_since: datetime | None,
        max_text: int = MAX_TEXT,
    ) -> tuple[ParsedFeed, Analysis]:
        """Return the feed parsed, its articles' dates made plausible, and every article analyzed (matched when
        published since ``alert_since``), in one trip to a worker process: for a feed none of whose articles is
        known yet."""
        future = self._start().submit(
            _parse_and_analyze, content, source, dict(headers), base_url, fetched, alert_since, max_text
        )
        return future.result()

    def analyze(self, articles: Sequence[ParsedArticle], to_match: Set[str]) -> Analysis:
        """Return the articles' analysis with the pool's rules, worked out on a worker process."""
        return self._start().submit(_analyze, list(articles), frozenset(to_match)).result()

    def extract(self, markup: str, url: str, max_text: int) -> str:
        """Return the main text of a page's markup, worked out on a worker process."""
        executor = self._start()
        try:
            return executor.submit(main_text, markup, url, max_text).result()
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:
                    self._executor = None  # started afresh at the next call
            executor.shutdown(wait=False)
            raise

    @property
    def start_method(self) -> str | None:
        """Return how the running workers were started, ``fork`` or ``spawn``; None before they are."""
        with self._lock:
            executor = self._executor
        return None if executor is None else self._method

    def start(self) -> None:
        """Start every worker process now rather than at the first parse, so that they are ready for it."""
        executor = self._start()
        for _ in range(self._workers):
            executor.submit(_ready)

    def close(self) -> None:
        """Stop the worker processes, once the work in progress is done."""
        with self._lock:
            executor, self._executor = self._executor, None
            frozen, self._frozen = self._frozen, False
        if executor is not None:
            executor.shutdown(wait=True)
        if frozen:
            gc.unfreeze()

    def _start(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # Not from a fork server either: it would be one more process, holding the modules it imports.
                method = self._method = "fork" if threading.active_count() == 1 else "spawn"
                if method == "fork" and not self._frozen and gc.get_freeze_count() == 0:
                    gc.collect()
                    gc.freeze()
                    self._frozen = True
                self._executor = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context(method),
                    initializer=_start_worker,
                    initargs=(self._rules, os.getpid()),
                )
                if method == "fork":
                    # Forked now, all of them, while no other thread runs (the pool starts its own after).
                    self._executor.submit(_ready).result()
            return self._executor


def _start_worker(rules: Mapping[str, Node], parent: int) -> None:
    global _matcher
    _matcher = Matcher(rules)
    threading.Thread(target=_end_with, args=(parent,), name="parent-watch", daemon=True).start()


def _end_with(parent: int, every: float = 0.5) -> None:
    """End this worker once the process that started it is gone (it is then adopted by another)."""
    # A worker waiting for work never learns that its daemon died of SIGKILL: the pool's queues stay open here.
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _ready() -> None:
    """Do nothing: submitted once per worker, it makes the pool start them."""


def _parse_and_analyze(
    content: bytes,
    source: str,
    headers: dict[str, str],
    base_url: str | None,
    fetched: datetime,
    alert_since: datetime | None,
    max_text: int,
) -> tuple[ParsedFeed, Analysis]:
    assert _matcher is not None, "the worker was started without its rules"
    parsed = parse_feed(content, source, headers, base_url, max_text=max_text)
    articles = with_plausible_dates(parsed.articles, fetched)
    return replace(parsed, articles=articles), analyze(_matcher, articles, recent(articles, alert_since))


def _analyze(articles: list[ParsedArticle], to_match: frozenset[str]) -> Analysis:
    assert _matcher is not None, "the worker was started without its rules"
    return analyze(_matcher, articles, to_match)
