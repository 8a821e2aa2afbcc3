"""The outbox worker: claim due deliveries, render, POST, then mark sent or schedule a retry.

A delivery is sent when its webhook answers 2xx. Anything else is retried after a growing delay taken from
``[delivery] retry_delays`` (the last one repeats), with ±20 % jitter, no earlier than a ``Retry-After`` hint;
once ``give_up_after`` has passed since the alert, the delivery is dead (logged as an error, kept in the table).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from monitor import notify
from monitor.config import DeliverySettings, WebhookSettings
from monitor.errors import DeliveryError
from monitor.logs import redact, safe_url
from monitor.notify import discord
from monitor.storage import DueDelivery, Storage

log = logging.getLogger(__name__)
MAX_ROUNDS = 100


@dataclass
class DrainReport:
    """How one drain went: deliveries sent, to be retried, and given up."""

    sent: int = 0
    retried: int = 0
    dead: int = 0


def next_attempt(
    attempts: int,
    created_at: datetime,
    now: datetime,
    settings: DeliverySettings,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """Return when to try again after ``attempts`` failed attempts, or None once it is time to give up."""
    delays = settings.retry_delays
    base = delays[min(max(attempts, 1), len(delays)) - 1].total_seconds()
    delay = base * (rng or random).uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    when = now + timedelta(seconds=delay)
    return None if when - created_at > settings.give_up_after else when


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def send(client: httpx.Client, name: str, webhook: WebhookSettings, due: DueDelivery, deadline: float) -> int:
    """POST one alert to one webhook; return the 2xx status or raise DeliveryError."""
    url = webhook.url.get_secret_value()
    body = notify.render(webhook.format, due.alert)
    params = discord.DISCORD_QUERY if webhook.format == "discord" else None
    headers = {"webhook-id": due.uid}
    try:
        response = client.post(url, json=body, params=params, headers=headers, timeout=deadline, follow_redirects=False)
    except httpx.TimeoutException:
        raise DeliveryError(f"webhook '{name}': no answer from {safe_url(url)} within {deadline:g} s") from None
    except httpx.HTTPError as exc:
        message = redact(f"{type(exc).__name__}: {exc}", [url])
        raise DeliveryError(f"webhook '{name}': request to {safe_url(url)} failed: {message}") from None
    if 200 <= response.status_code < 300:
        return response.status_code
    detail = redact(response.text[:200].strip(), [url])
    raise DeliveryError(
        f"webhook '{name}': HTTP {response.status_code} from {safe_url(url)}" + (f": {detail}" if detail else ""),
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC)),
    )


def drain(
    storage: Storage,
    webhooks: Mapping[str, WebhookSettings],
    client: httpx.Client,
    settings: DeliverySettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DrainReport:
    """Send every delivery that is due now; return how many were sent, retried and given up."""
    report = DrainReport()
    deadline = settings.timeout.total_seconds()
    lease = timedelta(seconds=deadline * 2 + 30)
    for _ in range(MAX_ROUNDS):
        batch = storage.claim_due_deliveries(clock(), settings.batch_size, lease)
        for due in batch:
            _attempt(storage, webhooks, client, settings, due, deadline, report, clock)
        if len(batch) < settings.batch_size:
            break
    return report


def _attempt(
    storage: Storage,
    webhooks: Mapping[str, WebhookSettings],
    client: httpx.Client,
    settings: DeliverySettings,
    due: DueDelivery,
    deadline: float,
    report: DrainReport,
    clock: Callable[[], datetime],
) -> None:
    webhook = webhooks.get(due.webhook)
    try:
        if webhook is None:
            raise DeliveryError(f"webhook '{due.webhook}': no longer configured")
        status = send(client, due.webhook, webhook, due, deadline)
    except DeliveryError as exc:
        now = clock()
        when = next_attempt(due.attempts + 1, due.created_at, now, settings, exc.retry_after)
        storage.mark_failed(due.id, str(exc), exc.status, when)
        extra = {"webhook": due.webhook, "alert_id": due.alert.id, "rule": due.alert.rule}
        if when is None:
            report.dead += 1
            log.error("%s; giving up after %d attempts (alert %d)", exc, due.attempts + 1, due.alert.id, extra=extra)
        else:
            report.retried += 1
            wait = (when - now).total_seconds()
            log.warning("%s; retrying in %.0f s (attempt %d)", exc, wait, due.attempts + 1, extra=extra)
        return
    storage.mark_sent(due.id, status, clock())
    report.sent += 1
    log.info(
        "webhook '%s': alert %d sent (rule %r)",
        due.webhook,
        due.alert.id,
        due.alert.rule,
        extra={"webhook": due.webhook, "alert_id": due.alert.id, "rule": due.alert.rule},
    )
