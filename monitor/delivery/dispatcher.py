"""The outbox worker: claim due deliveries per webhook, render, POST, then mark sent, retry or dead.

Each webhook is drained by its own worker thread, so a slow or failing webhook never delays the others, and
is paced so that no platform rate-limits us (``PACES``; Discord by its ``X-RateLimit-*`` headers; Teams at most
100 an hour, past which that hour's alerts wait and go out together as one digest).

Outcomes: a 2xx answer is success. 400, 401, 403, 404 and 410 are permanent: the delivery is dead at once
(a 404 from Discord means the webhook was deleted: it is disabled until its URL changes). Anything else,
timeouts and connection errors included, is retried after ``[delivery] retry_delays`` (the last one repeats,
±20 % jitter), never before a ``Retry-After`` header or Discord's ``retry_after``; once ``give_up_after`` has
passed since the delivery was queued it is dead. Dead deliveries stay in the table (``monitor alerts``), and a
webhook whose deliveries keep dying is logged as such.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from monitor.delivery import notify
from monitor.delivery.notify.body import encode
from monitor.delivery.notify.signing import sign
from monitor.delivery.pacing import PACES, Pace, Pacer, next_attempt, parse_retry_after
from monitor.observe.logs import excerpt, safe_url, secrets_of
from monitor.observe.metrics import Metrics
from monitor.settings.config import DeliverySettings, RuleSettings, WebhookSettings
from monitor.store.outbox import DueDelivery, Outbox

log = logging.getLogger(__name__)

PERMANENT = frozenset({400, 401, 403, 404, 410})
DEAD_IN_A_ROW_WARNING = 3
WORKERS = 8
BUDGET = "budget|"  # digest key prefix of alerts held back by an hourly budget


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


@dataclass(frozen=True)
class Outcome:
    """What a webhook made of one request."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """Return whether the webhook accepted the request (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        """Return whether retrying cannot help (the URL is wrong, gone or forbidden)."""
        return self.status in PERMANENT


ANSWER_BYTES = 4096  # of a webhook's answer read at most; more is dropped unread
ERROR_DETAIL = 200  # characters of the answer quoted in an error


def send(
    client: httpx.Client,
    name: str,
    webhook: WebhookSettings,
    body: dict[str, object],
    message_id: str,
    deadline: float,
) -> tuple[Outcome, httpx.Response | None]:
    """POST one payload to one webhook within ``deadline`` seconds in total; return what came of it.

    The error of a failed request quotes at most ``ERROR_DETAIL`` characters of the answer, redacted before it is
    cut (``excerpt``): the URL, every part of it and the signing secret never reach the logs or the database.
    """
    url = webhook.url.get_secret_value()
    secrets = secrets_of([webhook])
    spec = notify.get(webhook.format)
    content = encode(body)
    headers = {"Content-Type": "application/json", "webhook-id": message_id}
    if webhook.secret is not None:
        headers.update(sign(webhook.secret.get_secret_value(), message_id, int(time.time()), content))
    params = dict(spec.query_params) or None
    where = safe_url(url)
    started = time.monotonic()
    try:
        with client.stream(
            "POST", url, content=content, params=params, headers=headers, timeout=deadline, follow_redirects=False
        ) as response:
            answer = _read_answer(response, started, deadline)
    except httpx.TimeoutException:
        return Outcome(None, f"webhook '{name}': no answer from {where} within {deadline:g} s"), None
    except httpx.HTTPError as exc:
        detail = excerpt(f"{type(exc).__name__}: {exc}", secrets, ERROR_DETAIL, public=[name])
        return Outcome(None, f"webhook '{name}': request to {where} failed: {detail}"), None
    if response.status_code in spec.success_statuses:
        return Outcome(response.status_code), response
    text = answer[:ANSWER_BYTES].decode("utf-8", "replace")
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    if webhook.format == "discord" and response.status_code == 429:
        retry_after = max(retry_after or 0.0, _discord_retry_after(text))
    detail = excerpt(text, secrets, ERROR_DETAIL, cut_short=len(answer) > ANSWER_BYTES, public=[name])
    error = f"webhook '{name}': HTTP {response.status_code} from {where}" + (f": {detail}" if detail else "")
    return Outcome(response.status_code, error, retry_after), response


def _read_answer(response: httpx.Response, started: float, deadline: float) -> bytes:
    """Return the first ``ANSWER_BYTES`` bytes of the answer, and one more when there are more; stop reading there."""
    answer = bytearray()
    for chunk in response.iter_bytes():
        answer.extend(chunk[: ANSWER_BYTES + 1 - len(answer)])
        if len(answer) > ANSWER_BYTES:
            break
        if time.monotonic() - started > deadline:
            raise httpx.ReadTimeout("total deadline exceeded")
    return bytes(answer)


def _discord_retry_after(text: str) -> float:
    try:
        value = json.loads(text).get("retry_after", 0)
    except (ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass
class _Unit:
    """What goes out in one request, or one digest: the deliveries and the payloads."""

    deliveries: list[DueDelivery]
    payloads: list[tuple[str, dict[str, object]]] = field(default_factory=list)


class Dispatcher:
    """Drain the outbox: one worker per webhook with due deliveries, paced, each request bounded in time."""

    def __init__(
        self,
        outbox: Outbox,
        client: httpx.Client,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = WORKERS,
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.metrics = metrics or Metrics()
        self.client = client
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery")
        self._busy: dict[str, Future[DrainReport]] = {}
        self._pacers: dict[str, Pacer] = {}
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
            self._drain(name, webhook, rules, settings, report)
        except Exception:  # one webhook's trouble is logged, never fatal to the worker pool
            log.exception("webhook '%s': delivery worker failed", name, extra={"webhook": name})
        return report

    def _drain(
        self,
        name: str,
        webhook: WebhookSettings | None,
        rules: Mapping[str, RuleSettings],
        settings: DeliverySettings,
        report: DrainReport,
    ) -> None:
        deadline = settings.timeout.total_seconds()
        lease = timedelta(seconds=deadline * 2 + 5)  # a request never outlives its deadline
        pacer = self._pacers.setdefault(name, Pacer(PACES[webhook.format] if webhook else Pace()))
        while not self._stop.is_set():
            batch = self.outbox.claim(self.clock(), lease, settings.batch_size, webhook=name)
            if not batch:
                return
            if webhook is None:
                self._fail(batch, Outcome(None, f"webhook '{name}': no longer configured"), settings, report)
                continue
            url = webhook.url.get_secret_value()
            disabled = self.outbox.disabled_reason(name, url)
            if disabled:
                self._bury(name, url, batch, f"webhook '{name}': disabled: {disabled}", None, report)
                continue
            units = self._units(name, webhook, batch, rules, pacer, report)
            for number, unit in enumerate(units):
                if self._stop.is_set():
                    self.outbox.hold([d.id for u in units[number:] for d in u.deliveries], self.clock())
                    return
                gone, retry_at = self._send_unit(name, webhook, unit, pacer, deadline, settings, report)
                rest = [d.id for u in units[number + 1 :] for d in u.deliveries]
                if gone:
                    rest_due = [d for u in units[number + 1 :] for d in u.deliveries]
                    if rest_due:
                        self._bury(name, url, rest_due, f"webhook '{name}': disabled: {gone}", None, report)
                    break
                if retry_at is not None:
                    # The webhook is failing or limiting us: the rest waits with it, in order, no attempt counted.
                    self.outbox.hold(rest, retry_at)
                    report.held += len(rest)
                    return

    def _units(
        self,
        name: str,
        webhook: WebhookSettings,
        batch: list[DueDelivery],
        rules: Mapping[str, RuleSettings],
        pacer: Pacer,
        report: DrainReport,
    ) -> list[_Unit]:
        """Return the requests to make: one per alert, and one digest (maybe in parts) per digest window."""
        groups: dict[str, list[DueDelivery]] = {}
        singles: list[DueDelivery] = []
        for due in batch:
            if due.digest_key:
                groups.setdefault(due.digest_key, []).append(due)
            else:
                singles.append(due)
        budget = pacer.budget()
        if budget is not None and len(singles) > budget:
            # Past the hourly budget, this hour's alerts wait for the next window and go out as one digest.
            window = f"{BUDGET}{name}|{int(pacer.window_start)}"
            until = self.clock() + timedelta(seconds=pacer.window_left())
            self.outbox.hold([d.id for d in singles[budget:]], until, digest_key=window)
            report.held += len(singles) - budget
            singles = singles[:budget]
        units = [_Unit([due], [(due.uid, notify.render(webhook.format, due.alert))]) for due in singles]
        for key, members in groups.items():
            alerts = [due.alert for due in members]
            rule = ", ".join(sorted({a.rule for a in alerts})) if key.startswith(BUDGET) else key.split("|", 1)[0]
            window = _window_label(key, rules.get(rule))
            parts = notify.render_digest(webhook.format, alerts, rule, window)
            base = "dig_" + hashlib.sha256(",".join(sorted(d.uid for d in members)).encode()).hexdigest()[:32]
            units.append(_Unit(members, [(f"{base}_{i}", part) for i, part in enumerate(parts, start=1)]))
        return units

    def _send_unit(
        self,
        name: str,
        webhook: WebhookSettings,
        unit: _Unit,
        pacer: Pacer,
        deadline: float,
        settings: DeliverySettings,
        report: DrainReport,
    ) -> tuple[str | None, datetime | None]:
        """Send one unit and record its outcome; return why the webhook is now disabled, and when to retry it."""
        url = webhook.url.get_secret_value()
        ids = [d.id for d in unit.deliveries]
        outcome = Outcome(None, f"webhook '{name}': nothing to send")
        for message_id, payload in unit.payloads:
            self._stop.wait(pacer.delay())
            outcome, response = send(self.client, name, webhook, payload, message_id, deadline)
            pacer.note(response, outcome.retry_after)
            if not outcome.ok:
                break
        if outcome.ok and outcome.status is not None:
            self.outbox.mark_sent(ids, outcome.status, self.clock())
            self.outbox.note_webhook(name, url, self.clock(), sent=True)
            report.sent += len(ids)
            self.metrics.record_delivery(name, "sent", len(ids))
            for due in unit.deliveries:
                log.info(
                    "webhook '%s': alert %d sent (rule %r)",
                    name,
                    due.alert.id,
                    due.alert.rule,
                    extra={"webhook": name, "alert_id": due.alert.id, "rule": due.alert.rule},
                )
            return None, None
        if outcome.permanent:
            gone = "the platform says this webhook was deleted" if webhook.format == "discord" else None
            disable = gone if outcome.status == 404 else None
            self._bury(name, url, unit.deliveries, outcome.error or "", outcome.status, report, disable)
            return disable, None
        return None, self._fail(unit.deliveries, outcome, settings, report)

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
                    "%s; giving up on alert %d after %d attempts",
                    outcome.error,
                    due.alert.id,
                    due.attempts + 1,
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
        in_a_row = self.outbox.note_webhook(name, url, self.clock(), dead=len(batch), error=error, disable=disable)
        log.error("%s; %d deliveries dead, not retried", error, len(batch), extra={"webhook": name})
        if disable:
            log.error("webhook '%s': disabled (%s) until its URL changes", name, disable, extra={"webhook": name})
        elif in_a_row >= DEAD_IN_A_ROW_WARNING:
            log.error(
                "webhook '%s': %d deliveries dead in a row; check its URL and settings",
                name,
                in_a_row,
                extra={"webhook": name},
            )


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
