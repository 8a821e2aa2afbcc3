"""The path of an article, one named step after another: fetch, parse, store the new ones, match, record alerts.

``refresh_feed`` and ``refresh_seeds`` bring articles in; ``deliver`` sends what the outbox holds. One failing
feed or seed file is recorded and logged, never fatal to the others. ``refresh_feed`` also records when the feed
is next due (``ingest.politeness``); ``poll_feed`` (the daemon's feed job) hands a due feed to the feed poller,
and ``refresh_feeds`` (``run --once``) fetches every feed at once. The settings in force, the rules and their
matcher form one ``Ruleset`` that ``apply`` replaces whole; storing a batch of articles reads it once, so a batch
never mixes the rules of one version of the settings with the matcher or webhooks of another.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import httpx

from monitor.config import FeedSettings, RuleSettings, Settings
from monitor.delivery import Dispatcher, DrainReport
from monitor.errors import FeedParseError, FetchError
from monitor.ingest import fetcher, politeness, seeds
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.ingest.poller import FeedPoller
from monitor.matching import Matcher
from monitor.notify.message import AlertMessage
from monitor.outbox import Outbox
from monitor.storage import NewAlert, Storage, Tx

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ruleset:
    """The settings in force, each rule's readable description and the matcher built from the rules."""

    settings: Settings
    rules: Mapping[str, RuleSettings]
    descriptions: Mapping[str, str]
    matcher: Matcher

    @classmethod
    def build(cls, settings: Settings) -> Ruleset:
        """Return the ruleset of validated settings, its matcher compiled from every rule."""
        rules = {rule.name: rule for rule in settings.rules}
        ruleset = cls(
            settings=settings,
            rules=MappingProxyType(rules),
            descriptions=MappingProxyType({name: rule.describe() for name, rule in rules.items()}),
            matcher=Matcher({name: rule.compile() for name, rule in rules.items()}),
        )
        # The compiled rules live as long as the ruleset and hold no cycles: keeping them out of the cyclic
        # garbage collector's scans saves each article's short-lived objects from paying for them.
        gc.freeze()
        return ruleset


class Pipeline:
    """Everything a job needs, wired once by the command line; ``active`` is swapped whole on reload."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        client: httpx.Client,
        on_console_alert: Callable[[AlertMessage], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.active = Ruleset.build(settings)
        self.storage = storage
        self.client = client
        self.on_console_alert = on_console_alert
        self.clock = clock
        self.outbox = Outbox(storage)
        self.dispatcher = Dispatcher(self.outbox, client, clock)
        self.feeds = FeedPoller(self.refresh_feed, lambda: self.settings.http.max_connections)

    def close(self) -> None:
        """Let the fetches and deliveries in flight finish; the queue keeps the rest for the next start."""
        self.feeds.close()
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
        """Queue the feed for fetching if its next poll time has come and it is not disabled."""
        state = self.storage.feed_state(feed.name, feed.url)
        interval = self.settings.feed_interval(feed)
        if state.disabled_reason is None and politeness.is_due(state.next_poll_at, self.clock(), interval):
            self.feeds.poll([feed])

    def refresh_feeds(self) -> None:
        """Fetch every feed of the settings that is not disabled, all at once, whatever their next poll time."""
        feeds = [f for f in self.settings.feeds if self.storage.feed_state(f.name, f.url).disabled_reason is None]
        failures: list[Exception] = []

        def refresh(feed: FeedSettings, client: httpx.Client) -> None:
            try:
                self.refresh_feed(feed, client)
            except Exception as exc:  # raised here once all are done: a broken database fails the cycle
                failures.append(exc)

        poller = FeedPoller(refresh, lambda: self.settings.http.max_connections)
        try:
            poller.poll(feeds)
            poller.wait()
        finally:
            poller.close()
        if failures:
            raise failures[0]

    def refresh_feed(self, feed: FeedSettings, client: httpx.Client | None = None) -> list[AlertMessage]:
        """Fetch one feed, store its new articles, record their alerts and its next poll; return the new alerts.

        The feed is fetched with ``client`` (the feed poller's), or else with the pipeline's shared client.
        """
        extra = {"feed": feed.name}
        settings = self.settings
        interval = settings.feed_interval(feed)
        state = self.storage.feed_state(feed.name, feed.url)
        started = self.clock()
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
                next_poll = started + politeness.after_success(interval, max_age)
                self.storage.record_feed_not_modified(feed.name, feed.url, self.clock(), next_poll)
                log.info("feed '%s': not modified", feed.name, extra=extra)
                return []
            parsed = parse_feed(result.content or b"", feed.name, result.headers, result.url)
        except (FetchError, FeedParseError) as exc:
            self._record_feed_failure(feed, state.consecutive_failures + 1, exc, started)
            return []
        next_poll = started + politeness.after_success(interval, parsed.ttl, max_age)

        def record_success(tx: Tx) -> None:
            tx.record_feed_success(
                feed.name, feed.url, result.etag, result.last_modified, result.status, self.clock(), next_poll
            )

        alerts = self._store(parsed.articles, record_success)
        log.info("feed '%s': %d entries, %d alerts", feed.name, len(parsed.articles), len(alerts), extra=extra)
        return alerts

    def _record_feed_failure(
        self, feed: FeedSettings, failures: int, exc: FetchError | FeedParseError, started: datetime
    ) -> None:
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

            new = self._store([article] if article else [], record_seed)
            log.info("seed '%s': ingested, %d alerts", source, len(new), extra={"feed": source})
            alerts.extend(new)
        return alerts

    def deliver(self, wait: bool = True) -> DrainReport:
        """Send every due delivery in the outbox, one worker per webhook; with ``wait``, return when all are tried."""
        active = self.active
        return self.dispatcher.drain(active.settings.webhooks, active.rules, active.settings.delivery, wait)

    def _store(self, articles: Sequence[ParsedArticle], also: Callable[[Tx], None]) -> list[AlertMessage]:
        """Store the new articles, match them and record their alerts, all in one transaction."""
        now = self.clock()
        active = self.active
        with self.storage.transaction() as tx:
            stored = tx.save_new_articles(articles, now)
            hits = [
                NewAlert(
                    article=item,
                    rule=hit.rule,
                    query=active.descriptions[hit.rule],
                    matched=hit.matched,
                    field=hit.field,
                    snippet=hit.snippet,
                    webhooks=tuple(active.settings.rule_webhooks(active.rules[hit.rule])),
                    digest_every=_digest_every(active.rules[hit.rule]),
                )
                for item in stored
                for hit in active.matcher.match(title=item.article.title, text=item.article.text)
            ]
            alerts = tx.record_alerts(hits, now)
            also(tx)
        for alert in alerts:
            log.info(
                "rule %r matched %r (alert %d)",
                alert.rule,
                alert.article.title[:120],
                alert.id,
                extra={"rule": alert.rule, "alert_id": alert.id},
            )
            if not active.settings.rule_webhooks(active.rules[alert.rule]):
                self.on_console_alert(alert)
        return alerts


def _failure_kind(exc: FetchError | FeedParseError) -> str:
    """Return the class of a failed poll: the fetch error's kind, ``not_a_feed`` or ``parse``."""
    if isinstance(exc, FetchError):
        return exc.kind
    return "not_a_feed" if isinstance(exc, NotAFeedError) else "parse"


def _digest_every(rule: RuleSettings) -> timedelta | None:
    """Return the window of a digest rule, or None for a rule whose alerts go out at once."""
    return rule.digest_every if rule.delivery == "digest" else None
