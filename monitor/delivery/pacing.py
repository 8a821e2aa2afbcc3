"""When to send: the retry schedule after a failure, the waits platforms ask for, and each platform's pace.

``next_attempt`` gives the growing delays of ``[delivery] retry_delays`` (the last one repeats, ±20 % jitter),
never before a hint, and gives up after ``give_up_after``. Each webhook URL is kept under its platform's limits
(``PACES``): a minimum interval between requests, Discord's ``X-RateLimit-*`` headers and ``Retry-After``
(``asked_wait``), and an hourly budget for Teams. Where a platform counts its limit by something other than the
URL (a Matrix bot user, a Telegram chat, a Zulip bot), pacing is kept under that key instead
(``destination.pace_key``), so webhooks that share one share its pace. The pacing state of a URL
(``PaceState``) lives in the database, so every instance sending to it sees the same one; the functions here are
pure: they take the state and the time and return the new state. ``reserve`` hands out the next slot to send in,
``after_answer`` pushes the next slot back when the platform asked for a wait.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx

from monitor.delivery.notify import telegram
from monitor.ingest.politeness import MAX_WAIT, retry_after
from monitor.settings.config import DeliverySettings, WebhookSettings
from monitor.store.webhooks import PaceState

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Pace:
    """How fast one webhook URL may be posted to: a minimum interval, and an hourly budget."""

    interval: float = 0.0
    per_hour: int | None = None


TELEGRAM_GROUP = "telegram group"

PACES: Mapping[str, Pace] = {
    "slack": Pace(interval=1.0),
    "mattermost": Pace(interval=1.0),
    "googlechat": Pace(interval=1.0),
    "teams": Pace(interval=0.25, per_hour=100),
    "discord": Pace(),
    "generic": Pace(),
    # Per bot user on its homeserver; a homeserver's M_LIMIT_EXCEEDED says when to go on.
    "matrix": Pace(interval=1.0),
    # About one message a second to a chat; 20 a minute to a group or channel is one every 3 s.
    "telegram": Pace(interval=1.0),
    TELEGRAM_GROUP: Pace(interval=3.0),
    "zulip": Pace(interval=1.0),
    "rocketchat": Pace(interval=1.0),
    # ntfy's default visitor limit: a burst of 60 requests, then one more every 5 s.
    "ntfy": Pace(interval=5.0),
}


@dataclass(frozen=True)
class Slot:
    """The outcome of asking to send: the time to send at, or, when refused, the time to ask again."""

    at: datetime | None
    not_before: datetime | None = None


def pace_of(webhook: WebhookSettings, paces: Mapping[str, Pace] = PACES) -> Pace:
    """Return the pace of a webhook's platform: a Telegram group's, or its format's (none for an unknown one)."""
    if webhook.format == "telegram" and telegram.is_group(webhook.chat_id):
        return paces.get(TELEGRAM_GROUP, Pace())
    return paces.get(webhook.format, Pace())


def next_attempt(
    attempts: int,
    queued_at: datetime,
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
    return None if when - queued_at > settings.give_up_after else when


def asked_wait(response: httpx.Response, now: datetime) -> float | None:
    """Return the seconds an answer asks to wait before the next request (``Retry-After``, Discord's bucket)."""
    waits: list[float] = []
    header = retry_after(response.headers.get("retry-after"), now)
    if header is not None:
        waits.append(header.total_seconds())
    if response.headers.get("x-ratelimit-remaining") == "0":
        waits.append(seconds(response.headers.get("x-ratelimit-reset-after"), default=1.0))
    return max(waits) if waits else None


def seconds(value: object, default: float = 0.0) -> float:
    """Return a number of seconds read from a header or a JSON value, within [0, MAX_WAIT]; else ``default``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    if math.isnan(number):
        return default
    return min(max(number, 0.0), MAX_WAIT.total_seconds())


def budget(state: PaceState, pace: Pace, now: datetime) -> int | None:
    """Return how many more requests this hour allows (None: no hourly limit)."""
    if pace.per_hour is None:
        return None
    return max(0, pace.per_hour - _rolled(state, now).in_window)


def window_end(state: PaceState, now: datetime) -> datetime:
    """Return when the hourly budget is renewed."""
    start = _rolled(state, now).window_start
    return (start or now) + HOUR


def reserve(state: PaceState, pace: Pace, now: datetime, max_wait: timedelta) -> tuple[PaceState, Slot]:
    """Take the next slot to send in, unless it is more than ``max_wait`` away or the hour's budget is spent.

    Return the new state and the slot; a refused slot leaves the state as it was and says when to ask again.
    """
    state = _rolled(state, now)
    if pace.per_hour is not None and state.in_window >= pace.per_hour:
        return state, Slot(None, window_end(state, now))
    at = max(now, state.next_at or now)
    if at - now > max_wait:
        return state, Slot(None, at)
    if pace.interval == 0 and pace.per_hour is None:
        return state, Slot(at)  # nothing to count: the state stays as it is
    taken = PaceState(at + timedelta(seconds=pace.interval), state.window_start or now, state.in_window + 1)
    return taken, Slot(at)


def after_answer(state: PaceState, now: datetime, wait: float) -> PaceState:
    """Return the state once the platform asked to wait ``wait`` seconds before the next request."""
    until = now + timedelta(seconds=min(wait, MAX_WAIT.total_seconds()))
    return replace(state, next_at=max(state.next_at or until, until))


def _rolled(state: PaceState, now: datetime) -> PaceState:
    """Return the state with its hourly window started afresh if the last one is over."""
    if state.window_start is None or now - state.window_start >= HOUR:
        return replace(state, window_start=now, in_window=0)
    return state
