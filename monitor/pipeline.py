"""The path of an article, one named step after another: fetch, parse, store the new ones, match, record alerts.

``refresh_feed`` and ``refresh_seeds`` bring articles in; ``deliver`` sends what the outbox holds. One failing
feed or seed file is recorded and logged, never fatal to the others. The settings in force, the rules and their
matcher form one ``Ruleset`` that ``apply`` replaces whole; storing a batch of articles reads it once, so a batch
never mixes the rules of one version of the settings with the matcher or webhooks of another.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

import httpx

from monitor import delivery
from monitor.config import FeedSettings, RuleSettings, Settings
from monitor.errors import FeedParseError, FetchError
from monitor.ingest import fetcher, seeds
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parser import parse_feed
from monitor.matching import Matcher
from monitor.notify.message import AlertMessage
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

    def refresh_feed(self, feed: FeedSettings) -> list[AlertMessage]:
        """Fetch one feed, store its new articles and record their alerts; return the new alerts."""
        extra = {"feed": feed.name}
        settings = self.settings
        validators = self.storage.feed_validators(feed.name)
        try:
            result = fetcher.fetch(
                self.client,
                feed.name,
                feed.url,
                etag=validators.etag,
                last_modified=validators.last_modified,
                deadline=settings.http.timeout.total_seconds(),
                max_bytes=settings.http.max_bytes,
            )
            if result.not_modified:
                self.storage.record_feed_not_modified(feed.name, feed.url, self.clock())
                log.info("feed '%s': not modified", feed.name, extra=extra)
                return []
            articles = parse_feed(result.content or b"", feed.name, result.headers, result.url)
        except (FetchError, FeedParseError) as exc:
            status = exc.status if isinstance(exc, FetchError) else None
            self.storage.record_feed_failure(feed.name, feed.url, str(exc), status, self.clock())
            log.warning("%s", exc, extra=extra)
            return []

        def record_success(tx: Tx) -> None:
            tx.record_feed_success(feed.name, feed.url, result.etag, result.last_modified, result.status, self.clock())

        alerts = self._store(articles, record_success)
        log.info("feed '%s': %d entries, %d alerts", feed.name, len(articles), len(alerts), extra=extra)
        return alerts

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

    def deliver(self) -> delivery.DrainReport:
        """Send every due delivery in the outbox."""
        settings = self.settings
        return delivery.drain(self.storage, settings.webhooks, self.client, settings.delivery, self.clock)

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
