"""Prometheus metrics of one daemon, in a registry of its own (never the global default one).

Events are counted as they happen (``record_poll``, ``record_articles``, ``record_matches``, ``record_delivery``);
the queue and the feeds' last successes are read from the database at scrape time by ``DatabaseCollector``.

| metric | type | labels |
|---|---|---|
| ``monitor_build_info`` | gauge (always 1) | ``version``, ``matcher`` (``compiled`` or ``python``) |
| ``monitor_feed_polls_total`` | counter | ``feed``, ``outcome`` (``ok``, ``not_modified`` or the failure kind) |
| ``monitor_feed_fetch_seconds`` | histogram | ``feed`` |
| ``monitor_articles_ingested_total`` | counter | ``feed`` (the feed's name, or ``seeds`` for every seed file) |
| ``monitor_rule_matches_total`` | counter | ``rule`` |
| ``monitor_full_text_pages_total`` | counter | ``feed`` (article pages whose main text was read) |
| ``monitor_full_text_failures_total`` | counter | ``feed``, ``kind`` (``timeout``, ``not_html``, ``too_large``, ...) |
| ``monitor_deliveries_total`` | counter | ``webhook``, ``outcome`` (``sent``, ``retried``, ``dead``) |
| ``monitor_database_up`` | gauge | (1 when the database answered the scrape, else 0) |
| ``monitor_delivery_queue_depth`` | gauge | (pending deliveries) |
| ``monitor_oldest_pending_delivery_age_seconds`` | gauge | |
| ``monitor_feed_last_success_timestamp_seconds`` | gauge | ``feed`` (every configured feed; 0: never succeeded) |

A scrape always answers: when the database cannot be read within ``READ_SECONDS``, or fails, the scrape says
``monitor_database_up 0`` and leaves out the gauges read from it; the change is logged once, and once more when
the database answers again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.errors import StorageError
from monitor.matching import native
from monitor.observe.timed import TimedCheck

log = logging.getLogger(__name__)

FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
READ_SECONDS = 2.0  # well within Prometheus' default scrape timeout (10 s)
SEEDS_PREFIX = "seeds/"
SEEDS = "seeds"


class QueueReader(Protocol):
    """What the collector needs of the outbox."""

    def counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status."""
        ...

    def oldest_pending(self) -> datetime | None:
        """Return when the oldest pending delivery entered the queue."""
        ...


class FeedReader(Protocol):
    """What the collector needs of the storage."""

    def feed_health(self, feeds: Sequence[tuple[str, str]], since: datetime) -> Sequence[FeedSuccess]:
        """Return each feed's health."""
        ...


class FeedSuccess(Protocol):
    """A feed's name and last success."""

    @property
    def name(self) -> str:
        """Return the feed name."""
        ...

    @property
    def last_success_at(self) -> datetime | None:
        """Return when the feed was last read."""
        ...


class Metrics:
    """The metric objects of one daemon, and the functions that record its events."""

    def __init__(self, version: str = __version__, matcher: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.build = Gauge(
            "monitor_build_info",
            "The running version, and whether the matcher runs compiled or as pure Python.",
            ["version", "matcher"],
            registry=self.registry,
        )
        self.build.labels(version=version, matcher=matcher or matcher_kind()).set(1)
        self.polls = Counter(
            "monitor_feed_polls", "Feed polls by outcome.", ["feed", "outcome"], registry=self.registry
        )
        self.fetch_seconds = Histogram(
            "monitor_feed_fetch_seconds",
            "Time to fetch a feed, in seconds.",
            ["feed"],
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.articles = Counter(
            "monitor_articles_ingested", "New articles stored, by source.", ["feed"], registry=self.registry
        )
        self.matches = Counter("monitor_rule_matches", "Alerts recorded, by rule.", ["rule"], registry=self.registry)
        self.pages = Counter(
            "monitor_full_text_pages",
            "Article pages whose main text was read, by feed.",
            ["feed"],
            registry=self.registry,
        )
        self.page_failures = Counter(
            "monitor_full_text_failures",
            "Article pages that gave no main text, by feed and kind.",
            ["feed", "kind"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "monitor_deliveries", "Delivery outcomes, by webhook.", ["webhook", "outcome"], registry=self.registry
        )

    def record_poll(self, feed: str, outcome: str, seconds: float) -> None:
        """Count one poll of a feed with its outcome and fetch time."""
        self.polls.labels(feed=feed, outcome=outcome).inc()
        self.fetch_seconds.labels(feed=feed).observe(seconds)

    def record_articles(self, sources: Iterable[str]) -> None:
        """Count new articles, one per source given; every seed file counts under ``seeds``."""
        for source, count in Tally(source_label(source) for source in sources).items():
            self.articles.labels(feed=source).inc(count)

    def record_matches(self, rules: Iterable[str]) -> None:
        """Count recorded alerts, one per rule name given."""
        for rule, count in Tally(rules).items():
            self.matches.labels(rule=rule).inc(count)

    def record_page(self, feed: str, outcome: str) -> None:
        """Count one article page fetched for a feed: read (``ok``), or failed with the kind ``outcome``."""
        if outcome == "ok":
            self.pages.labels(feed=feed).inc()
        else:
            self.page_failures.labels(feed=feed, kind=outcome).inc()

    def record_delivery(self, webhook: str, outcome: str, count: int = 1) -> None:
        """Count ``count`` deliveries to a webhook that ended in ``outcome`` (sent, retried, dead)."""
        if count:
            self.deliveries.labels(webhook=webhook, outcome=outcome).inc(count)

    def watch(
        self,
        queue: QueueReader,
        feeds: FeedReader,
        configured: Callable[[], Sequence[tuple[str, str]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        seconds: float = READ_SECONDS,
    ) -> None:
        """Read the queue and the feeds' last successes from the database at each scrape, ``seconds`` at most."""
        self.registry.register(DatabaseCollector(queue, feeds, configured, clock, seconds))

    def exposition(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped: whether it answered, the queue, each feed's last success."""

    def __init__(
        self,
        queue: QueueReader,
        feeds: FeedReader,
        configured: Callable[[], Sequence[tuple[str, str]]],
        clock: Callable[[], datetime],
        seconds: float = READ_SECONDS,
    ) -> None:
        self.queue = queue
        self.feeds = feeds
        self.configured = configured
        self.clock = clock
        self._read = TimedCheck(self.read, seconds)
        self._lock = threading.Lock()
        self._failing: str | None = None  # why the last scrape could not read the database

    def describe(self) -> Iterable[Metric]:
        """Return nothing, so that registering does not query the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield ``monitor_database_up`` and, when the database answered, the gauges read from it now."""
        up = GaugeMetricFamily("monitor_database_up", "1 when the database answered this scrape, else 0.")
        try:
            gauges = self._read()
        except Exception as exc:  # a scrape must answer whatever the database does: it says so instead
            self._note(_reason(exc))
            up.add_metric([], 0)
            yield up
            return
        self._note(None)
        up.add_metric([], 1)
        yield up
        yield from gauges

    def read(self) -> list[Metric]:
        """Return the queue depth, the oldest pending age and each configured feed's last success, read now."""
        now = self.clock()
        depth = GaugeMetricFamily("monitor_delivery_queue_depth", "Deliveries pending.")
        depth.add_metric([], self.queue.counts().get("pending", 0))
        age = GaugeMetricFamily(
            "monitor_oldest_pending_delivery_age_seconds", "Age of the oldest pending delivery (0 when none)."
        )
        age.add_metric([], _age(self.queue.oldest_pending(), now))
        last = GaugeMetricFamily(
            "monitor_feed_last_success_timestamp_seconds",
            "Unix time of each feed's last successful poll (0 when it never succeeded).",
            labels=["feed"],
        )
        for health in self.feeds.feed_health(self.configured(), now):
            # 0 for a feed that never succeeded: `time() - this > X` then holds for it as for a feed gone silent.
            when = 0.0 if health.last_success_at is None else _aware(health.last_success_at).timestamp()
            last.add_metric([health.name], when)
        return [depth, age, last]

    def _note(self, failing: str | None) -> None:
        """Log when the database stops answering scrapes, and when it answers again (not at every scrape)."""
        with self._lock:
            before, self._failing = self._failing, failing
        if failing is not None and before is None:
            log.warning("metrics: cannot read the database, monitor_database_up is 0: %s", failing)
        elif failing is None and before is not None:
            log.info("metrics: the database answers again")


def matcher_kind() -> str:
    """Return ``compiled`` when the matcher runs as compiled modules, else ``python``."""
    return "compiled" if native.compiled() else "python"


def source_label(source: str) -> str:
    """Return the ``feed`` label of an article source: the feed's name, or ``seeds`` for any seed file."""
    return SEEDS if source.startswith(SEEDS_PREFIX) else source


def _reason(exc: Exception) -> str:
    """Return why reading failed, in one line: our errors' own words, else the type and the driver's first line."""
    if isinstance(exc, StorageError):
        return str(exc)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0][:200] if detail else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _age(oldest: datetime | None, now: datetime) -> float:
    return 0.0 if oldest is None else max(0.0, (now - _aware(oldest)).total_seconds())
