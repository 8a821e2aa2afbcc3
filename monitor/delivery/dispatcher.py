"""The outbox worker: claim due deliveries per webhook, render, POST, then mark sent, retry or dead.

Each webhook is drained by its own worker thread, so a slow or failing webhook never delays the others, and
is paced so that no platform rate-limits us (``PACES``; Discord by its ``X-RateLimit-*`` headers; Teams at most
100 an hour, past which that hour's alerts wait and go out together as one digest). With several instances on
one database, one instance at a time drains a webhook: the one holding its lease, renewed before each request
together with the request's pacing slot (``store.webhooks``), so pacing holds across instances too.

Outcomes: a 2xx answer is success. 400, 401, 403, 404 and 410 are permanent: the delivery is dead at once
(a 404 from Discord means the webhook was deleted: it is disabled until its URL changes). Anything else,
timeouts and connection errors included, is retried after ``[delivery] retry_delays`` (the last one repeats,
±20 % jitter), never before a ``Retry-After`` header or Discord's ``retry_after``; once ``give_up_after`` has
passed since the delivery was queued it is dead. Dead deliveries stay in the table (``monitor alerts``), and a
webhook whose deliveries keep dying is logged as such.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx

from monitor.delivery import destination, notify, pacing
from monitor.delivery.pacing import PACES, Pace, Slot, next_attempt
from monitor.delivery.sender import Outcome, send
from monitor.observe.metrics import Metrics
from monitor.settings.config import DeliverySettings, RuleSettings, WebhookSettings
from monitor.store.message import AlertMessage
from monitor.store.outbox import DueDelivery, Outbox, Sent
from monitor.store.webhooks import PaceState, Turn
from monitor.words import count

log = logging.getLogger(__name__)

DEAD_IN_A_ROW_WARNING = 3
WORKERS = 8
BUDGET = "budget|"  # digest key prefix of alerts held back by an hourly budget
MAX_SLOT_WAIT = 5.0  # seconds: a pacing slot further away than this is not waited for; the rest is held till then


@dataclass
class DrainReport:
    """How one drain went: deliveries sent, to be retried, given up, and held back by pacing."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0

    def add(self, other: DrainReport) -> None:
        """Add another report's counts to this one."""
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.held += other.held


@dataclass
class _Unit:
    """What goes out in one request, or one digest: the deliveries and the payloads."""

    deliveries: list[DueDelivery]
    payloads: list[tuple[str, dict[str, object]]] = field(default_factory=list)


class _Next(enum.Enum):
    """What the drain does after a unit: go on, stop for now (the rest is held), or stop at once (lease lost)."""

    GO_ON = "go on"
    HELD = "held"
    LOST = "lost"


@dataclass
class _Unmarked:
    """The unit last sent, recorded as sent in the transaction that takes the next request's turn, or at the end
    of its batch: one transaction a request, and still never a request out before the last one is recorded."""

    sent: Sent | None = None
    deliveries: list[DueDelivery] = field(default_factory=list)


@dataclass(frozen=True)
class _Turn:
    """Where one webhook's drain stands: its name, settings and pace, and the lease it sends under."""

    name: str
    webhook: WebhookSettings
    pace: Pace
    lease: timedelta
    deadline: float
    unmarked: _Unmarked = field(default_factory=_Unmarked)

    @property
    def url(self) -> str:
        """Return the webhook's destination: its URL, or its room or chat on a server (a secret)."""
        return destination.identity(self.webhook)

    @property
    def paced(self) -> str:
        """Return what the webhook's requests share a rate limit with: its URL, or a bot on a server (a secret)."""
        return destination.pace_key(self.webhook)

    @property
    def max_wait(self) -> timedelta:
        """Return how long a reserved slot may be ahead: a request and its wait stay well within the lease."""
        return timedelta(seconds=min(MAX_SLOT_WAIT, self.deadline))


class Dispatcher:
    """Drain the outbox: one worker per webhook with due deliveries, paced, each request bounded in time.

    With several instances on one database, a webhook's deliveries are sent by the one instance holding its lease
    (``store.webhooks``); the lease is renewed before every request, together with the request's pacing slot.
    """

    def __init__(
        self,
        outbox: Outbox,
        client: httpx.Client,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = WORKERS,
        metrics: Metrics | None = None,
        paces: Mapping[str, Pace] = PACES,
    ) -> None:
        self.outbox = outbox
        self.metrics = metrics or Metrics()
        self.client = client
        self.clock = clock
        self.paces = paces
        # Who holds a lease: unique to this process and this dispatcher, readable in the database.
        self.holder = f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery")
        self._busy: dict[str, Future[DrainReport]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def drain(
        self,
        webhooks: Mapping[str, WebhookSettings],
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
        wait_for_all: bool = True,
    ) -> DrainReport:
        """Start a worker for every webhook with due deliveries (not already being drained); maybe wait for them."""
        started: list[Future[DrainReport]] = []
        with self._lock:
            for name in self.outbox.due_webhooks(self.clock()):
                if name in self._busy and not self._busy[name].done():
                    continue
                future = self._pool.submit(self._drain_webhook, name, webhooks.get(name), rules, settings)
                self._busy[name] = future
                started.append(future)
        report = DrainReport()
        if wait_for_all:
            wait(started)
            for future in started:
                report.add(future.result())
        return report

    def close(self) -> None:
        """Stop pacing waits and let in-flight requests finish."""
        self._stop.set()
        self._pool.shutdown(wait=True)

    def _drain_webhook(
        self,
        name: str,
        webhook: WebhookSettings | None,
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
    ) -> DrainReport:
        report = DrainReport()
        try:
            if webhook is None:
                self._drop_unconfigured(name, settings, report)
            else:
                self._drain(name, webhook, rules, settings, report)
        except Exception:  # one webhook's trouble is logged, never fatal to the worker pool
            log.exception("webhook '%s': delivery worker failed", name, extra={"webhook": name})
        return report

    def _drop_unconfigured(self, name: str, settings: DeliverySettings, report: DrainReport) -> None:
        """Fail the due deliveries of a webhook the settings no longer name (retried, then dead)."""
        lease = timedelta(seconds=settings.timeout.total_seconds() * 2 + 5)
        batch = self.outbox.claim(self.clock(), lease, settings.batch_size, webhook=name)
        if batch:
            self._fail(batch, Outcome(None, f"webhook '{name}': no longer configured"), settings, report)

    def _drain(
        self,
        name: str,
        webhook: WebhookSettings,
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
        report: DrainReport,
    ) -> None:
        deadline = settings.timeout.total_seconds()
        # A request never outlives its deadline, nor a slot's wait the deadline: renewed before each request, the
        # lease outlasts both with a margin, so no other instance can take the webhook while a request is out.
        lease = timedelta(seconds=deadline * 2 + 5)
        turn = _Turn(name, webhook, pacing.pace_of(webhook, self.paces), lease, deadline)
        if not self.outbox.webhooks.take_lease(name, turn.url, self.holder, self.clock(), lease):
            return  # another instance is sending them
        try:
            while not self._stop.is_set():
                batch = self.outbox.claim(self.clock(), lease, settings.batch_size, webhook=name)
                if not batch or self._drain_batch(turn, batch, rules, settings, report) is not _Next.GO_ON:
                    return
        finally:
            self.outbox.webhooks.release_lease(name, self.holder)

    def _drain_batch(
        self,
        turn: _Turn,
        batch: list[DueDelivery],
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
        report: DrainReport,
    ) -> _Next:
        """Send a claimed batch unit by unit; return whether to go on with the next batch."""
        try:
            return self._drain_units(turn, batch, rules, settings, report)
        finally:
            self._record_sent(turn, report)

    def _drain_units(
        self,
        turn: _Turn,
        batch: list[DueDelivery],
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
        report: DrainReport,
    ) -> _Next:
        name, url = turn.name, turn.url
        disabled = self.outbox.webhooks.disabled_reason(name, url)
        if disabled:
            self._bury(name, url, batch, f"webhook '{name}': disabled: {disabled}", None, report)
            return _Next.GO_ON
        units = self._units(turn, batch, rules, report)
        for number, unit in enumerate(units):
            rest = [d for u in units[number:] for d in u.deliveries]
            if self._stop.is_set():
                self.outbox.hold([d.id for d in rest], self.clock())
                return _Next.HELD
            step, gone, retry_at = self._send_unit(turn, unit, settings, report)
            later = rest[len(unit.deliveries) :]
            if step is _Next.LOST:
                return step  # another instance holds the webhook now: it sends what is left
            if step is _Next.HELD:
                self.outbox.hold([d.id for d in rest], retry_at or self.clock())
                report.held += len(rest)
                return step
            if gone:
                if later:
                    self._bury(name, url, later, f"webhook '{name}': disabled: {gone}", None, report)
                return _Next.HELD
            if retry_at is not None:
                # The webhook is failing or limiting us: the rest waits with it, in order, no attempt counted.
                self.outbox.hold([d.id for d in later], retry_at)
                report.held += len(later)
                return _Next.HELD
        return _Next.GO_ON

    def _units(
        self,
        turn: _Turn,
        batch: list[DueDelivery],
        rules: Mapping[str, RuleSettings],
        report: DrainReport,
    ) -> list[_Unit]:
        """Return the requests to make: one per alert, and one digest (maybe in parts) per digest window."""
        name, webhook = turn.name, turn.webhook
        groups: dict[str, list[DueDelivery]] = {}
        singles: list[DueDelivery] = []
        for due in batch:
            if due.digest_key:
                groups.setdefault(due.digest_key, []).append(due)
            else:
                singles.append(due)
        now = self.clock()
        state = self.outbox.webhooks.pace_state(turn.paced) if turn.pace.per_hour is not None else PaceState()
        budget = pacing.budget(state, turn.pace, now)
        if budget is not None and len(singles) > budget:
            # Past the hourly budget, this hour's alerts wait for the next window and go out as one digest.
            until = pacing.window_end(state, now)
            window = f"{BUDGET}{name}|{int(until.timestamp())}"
            self.outbox.hold([d.id for d in singles[budget:]], until, digest_key=window)
            report.held += len(singles) - budget
            singles = singles[:budget]
        units = [_Unit([due], [(due.uid, notify.render(webhook.format, _ranked(due, rules)))]) for due in singles]
        for key, members in groups.items():
            alerts = [_ranked(due, rules) for due in members]
            rule = ", ".join(sorted({a.rule for a in alerts})) if key.startswith(BUDGET) else key.split("|", 1)[0]
            window = _window_label(key, rules.get(rule))
            parts = notify.render_digest(webhook.format, alerts, rule, window)
            base = "dig_" + hashlib.sha256(",".join(sorted(d.uid for d in members)).encode()).hexdigest()[:32]
            units.append(_Unit(members, [(f"{base}_{i}", part) for i, part in enumerate(parts, start=1)]))
        return units

    def _slot(self, turn: _Turn, report: DrainReport) -> Slot | None:
        """Record the unit last sent, renew the lease and reserve the next pacing slot, in one transaction; return
        the slot, or None if the lease is lost."""

        def reserve(state: PaceState) -> tuple[PaceState, Slot]:
            return pacing.reserve(state, turn.pace, now, turn.max_wait)

        now, unmarked = self.clock(), turn.unmarked
        asking = Turn(turn.name, self.holder, now, turn.lease, turn.paced)
        slot = self.outbox.take_turn(asking, reserve, unmarked.sent)
        self._sent(turn, report)
        return slot

    def _record_sent(self, turn: _Turn, report: DrainReport) -> None:
        """Record the unit last sent, if it is not yet."""
        sent = turn.unmarked.sent
        if sent is not None:
            self.outbox.mark_sent(sent.ids, sent.status_code, sent.at, turn.name, sent.url)
            self._sent(turn, report)

    def _sent(self, turn: _Turn, report: DrainReport) -> None:
        """Count and log the unit last sent, now recorded as such."""
        name, deliveries = turn.name, turn.unmarked.deliveries
        turn.unmarked.sent, turn.unmarked.deliveries = None, []
        if not deliveries:
            return
        report.sent += len(deliveries)
        self.metrics.record_delivery(name, "sent", len(deliveries))
        for due in deliveries:
            log.info(
                "webhook '%s': alert %d sent (rule %r)",
                name,
                due.alert.id,
                due.alert.rule,
                extra={"webhook": name, "alert_id": due.alert.id, "rule": due.alert.rule},
            )

    def _send_unit(
        self, turn: _Turn, unit: _Unit, settings: DeliverySettings, report: DrainReport
    ) -> tuple[_Next, str | None, datetime | None]:
        """Send one unit and record its outcome; return what to do next, why the webhook is now disabled, and
        when to try it again."""
        name, webhook, url = turn.name, turn.webhook, turn.url
        ids = [d.id for d in unit.deliveries]
        outcome = Outcome(None, f"webhook '{name}': nothing to send")
        for message_id, payload in unit.payloads:
            slot = self._slot(turn, report)
            if slot is None:
                log.warning("webhook '%s': lease lost to another instance", name, extra={"webhook": name})
                return _Next.LOST, None, None
            if slot.at is None:
                # Not within reach (a wait the platform asked for, or the hour's budget): held, no attempt counted.
                # A digest held after its first parts went out sends them again, under the same ids.
                return _Next.HELD, None, slot.not_before
            self._stop.wait(max(0.0, (slot.at - self.clock()).total_seconds()))
            if self._stop.is_set():
                return _Next.HELD, None, self.clock()
            outcome, response = send(self.client, name, webhook, payload, message_id, turn.deadline)
            self._note_asked_wait(turn.paced, outcome, response)
            if not outcome.ok:
                break
        if outcome.ok and outcome.status is not None:
            # Recorded with the next request's turn, before that request goes out, or when the batch ends.
            turn.unmarked.sent = Sent(tuple(ids), outcome.status, self.clock(), url)
            turn.unmarked.deliveries = unit.deliveries
            return _Next.GO_ON, None, None
        if outcome.permanent:
            gone = "the platform says this webhook was deleted" if webhook.format == "discord" else None
            disable = gone if outcome.status == 404 else None
            self._bury(name, url, unit.deliveries, outcome.error or "", outcome.status, report, disable)
            return _Next.GO_ON, disable, None
        return _Next.GO_ON, None, self._fail(unit.deliveries, outcome, settings, report)

    def _note_asked_wait(self, url: str, outcome: Outcome, response: httpx.Response | None) -> None:
        """Push the URL's next pacing slot back by the wait the answer asked for, if it asked for one."""
        if response is None:
            return
        now = self.clock()
        asked = max(outcome.retry_after or 0.0, pacing.asked_wait(response, now) or 0.0)
        if asked:
            self.outbox.webhooks.update_pace(url, lambda state: (pacing.after_answer(state, now, asked), None))

    def _fail(
        self, batch: Sequence[DueDelivery], outcome: Outcome, settings: DeliverySettings, report: DrainReport
    ) -> datetime | None:
        """Schedule the next attempt of failed deliveries, or bury the ones whose time is up; return the attempt."""
        now = self.clock()
        retry: list[tuple[DueDelivery, datetime]] = []
        bury: list[DueDelivery] = []
        for due in batch:
            attempt = next_attempt(due.attempts + 1, due.queued_at, now, settings, outcome.retry_after)
            if attempt is None:
                bury.append(due)
            else:
                retry.append((due, attempt))
        when: datetime | None = None
        if retry:
            when = max(w for _, w in retry)
            self.outbox.mark_failed([d.id for d, _ in retry], outcome.error or "", outcome.status, when)
            report.retried += len(retry)
            first = retry[0][0]
            self.metrics.record_delivery(first.webhook, "retried", len(retry))
            log.warning(
                "%s; retrying in %.0f s (attempt %d)",
                outcome.error,
                (when - now).total_seconds(),
                first.attempts + 1,
                extra={"webhook": first.webhook, "alert_id": first.alert.id},
            )
        if bury:
            name = bury[0].webhook
            self.outbox.mark_failed([d.id for d in bury], outcome.error or "", outcome.status, None)
            report.dead += len(bury)
            self.metrics.record_delivery(name, "dead", len(bury))
            for due in bury:
                log.error(
                    "%s; giving up on alert %d after %s",
                    outcome.error,
                    due.alert.id,
                    count(due.attempts + 1, "attempt"),
                    extra={"webhook": name, "alert_id": due.alert.id},
                )
        return when

    def _bury(
        self,
        name: str,
        url: str,
        batch: Sequence[DueDelivery],
        error: str,
        status: int | None,
        report: DrainReport,
        disable: str | None = None,
    ) -> None:
        """Mark deliveries dead at once, and note it on the webhook (maybe disabling it)."""
        self.outbox.mark_failed([d.id for d in batch], error, status, None)
        report.dead += len(batch)
        self.metrics.record_delivery(name, "dead", len(batch))
        in_a_row = self.outbox.webhooks.note(name, url, self.clock(), dead=len(batch), error=error, disable=disable)
        log.error(
            "%s; %s dead, not retried", error, count(len(batch), "delivery", "deliveries"), extra={"webhook": name}
        )
        if disable:
            log.error("webhook '%s': disabled (%s) until its URL changes", name, disable, extra={"webhook": name})
        elif in_a_row >= DEAD_IN_A_ROW_WARNING:
            log.error(
                "webhook '%s': %d deliveries dead in a row; check its URL and settings",
                name,
                in_a_row,
                extra={"webhook": name},
            )


def _ranked(due: DueDelivery, rules: Mapping[str, RuleSettings]) -> AlertMessage:
    """Return the delivery's alert with its rule's priority, when the rule sets one."""
    rule = rules.get(due.alert.rule)
    return replace(due.alert, priority=rule.priority) if rule is not None and rule.priority else due.alert


def _window_label(key: str, rule: RuleSettings | None) -> str:
    """Return a readable window such as ``2026-11-25 13:00 UTC, 1h`` from a digest key."""
    if key.startswith(BUDGET):
        return "this hour (past the platform's hourly budget)"
    _, _, start = key.partition("|")
    try:
        begins = datetime.fromisoformat(start)
    except ValueError:
        return start
    every = f", every {int(rule.digest_every.total_seconds() // 60)} min" if rule else ""
    return f"from {begins:%Y-%m-%d %H:%M} UTC{every}"
