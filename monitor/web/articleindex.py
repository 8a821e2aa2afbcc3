"""The word index of the stored articles, kept in the web process for the workbench: built once, then kept current.

The index (``matching.wordindex.WordIndex``) holds the articles fetched or published within ``HORIZON`` of the
first workbench request. It costs ingest nothing: it is built from the database, in a thread of its own, the
first time the workbench is used (meanwhile the workbench replays the newest articles within its budget), and
brought up to date at the start of each search by reading the articles stored since the last one. Ids are
given in order but, with several instances on one PostgreSQL database, not committed in order: an article of a
lower id than the highest indexed may appear later. So each update reads the ids above the highest indexed and
those fetched within ``MARGIN`` before the previous update, and indexes those it does not hold yet. After
``IDLE`` without a search the index is dropped, so that the daemon does not keep its memory for nothing; the
next search builds it again. An index in constant use, which keeps the articles it was given, is built afresh in
the background once it reaches ``RENEWED`` further back than ``HORIZON``, and the fresh one replaces it.

A search (``search``) gives what ``backtest.replay`` gives over every article of the window, newest first: the
sieve picks out, in memory, exactly the articles of the window the rule matches (``WordIndex.sieve``, from the
words' postings and, for phrases, fields and ``NEAR``, the articles' words in order); they are counted, and only
the first listed are read back from the database (by id, newest first) and matched with the real matcher by
``backtest.replay``, for their snippets. Should one of those not match after all (an article that no longer
says what was indexed), the whole window is replayed instead, as without the index; when that replay stops at
its deadline, ``scanned`` counts the newest articles of the window it decided (those above the next article it
would have read), as the full replay counts those it read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from monitor import backtest
from monitor.ingest.article import readable_text
from monitor.matching import Matcher, Node
from monitor.matching.forms import Forms
from monitor.matching.forms import default as default_forms
from monitor.matching.wordindex import WordIndex
from monitor.store.storage import SavedArticle

logger = logging.getLogger(__name__)

HORIZON = timedelta(days=31)  # how far back the index reaches; a longer window replays without it
RENEWED = timedelta(days=7)  # how long an index in constant use grows before a fresh one replaces it
MARGIN = timedelta(minutes=10)  # how long before the last update an article may be committed late
IDLE = 15 * 60.0  # seconds without a search after which the index is dropped
CHUNK = 200  # articles read back from the database at a time


class Articles(Protocol):
    """What the index reads from the store (``Storage``)."""

    def articles_since(self, since: datetime, batch: int = 500) -> Iterator[SavedArticle]: ...

    def article_ids_since(self, after: int, fetched_since: datetime) -> list[int]: ...

    def articles_by_ids(self, ids: Sequence[int]) -> list[SavedArticle]: ...


@dataclass
class Indexed:
    """A built index: the articles fetched or published since ``covers``, the highest id it holds, and when it was
    last brought up to date."""

    index: WordIndex
    covers: datetime
    highest: int
    updated: datetime


class ArticleIndex:
    """The word index of the stored articles: built in the background on first use, updated on each search."""

    def __init__(
        self,
        store: Articles,
        forms: Forms | None = None,
        horizon: timedelta = HORIZON,
        idle: float = IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.forms = default_forms() if forms is None else forms
        self.horizon, self.idle, self.clock = horizon, idle, clock
        self._guard = threading.Lock()
        self._built: Indexed | None = None
        self._builder: threading.Thread | None = None
        self._done = threading.Event()  # set once the build under way ends (none is under way yet)
        self._done.set()
        self._used = clock()
        self._stop = threading.Event()

    @property
    def building(self) -> bool:
        """Return whether the index is being built."""
        return self._builder is not None

    def ready(self, now: datetime) -> Indexed | None:
        """Return the index brought up to date, or None while it is being built (starting to build it if need be).

        The caller holds the workbench's lock: one update or search at a time.
        """
        with self._guard:
            self._used = self.clock()
            built = self._built
            stale = built is not None and now - built.covers > self.horizon + RENEWED
            if (built is None or stale) and self._builder is None:
                self._done = threading.Event()
                self._builder = threading.Thread(
                    target=self._build, args=(now, self._done), name="workbench-index", daemon=True
                )
                self._builder.start()
            if built is None:
                return None
        self._update(built, now)
        return built

    def wait(self, timeout: float | None = None) -> bool:
        """Return whether the index is built, waiting up to ``timeout`` seconds for a build under way."""
        self._done.wait(timeout)
        return self._built is not None

    def close(self) -> None:
        """Stop watching for idleness and drop the index."""
        self._stop.set()
        with self._guard:
            self._built = None

    def search(
        self, built: Indexed, matcher: Matcher, tree: Node, since: datetime, limit: int, until: float | None
    ) -> backtest.Report:
        """Return what ``backtest.replay`` gives over the articles of the window, reading only the first ``limit``
        articles the rule matches (every article of the window, should one of those not match after all)."""
        index = built.index
        window = index.window(since)
        ids = index.newest_first(index.sieve(tree, window))
        scanned = int(np.count_nonzero(window))
        listed = backtest.replay(matcher, self._read(ids[:limit], []), limit)
        if listed.matched == min(limit, len(ids)):
            return backtest.Report(scanned, len(ids), listed.matches)
        logger.warning("workbench: the word index holds articles the rule does not match; replaying the window")
        pulled: list[int] = []
        report = backtest.replay(matcher, self._read(index.newest_first(window), pulled), limit, until)
        if not report.complete:
            # The replay stopped before matching the last article it pulled: every article of the window above
            # that one is decided.
            in_window = np.frombuffer(index.ids, np.int64)[window]
            report.scanned = int(np.count_nonzero(in_window > pulled[-1]))
        return report

    def _read(self, ids: list[int], pulled: list[int]) -> Iterable[SavedArticle]:
        """Yield the articles of these ids, newest first, a chunk at a time, noting each one's id in ``pulled``."""
        for start in range(0, len(ids), CHUNK):
            for article in self.store.articles_by_ids(ids[start : start + CHUNK]):
                pulled.append(article.id)
                yield article

    def _build(self, now: datetime, done: threading.Event) -> None:
        """Build the index of the articles within the horizon, then drop it once it is left idle."""
        started = time.perf_counter()
        covers = now - self.horizon
        try:
            index = WordIndex(self.forms)
            highest = 0
            for article in self.store.articles_since(covers):
                _add(index, article)
                highest = max(highest, article.id)
            index.settle()
        except Exception:
            logger.exception("workbench: building the word index failed; searches replay every article")
            with self._guard:
                self._builder = None
            done.set()
            return
        logger.info(
            "workbench: indexed %d articles (%d words and keys) in %.1f s",
            len(index),
            index.words,
            time.perf_counter() - started,
        )
        built = Indexed(index, covers, highest, now)
        with self._guard:
            self._built = built
            self._builder = None
            self._used = self.clock()
        done.set()
        self._watch(built)

    def _watch(self, built: Indexed) -> None:
        """Drop the index once no search has used it for ``idle`` seconds; stop watching once it was replaced."""
        while True:
            with self._guard:
                if self._built is not built:
                    return
                left = self._used + self.idle - self.clock()
                if left <= 0:
                    self._built = None
                    logger.info("workbench: the word index was idle for %.0f s: dropped", self.idle)
                    return
            if self._stop.wait(left):
                return

    def _update(self, built: Indexed, now: datetime) -> None:
        """Index the articles stored since the last update, those committed late within ``MARGIN`` too."""
        since = built.updated - MARGIN
        ids = self.store.article_ids_since(built.highest, since)
        if not ids:
            built.updated = max(built.updated, now)
            return
        held = built.index.fetched_since(since)
        new = sorted((article_id for article_id in ids if article_id not in held), reverse=True)
        for start in range(0, len(new), CHUNK):
            for article in self.store.articles_by_ids(new[start : start + CHUNK]):
                _add(built.index, article)
        if new:
            built.highest = max(built.highest, new[0])
        built.updated = max(built.updated, now)


def _add(index: WordIndex, article: SavedArticle) -> None:
    """Index an article as the replay reads it: its title and its readable text."""
    index.add(article.id, article.title, _readable(article), article.language, article.fetched, article.published)


def _readable(article: SavedArticle) -> str:
    """Return what a rule's ``text:`` field reads of an article."""
    return readable_text(article.text, article.full_text)
