"""Store a batch of articles in one transaction: save the new ones, file them in stories, record their alerts.

``Filing.store`` is the last step of ``pipeline.refresh_feed`` and ``refresh_seeds``. The work that needs no lock
comes first, on the articles that look new: their story sketches and the rules' hits (on the parse workers when
the caller has them). Then one transaction saves the articles the database does not know yet, files them in
stories (the index of recent sketches lives here, rebuilt from the database on first use), records the alerts
of the rules that matched and whatever the caller adds (its feed's new state). Batches that wait for the
transaction at the same moment (feeds read together) are stored in one, each in turn as if alone; if that
transaction fails, each is stored in its own, so that one batch the database refuses fails alone. An alert
with no webhook is printed on the console. ``store_health`` stores the health alerts of feeds the same
way, each carried by a synthetic article (``observe.health``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.analysis import Analysis, analyze, recent
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.stories import StoryIndex
from monitor.observe.health import HealthEvent
from monitor.observe.memory import Trimmer
from monitor.observe.metrics import Metrics
from monitor.ruleset import Ruleset
from monitor.store.alerts import NewAlert, StoredArticle
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage, Tx, lone_stories

log = logging.getLogger(__name__)
# The most batches (feeds) and articles that one transaction stores together, when several wait at once.
GROUP_BATCHES = 16
GROUP_ARTICLES = 2000


@dataclass(frozen=True)
class Workers:
    """A parse pool, and the ruleset whose rules its worker processes match."""

    pool: ParsePool
    ruleset: Ruleset


class Filing:
    """The storing step of one pipeline, and the story index it keeps between batches."""

    def __init__(
        self,
        storage: Storage,
        metrics: Metrics,
        clock: Callable[[], datetime],
        active: Callable[[], Ruleset],
        on_console_alert: Callable[[AlertMessage], None],
    ) -> None:
        self.storage = storage
        self.metrics = metrics
        self.clock = clock
        self.active = active
        self.on_console_alert = on_console_alert
        # The sketches of the recent articles (``[ingest] story_window``), built from the database on first use.
        self._stories: StoryIndex | None = None
        self._filing_turn = 0  # the last filing turn the index knows of (``Tx.filed_after``)
        self._stories_lock = threading.Lock()
        self._waiting: list[_Batch] = []  # batches waiting for the lock, oldest first
        self._waiting_lock = threading.Lock()
        self._trim = Trimmer()

    def store(
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
        active = self.active()
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
        # Batches file their articles one transaction at a time, so that two copies of a story never open two
        # stories: in this process by the lock, across instances by the transaction's turn (``serialize_filing``).
        # Whoever takes the lock stores the batches waiting for it too, in the same transaction.
        batch = _Batch(fresh, found, also, once_per_story, active, now)
        with self._waiting_lock:
            self._waiting.append(batch)
        with self._stories_lock:
            try:
                while not batch.done:  # oldest first: the batches before this one, then this one
                    self._store_group(self._take())
            except BaseException:
                with self._waiting_lock:
                    if batch in self._waiting:
                        self._waiting.remove(batch)
                raise
        if batch.error is not None:
            raise batch.error
        stored, alerts = batch.stored, batch.alerts
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

    def _take(self) -> list[_Batch]:
        """Return the oldest batches waiting, up to ``GROUP_BATCHES`` of them or ``GROUP_ARTICLES`` in all."""
        with self._waiting_lock:
            group = [self._waiting.pop(0)]
            size = len(group[0].fresh)
            while self._waiting and len(group) < GROUP_BATCHES:
                if size + len(self._waiting[0].fresh) > GROUP_ARTICLES:
                    break
                group.append(self._waiting.pop(0))
                size += len(group[-1].fresh)
        return group

    def _store_group(self, group: list[_Batch]) -> None:
        """Store the batches in one transaction or, if it fails, each in a transaction of its own.

        One batch that the database refuses then fails alone; each batch gets its outcome or its error.
        """
        try:
            try:
                self._transaction(group)
                return
            except Exception as exc:
                if len(group) == 1:
                    group[0].error, group[0].done = exc, True
                    return
                log.debug("storing %d batches together failed (%s): one at a time", len(group), type(exc).__name__)
            for batch in group:
                try:
                    self._transaction([batch])
                except Exception as exc:
                    batch.error, batch.done = exc, True
        except BaseException:
            with self._waiting_lock:  # interrupted: the others wait again, each for its own caller to store
                self._waiting[:0] = [batch for batch in group if not batch.done]
            raise

    def _transaction(self, group: Sequence[_Batch]) -> None:
        """Save the batches' new articles, file them in stories and record their alerts, in one transaction.

        Each batch is stored as if alone, in turn: it sees what the batches before it stored (their articles,
        stories and alerts), as it would have seen them committed; the copies an alert lists are those of the
        whole transaction.
        """
        now, window = group[0].now, group[0].active.settings.ingest.story_window
        done: list[tuple[list[StoredArticle], list[AlertMessage]]] = []
        try:
            with self.storage.transaction() as tx:
                tx.serialize_filing()
                index = self._story_index(tx, now, window)
                self._filing_turn += 1
                # The articles of every batch are saved and filed together, in the batches' order: an article
                # whose key an earlier batch holds is a copy, as it would be once that batch was committed.
                sketches: dict[str, bytes] = {}
                for batch in reversed(group):  # a key's sketch is that of the first batch that has it
                    sketches.update(batch.found.sketches)
                articles = [article for batch in group for article in batch.fresh]
                everything = tx.save_new_articles(articles, now, sketches)
                filed = tx.file_in_stories(everything, index, now, sketches, self._filing_turn)
                owner = {id(article): number for number, batch in enumerate(group) for article in batch.fresh}
                for number, batch in enumerate(group):
                    stored = [item for item in everything if owner[id(item.article)] == number]
                    own = {item.id: filed[item.id] for item in stored}
                    hits = batch.active.alerts(stored, batch.found.hits, own, batch.story_window)
                    done.append((stored, tx.record_alerts(hits, batch.now, lone_stories(own))))
                    batch.also(tx)
        except BaseException:
            self._stories = None  # it may hold articles that were rolled back: rebuilt on next use
            raise
        for batch, (stored, alerts) in zip(group, done, strict=True):
            batch.stored, batch.alerts, batch.done = stored, alerts, True

    def store_health(self, found: Sequence[HealthEvent], webhooks: tuple[str, ...]) -> list[AlertMessage]:
        """Store the articles of health events and record an alert for each new one, to ``webhooks`` (or printed
        on the console without any); return the alerts."""
        now = self.clock()
        events = {event.article.content_key: event for event in found}
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

    def _story_index(self, tx: Tx, now: datetime, window: timedelta) -> StoryIndex:
        """Return the story index up to date, old entries evicted, in a transaction that holds the filing turn.

        Built from the stored signatures of the window on first use; then it learns, at each turn, what other
        instances sharing the database filed since its last one.
        """
        if self._stories is None:
            index = StoryIndex()
            for article_id, sig, fetched in tx.filed_stories(now - window):
                index.add(article_id, sig, fetched)
            self._stories, self._filing_turn = index, tx.last_filing_turn()
        else:
            others, self._filing_turn = tx.filed_after(self._filing_turn)
            for article_id, sig, fetched in others:
                self._stories.add(article_id, sig, fetched)
        self._stories.evict(now - window)
        return self._stories


@dataclass(eq=False)
class _Batch:
    """One caller's articles waiting to be stored, what was worked out for them, and then what storing gave."""

    fresh: list[ParsedArticle]
    found: Analysis
    also: Callable[[Tx], None]
    once_per_story: bool
    active: Ruleset
    now: datetime
    stored: list[StoredArticle] = field(default_factory=list)
    alerts: list[AlertMessage] = field(default_factory=list)
    done: bool = False  # stored, or failed with ``error``
    error: Exception | None = None

    @property
    def story_window(self) -> timedelta | None:
        """Return the window within which a rule alerts once per story, or None if it alerts on every copy."""
        return self.active.settings.ingest.story_window if self.once_per_story else None
