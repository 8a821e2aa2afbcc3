"""The path of an article, one named step after another: fetch, parse, store the new ones, match, record alerts.

``refresh_feed`` and ``refresh_seeds`` bring articles in; ``deliver`` sends what the outbox holds. One failing
feed or seed file is recorded and logged, never fatal to the others: a feed whose articles the database refuses
(a value too large for it) is such a failure, while a database that fails whatever it is given fails the job.
``refresh_feed`` also records when the feed is next due (``ingest.politeness``); ``poll_feed`` (the daemon's feed
job) hands a due feed to the feed poller, and ``refresh_feeds`` (``run --once``) fetches every feed at once. For
a feed with full text, the new articles get the main text of their pages before they are matched
(``fulltext``); a page that fails is never its feed's failure.
The settings in force, the rules and their matcher form one ``Ruleset`` (``ruleset.py``) that ``apply`` replaces
whole; storing a batch of articles reads it once, so a batch never mixes the rules of one version of the settings
with the matcher or webhooks of another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from monitor.analysis import Analysis, analyze, recent, with_plausible_dates
from monitor.delivery.dispatcher import Dispatcher, DrainReport
from monitor.errors import FeedParseError, FetchError, RefusedContentError
from monitor.fulltext import FullText
from monitor.ingest import fetcher, gate, politeness, seeds
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.ingest.poller import FeedPoller
from monitor.ingest.stories import StoryIndex
from monitor.observe import health
from monitor.observe.memory import Trimmer
from monitor.observe.metrics import Metrics
from monitor.ruleset import Ruleset
from monitor.settings.config import FeedSettings, Settings
from monitor.store.alerts import NewAlert
from monitor.store.engine import refused_values
from monitor.store.feeds import FeedState
from monitor.store.message import AlertMessage
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage, Tx, lone_stories
from monitor.words import count

log = logging.getLogger(__name__)
# Why a poll failed: the feed could not be fetched, could not be read, or the database refused what it holds.
FeedFailure = FetchError | FeedParseError | RefusedContentError
FEED_LEASE_MARGIN = timedelta(seconds=10)  # parsing and storing, after the fetch's own deadline
PARSE_POOL_MIN_FEEDS = 8


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Workers:
    """A parse pool, and the ruleset whose rules its worker processes match."""

    pool: ParsePool
    ruleset: Ruleset


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
        self.on_console_alert = on_console_alert
        self.clock = clock
        self.outbox = Outbox(storage)
        self.metrics = metrics or Metrics()
        self.metrics.watch(self.outbox, storage, lambda: [(f.name, f.url) for f in self.settings.feeds], clock)
        self.dispatcher = Dispatcher(self.outbox, client, clock, metrics=self.metrics)
        self.feeds = FeedPoller(
            lambda feed, client: self.refresh_feed(feed, client, defer=[]), lambda: self.settings.http.max_connections
        )
        self.full_text = FullText(storage, self.metrics, clock)
        # The sketches of the recent articles (``[ingest] story_window``), built from the database on first use.
        self._stories: StoryIndex | None = None
        self._filing_turn = 0  # the last filing turn the index knows of (``Tx.filed_after``)
        self._stories_lock = threading.Lock()
        self._trim = Trimmer()

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
        if self.storage.claim_feed_poll(feed.name, feed.url, now, due_by, lease):
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
        its previous polls left, when the caller has read it already. With ``defer``, a feed with full text
        waits for its pages and is stored on a thread of ``FullText.later``, whose future is added to ``defer``.
        """
        parse = workers.pool.parse if workers is not None else parse_feed
        extra = {"feed": feed.name}
        settings = self.settings
        interval, max_text = settings.feed_interval(feed), settings.ingest.max_text
        full_text = settings.feed_full_text(feed)
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
                next_poll = started + politeness.after_success(interval, max_age)
                self.storage.record_feed_not_modified(feed.name, feed.url, self.clock(), next_poll)
                log.debug("feed '%s': not modified", feed.name, extra=extra)
                return []
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
                    articles = parsed.articles
                else:
                    parsed = parse(content, feed.name, result.headers, result.url, max_text=max_text)
                    analysis = None
                    articles = with_plausible_dates(parsed.articles, fetched)
        except (FetchError, FeedParseError) as exc:
            self.metrics.record_poll(feed.name, _failure_kind(exc), time.monotonic() - timer)
            self._record_feed_failure(feed, state.consecutive_failures + 1, exc, started)
            return []
        elapsed = time.monotonic() - timer
        next_poll = started + politeness.after_success(interval, parsed.ttl, max_age)

        def record_success(tx: Tx) -> None:
            tx.record_feed_success(
                feed.name, feed.url, result.etag, result.last_modified, result.status, self.clock(), next_poll
            )

        def finish() -> list[AlertMessage]:
            stored = articles
            if full_text:
                pool = workers.pool if workers is not None else None
                stored = self.full_text.complete(
                    feed.name, articles, alert_since, not result.from_public, settings, pool
                )
            try:
                alerts = self._store(
                    stored, record_success, alert_since=alert_since, workers=workers, analysis=analysis
                )
            except SQLAlchemyError as exc:
                reason = refused_values(exc)
                if reason is None:
                    raise  # the database itself failed: not this feed's doing
                refused = RefusedContentError(f"feed '{feed.name}': the database refused its articles: {reason}")
                self.metrics.record_poll(feed.name, _failure_kind(refused), elapsed)
                self._record_feed_failure(feed, state.consecutive_failures + 1, refused, started)
                return []
            self.metrics.record_poll(feed.name, "ok", elapsed)
            entries, found = count(len(parsed.articles), "entry", "entries"), count(len(alerts), "alert")
            log.info("feed '%s': %s, %s", feed.name, entries, found, extra=extra)
            return alerts

        if full_text and defer is not None:
            # Waiting for its pages holds no connection: the feed's slot goes to the next feed meanwhile.
            defer.append(self.full_text.later(feed.name, finish))
            return []
        return finish()

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

            new = self._store([article] if article else [], record_seed, once_per_story=False)
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
        events = {event.article.content_key: event for event in found if event is not None}
        if not events:
            return []
        webhooks = tuple(settings.health.webhooks)
        with self.storage.transaction() as tx:
            stored = tx.save_new_articles([event.article for event in events.values()], now)
            hits = [
                NewAlert(item, events[key].rule, "", (), "title", item.article.title, webhooks)
                for item in stored
                if (key := item.article.content_key) in events
            ]
            alerts = tx.record_alerts(hits, now)
        for alert in alerts:
            # An alert printed on the console is its own line: logging it as well would say it twice.
            level = logging.DEBUG if not webhooks else logging.WARNING
            log.log(level, "%s", alert.article.title, extra={"feed": alert.rule.removeprefix("health: ")})
            if not webhooks:
                self.on_console_alert(alert)
        return alerts

    def deliver(self, wait: bool = True) -> DrainReport:
        """Send every due delivery in the outbox, one worker per webhook; with ``wait``, return when all are tried."""
        active = self.active
        return self.dispatcher.drain(active.settings.webhooks, active.rules, active.settings.delivery, wait)

    def _store(
        self,
        articles: Sequence[ParsedArticle],
        also: Callable[[Tx], None],
        *,
        alert_since: datetime | None = None,
        once_per_story: bool = True,
        workers: Workers | None = None,
        analysis: Analysis | None = None,
    ) -> list[AlertMessage]:
        """Store the new articles, file them in stories, match them and record their alerts, in one transaction.

        Only articles published since ``alert_since`` (or undated) are matched, when it is given; with
        ``once_per_story``, a rule that says so alerts once per story within ``[ingest] story_window``.
        ``analysis`` is the articles' analysis when it was worked out already.
        """
        now = self.clock()
        active = self.active
        window = active.settings.ingest.story_window
        # The work that needs no lock is done first, on the articles that look new (the transaction checks
        # again): their sketches, and the rules' hits on those recent enough to alert.
        fresh = self.storage.unseen(articles)
        if analysis is not None:
            found = analysis  # worked out already, for these articles and more
        elif not fresh:
            found = Analysis({}, {})
        elif workers is not None and workers.ruleset is active:
            found = workers.pool.analyze(fresh, recent(fresh, alert_since))
        else:
            found = analyze(active.matcher, fresh, recent(fresh, alert_since))
        # One batch at a time files its articles, so that two copies of a story never open two stories: in this
        # process by the lock, across instances by the transaction's turn (``serialize_filing``).
        with self._stories_lock:
            try:
                with self.storage.transaction() as tx:
                    tx.serialize_filing()
                    index = self._story_index(tx, now, window)
                    stored = tx.save_new_articles(fresh, now, found.sketches)
                    self._filing_turn += 1
                    filed = tx.file_in_stories(stored, index, now, found.sketches, self._filing_turn)
                    hits = active.alerts(stored, found.hits, filed, window if once_per_story else None)
                    alerts = tx.record_alerts(hits, now, lone_stories(filed))
                    also(tx)
            except BaseException:
                self._stories = None  # it may hold articles that were rolled back: rebuilt on next use
                raise
        self._trim()
        self.metrics.record_articles(item.article.source for item in stored)
        self.metrics.record_matches(alert.rule for alert in alerts)
        for alert in alerts:
            console = not active.settings.rule_webhooks(active.rules[alert.rule])
            log.log(
                logging.DEBUG if console else logging.INFO,  # a console alert is printed, one line, not logged too
                "rule %r matched %r (alert %d)",
                alert.rule,
                alert.article.title[:120],
                alert.id,
                extra={"rule": alert.rule, "alert_id": alert.id},
            )
            if console:
                self.on_console_alert(alert)
        return alerts

    def _story_index(self, tx: Tx, now: datetime, window: timedelta) -> StoryIndex:
        """Return the story index up to date, old entries evicted, in a transaction that holds the filing turn.

        Built from the stored signatures of the window on first use; then it learns, at each turn, what other
        instances sharing the database filed since its last one.
        """
        if self._stories is None:
            index = StoryIndex()
            for article_id, story_id, sig, fetched in tx.filed_stories(now - window):
                index.add(article_id, story_id, sig, fetched)
            self._stories, self._filing_turn = index, tx.last_filing_turn()
        else:
            others, self._filing_turn = tx.filed_after(self._filing_turn)
            for article_id, story_id, sig, fetched in others:
                self._stories.add(article_id, story_id, sig, fetched)
        self._stories.evict(now - window)
        return self._stories


def _failure_kind(exc: FeedFailure) -> str:
    """Return the class of a failed poll: the fetch error's kind, ``not_a_feed``, ``parse`` or ``refused``."""
    if isinstance(exc, FetchError):
        return exc.kind
    if isinstance(exc, RefusedContentError):
        return "refused"
    return "not_a_feed" if isinstance(exc, NotAFeedError) else "parse"
