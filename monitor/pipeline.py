"""The path of an article, one named step after another: fetch, parse, store the new ones, match, record alerts.

``refresh_feed`` and ``refresh_seeds`` bring articles in (``filing`` stores them with their alerts); ``deliver``
sends what the outbox holds. One failing feed or seed file is recorded and logged, never fatal to the others: a
feed whose articles the database refuses (a value too large for it) is such a failure, while a database that
fails whatever it is given fails the job.
``refresh_feed`` also records when the feed is next due (``ingest.politeness``); ``poll_feed`` (the daemon's feed
job) hands a due feed to the feed poller, and ``refresh_feeds`` (``run --once``) fetches every feed at once. For
a feed with full text, the new articles get the main text of their pages before they are matched
(``fulltext``), and what each page gave is stored with them; a page that fails is never its feed's failure.
The settings in force, the rules and their matcher form one ``Ruleset`` (``ruleset.py``) that ``apply`` replaces
whole; storing a batch of articles reads it once, so a batch never mixes the rules of one version of the settings
with the matcher or webhooks of another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from monitor.analysis import Analysis, with_plausible_dates
from monitor.delivery.dispatcher import Dispatcher, DrainReport
from monitor.errors import FeedParseError, FetchError, RefusedContentError
from monitor.filing import Filing, Workers
from monitor.fulltext import FullText
from monitor.ingest import fetcher, gate, politeness, seeds
from monitor.ingest.article import ParsedArticle
from monitor.ingest.fetcher import FetchResult
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.ingest.poller import FeedPoller
from monitor.observe import health
from monitor.observe.metrics import Metrics
from monitor.ruleset import Ruleset
from monitor.settings.config import FeedSettings, Settings
from monitor.store.engine import refused_values
from monitor.store.feeds import FeedState
from monitor.store.message import AlertMessage
from monitor.store.outbox import Outbox
from monitor.store.pages import PageOutcome
from monitor.store.storage import Storage, Tx
from monitor.words import count

log = logging.getLogger(__name__)
# Why a poll failed: the feed could not be fetched, could not be read, or the database refused what it holds.
FeedFailure = FetchError | FeedParseError | RefusedContentError
FEED_LEASE_MARGIN = timedelta(seconds=10)  # parsing and storing, after the fetch's own deadline
PARSE_POOL_MIN_FEEDS = 8


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class Pipeline:
    """Everything a job needs, wired once by the command line; ``active`` is swapped whole on reload."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        client: httpx.Client,
        on_console_alert: Callable[[AlertMessage], None],
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.active = Ruleset.build(settings)
        self.storage = storage
        self.client = client
        self.clock = clock
        self.outbox = Outbox(storage)
        self.metrics = metrics or Metrics()
        self.metrics.watch(self.outbox, storage, lambda: [(f.name, f.url) for f in self.settings.feeds], clock)
        self.dispatcher = Dispatcher(self.outbox, client, clock, metrics=self.metrics)
        # What the claim of each queued feed read of its state, taken by its fetch.
        self._claimed: dict[str, FeedState] = {}
        self.feeds = FeedPoller(
            lambda feed, client: self.refresh_feed(feed, client, state=self._claimed.pop(feed.name, None), defer=[]),
            lambda: self.settings.http.max_connections,
        )
        self.full_text = FullText(storage, self.metrics, clock)
        self.filing = Filing(storage, self.metrics, clock, lambda: self.active, on_console_alert)

    def close(self) -> None:
        """Let the fetches and deliveries in flight finish; the queue keeps the rest for the next start."""
        self.feeds.close()
        self.full_text.close()
        self.dispatcher.close()

    @property
    def settings(self) -> Settings:
        """Return the settings in force."""
        return self.active.settings

    def apply(self, settings: Settings) -> Ruleset:
        """Build the ruleset of new settings, then put it in force in one assignment; return it."""
        ruleset = Ruleset.build(settings)
        # One attribute holds settings, rules and matcher, so a job that reads it once sees one consistent set.
        self.active = ruleset
        return ruleset

    def poll_feed(self, feed: FeedSettings) -> None:
        """Queue the feed for fetching if its next poll time has come, it is not disabled, and we could take it.

        Taking the feed leases it in the database, so that of several instances sharing it only one polls.
        """
        now, settings = self.clock(), self.settings
        due_by = now + politeness.tolerance(settings.feed_interval(feed))
        lease = settings.http.timeout + FEED_LEASE_MARGIN
        if settings.feed_full_text(feed):
            lease += settings.ingest.full_text_wait  # its articles' pages are waited for too
        state = self.storage.claim_feed_poll(feed.name, feed.url, now, due_by, lease)
        if state is not None:
            self._claimed[feed.name] = state
            self.feeds.poll([feed])

    def refresh_feeds(self, done: Callable[[], None] | None = None) -> None:
        """Fetch every feed of the settings that is not disabled, all at once, whatever their next poll time.

        ``done`` is called as each feed is done (to draw progress).
        """
        states = self.storage.feed_states([(f.name, f.url) for f in self.settings.feeds])
        feeds = [f for f in self.settings.feeds if states[f.name].disabled_reason is None]
        failures: list[BaseException] = []
        # Many feeds at once: parse and analyze them on every core rather than one at a time under the GIL.
        active = self.active
        workers = None
        if len(feeds) >= PARSE_POOL_MIN_FEEDS:
            workers = Workers(ParsePool(rules=active.matcher.rules), active)
            workers.pool.start()  # they import and build their matcher while the first feeds are fetched

        deferred: list[Future[list[AlertMessage]]] = []

        def refresh(feed: FeedSettings, client: httpx.Client) -> None:
            try:
                self.refresh_feed(feed, client, workers, states[feed.name], deferred)
            except Exception as exc:  # raised here once all are done: a broken database fails the cycle
                failures.append(exc)
            if done is not None:
                done()

        poller = FeedPoller(refresh, lambda: self.settings.http.max_connections)
        try:
            poller.poll(feeds)
            poller.wait()
            wait(deferred)  # the feeds that wait for their pages, then store
            failures.extend(exc for future in deferred if (exc := future.exception()) is not None)
        finally:
            poller.close()
            if workers is not None:
                workers.pool.close()
        if failures:
            raise failures[0]

    def refresh_feed(
        self,
        feed: FeedSettings,
        client: httpx.Client | None = None,
        workers: Workers | None = None,
        state: FeedState | None = None,
        defer: list[Future[list[AlertMessage]]] | None = None,
    ) -> list[AlertMessage]:
        """Fetch one feed, store its new articles, record their alerts and its next poll; return the new alerts.

        The feed is fetched with ``client`` (the feed poller's), or else with the pipeline's shared client; it is
        parsed and its new articles analyzed on ``workers`` when given, else in this thread. ``state`` is what
        its previous polls left, when the caller has read it already. For a feed with full text, the pages of
        its new articles are asked for as soon as it is read; with ``defer``, it waits for them and is stored on
        a thread of ``FullText.later``, whose future is added to ``defer``.
        """
        settings = self.settings
        if state is None:
            state = self.storage.feed_state(feed.name, feed.url)
        started, timer = self.clock(), time.monotonic()
        try:
            result = fetcher.fetch(
                client or self.client,
                feed.name,
                feed.url,
                etag=state.etag,
                last_modified=state.last_modified,
                deadline=settings.http.timeout.total_seconds(),
                max_bytes=settings.http.max_bytes,
            )
            max_age = politeness.max_age(result.headers.get("cache-control"))
            if result.not_modified:
                self.metrics.record_poll(feed.name, "not_modified", time.monotonic() - timer)
                next_poll = started + politeness.after_success(settings.feed_interval(feed), max_age)
                self.storage.record_feed_not_modified(feed.name, feed.url, self.clock(), next_poll)
                log.debug("feed '%s': not modified", feed.name, extra={"feed": feed.name})
                return []
            read = self._parse(feed, result, state, workers)
        except (FetchError, FeedParseError) as exc:
            self.metrics.record_poll(feed.name, _failure_kind(exc), time.monotonic() - timer)
            self._record_feed_failure(feed, state.consecutive_failures + 1, exc, started)
            return []
        elapsed = time.monotonic() - timer
        poll = _Poll(feed, state, result.etag, result.last_modified, result.status, started, max_age, elapsed)
        if not settings.feed_full_text(feed):
            return self._store_feed(poll, read, workers) or []
        # The pages are asked for now, and their wait counts from now, however long the feed waits to be stored.
        pool = workers.pool if workers is not None else None
        pending = self.full_text.request(
            feed.name, read.articles, read.alert_since, not result.from_public, settings, pool
        )
        rest = replace(read, articles=())  # the new articles wait in ``pending``; the feed's body and the rest go
        # A first poll's backlog, which alerts on nothing, is stored now rather than held while the pages are read.
        backlog = replace(rest, articles=pending.backlog)
        if pending.backlog and self._store_feed(poll, backlog, workers, last=False) is None:
            return []  # refused by the database: the feed's failure, recorded

        def finish() -> list[AlertMessage]:
            articles, pages = self.full_text.complete(pending)
            return self._store_feed(poll, replace(rest, articles=articles), workers, pages) or []

        if defer is not None:
            # Waiting for its pages holds no connection: the feed's slot goes to the next feed meanwhile.
            defer.append(self.full_text.later(feed.name, finish))
            return []
        return finish()

    def _parse(self, feed: FeedSettings, result: FetchResult, state: FeedState, workers: Workers | None) -> _Read:
        """Return the feed's articles read from its answer, on ``workers`` when given; raise FeedParseError."""
        settings = self.settings
        max_text, full_text = settings.ingest.max_text, settings.feed_full_text(feed)
        # A feed polled for the first time stores its backlog but alerts only on what is recent (or undated).
        fetched = self.clock()
        alert_since = None if state.polled else fetched - settings.ingest.first_poll_window
        content = result.content or b""
        with gate.parsing(len(content)):  # a large body waits for its turn
            if workers is not None and not state.polled and workers.ruleset is self.active and not full_text:
                # None of its articles is known yet: parsed and analyzed in one trip to a worker.
                parsed, analysis = workers.pool.parse_and_analyze(
                    content, feed.name, result.headers, result.url, fetched, alert_since, max_text
                )
                return _Read(parsed.articles, len(parsed.articles), parsed.ttl, alert_since, analysis)
            parse = workers.pool.parse if workers is not None else parse_feed
            parsed = parse(content, feed.name, result.headers, result.url, max_text=max_text)
            articles = with_plausible_dates(parsed.articles, fetched)
            return _Read(articles, len(articles), parsed.ttl, alert_since)

    def _store_feed(
        self,
        poll: _Poll,
        read: _Read,
        workers: Workers | None,
        pages: Sequence[PageOutcome] = (),
        last: bool = True,
    ) -> list[AlertMessage] | None:
        """Store a feed's new articles and their alerts, the pages they were read with and, with ``last``, its
        success; return the alerts, or None if the database refused the articles (the feed's failure)."""
        feed = poll.feed
        next_poll = poll.started + politeness.after_success(self.settings.feed_interval(feed), read.ttl, poll.max_age)

        def record_success(tx: Tx) -> None:
            tx.record_pages(pages, self.clock())
            if last:
                tx.record_feed_success(
                    feed.name, feed.url, poll.etag, poll.last_modified, poll.status, self.clock(), next_poll
                )

        try:
            alerts = self.filing.store(
                read.articles, record_success, alert_since=read.alert_since, workers=workers, analysis=read.analysis
            )
        except SQLAlchemyError as exc:
            reason = refused_values(exc)
            if reason is None:
                raise  # the database itself failed: not this feed's doing
            refused = RefusedContentError(f"feed '{feed.name}': the database refused its articles: {reason}")
            self.metrics.record_poll(feed.name, _failure_kind(refused), poll.elapsed)
            self._record_feed_failure(feed, poll.state.consecutive_failures + 1, refused, poll.started)
            return None
        if not last:
            return alerts
        self.metrics.record_poll(feed.name, "ok", poll.elapsed)
        entries, found = count(read.entries, "entry", "entries"), count(len(alerts), "alert")
        log.info("feed '%s': %s, %s", feed.name, entries, found, extra={"feed": feed.name})
        return alerts

    def _record_feed_failure(self, feed: FeedSettings, failures: int, exc: FeedFailure, started: datetime) -> None:
        """Record a failed poll: its kind, the back-off (or the server's Retry-After), disabled on 410 Gone."""
        status = exc.status if isinstance(exc, FetchError) else None
        retry = None
        if isinstance(exc, fetcher.StatusError) and status in politeness.RETRY_AFTER_STATUSES:
            retry = politeness.retry_after(exc.retry_after, started)
        wait = politeness.after_failure(self.settings.feed_interval(feed), failures, retry)
        gone = status == 410
        self.storage.record_feed_failure(
            feed.name,
            feed.url,
            str(exc),
            status,
            self.clock(),
            kind=_failure_kind(exc),
            next_poll_at=None if gone else started + wait,
            backoff=None if gone else wait,
            disabled_reason="HTTP 410 Gone: the feed is disabled until its URL changes" if gone else None,
        )
        log.warning("%s", exc, extra={"feed": feed.name, "kind": _failure_kind(exc)})

    def refresh_seeds(self) -> list[AlertMessage]:
        """Ingest the seed files that are new or changed since their last ingestion; return the new alerts."""
        settings = self.settings
        if not settings.seeds.enabled:
            return []
        alerts: list[AlertMessage] = []
        for seed in seeds.scan(settings.seeds.path):
            source = f"seeds/{seed.name}"
            if self.storage.seed_digest(source) == seed.digest:
                continue
            try:
                article = seeds.parse_seed(seed.name, seed.content.decode("utf-8", errors="replace"))
            except Exception:  # a broken seed file is skipped, never fatal to the others
                log.exception("seed '%s': cannot be read", source, extra={"feed": source})
                continue

            def record_seed(tx: Tx, source: str = source, digest: str = seed.digest) -> None:
                tx.record_seed(source, digest, self.clock())

            new = self.filing.store([article] if article else [], record_seed, once_per_story=False)
            log.info("seed '%s': ingested, %s", source, count(len(new), "alert"), extra={"feed": source})
            alerts.extend(new)
        return alerts

    def check_health(self) -> list[AlertMessage]:
        """Record a health alert for each feed whose failing or silent episode begins or ends; return them.

        Health alerts go through the outbox like rule alerts, to the webhooks of ``[health] webhooks``.
        """
        settings, now = self.settings, self.clock()
        vitals = self.storage.feed_vitals(
            [(feed.name, feed.url) for feed in settings.feeds], health.RHYTHM_ARTICLES, health.SOURCE, health.key_prefix
        )
        intervals = {feed.name: settings.feed_interval(feed) for feed in settings.feeds}
        found = [
            health.assess(v, now, settings.health.alert_after, settings.health.silence_factor, intervals[v.name])
            for v in vitals
        ]
        events = [event for event in found if event is not None]
        return self.filing.store_health(events, tuple(settings.health.webhooks)) if events else []

    def deliver(self, wait: bool = True) -> DrainReport:
        """Send every due delivery in the outbox, one worker per webhook; with ``wait``, return when all are tried."""
        active = self.active
        return self.dispatcher.drain(active.settings.webhooks, active.rules, active.settings.delivery, wait)


@dataclass(frozen=True)
class _Poll:
    """One poll of a feed that brought an answer: the state it started from, the answer's validators and status,
    when it started, its ``max-age`` and how long fetching and parsing took (the body itself is not kept)."""

    feed: FeedSettings
    state: FeedState
    etag: str | None
    last_modified: str | None
    status: int
    started: datetime
    max_age: timedelta | None
    elapsed: float


@dataclass(frozen=True)
class _Read:
    """A feed's answer read: its articles (dates made plausible), how many entries it had, its ``<ttl>``, since
    when its articles may alert, and their analysis when it was worked out with the parsing."""

    articles: Sequence[ParsedArticle]
    entries: int
    ttl: timedelta | None
    alert_since: datetime | None
    analysis: Analysis | None = None


def _failure_kind(exc: FeedFailure) -> str:
    """Return the class of a failed poll: the fetch error's kind, ``not_a_feed``, ``parse`` or ``refused``."""
    if isinstance(exc, FetchError):
        return exc.kind
    if isinstance(exc, RefusedContentError):
        return "refused"
    return "not_a_feed" if isinstance(exc, NotAFeedError) else "parse"
