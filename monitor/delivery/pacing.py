"""When to send: the retry schedule after a failure, ``Retry-After`` hints, and each platform's pace.

``next_attempt`` gives the growing delays of ``[delivery] retry_delays`` (the last one repeats, ±20 % jitter),
never before a hint, and gives up after ``give_up_after``. ``Pacer`` keeps one webhook under its platform's
limits (``PACES``): a minimum interval, Discord's ``X-RateLimit-*`` headers, and an hourly budget for Teams.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from monitor.settings.config import DeliverySettings

HOUR = 3600.0


@dataclass(frozen=True)
class Pace:
    """How fast one webhook URL may be posted to: a minimum interval, and an hourly budget."""

    interval: float = 0.0
    per_hour: int | None = None


PACES: Mapping[str, Pace] = {
    "slack": Pace(interval=1.0),
    "mattermost": Pace(interval=1.0),
    "googlechat": Pace(interval=1.0),
    "teams": Pace(interval=0.25, per_hour=100),
    "discord": Pace(),
    "generic": Pace(),
}


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


class Pacer:
    """Keep one webhook under its platform's rate limits; ``delay()`` says how long to wait before the next post."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self.clock = clock
        self.next_at = 0.0
        self.window_start = clock()
        self.in_window = 0

    def delay(self) -> float:
        """Return the seconds to wait before the next request may go."""
        return max(0.0, self.next_at - self.clock())

    def budget(self) -> int | None:
        """Return how many more requests this hour allows (None: no hourly limit)."""
        if self.pace.per_hour is None:
            return None
        self._roll()
        return max(0, self.pace.per_hour - self.in_window)

    def window_left(self) -> float:
        """Return the seconds until the hourly budget is renewed."""
        return max(0.0, self.window_start + HOUR - self.clock())

    def note(self, response: httpx.Response | None, retry_after: float | None = None) -> None:
        """Account for a request just made, with what the platform said of its limits."""
        now = self.clock()
        self._roll()
        self.in_window += 1
        self.next_at = max(self.next_at, now + self.pace.interval)
        if retry_after:
            self.next_at = max(self.next_at, now + retry_after)
        if response is not None and response.headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = float(response.headers.get("x-ratelimit-reset-after", "1"))
            except ValueError:
                reset = 1.0
            self.next_at = max(self.next_at, now + reset)

    def _roll(self) -> None:
        if self.clock() - self.window_start >= HOUR:
            self.window_start, self.in_window = self.clock(), 0
