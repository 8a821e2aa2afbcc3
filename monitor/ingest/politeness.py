"""When to poll a feed next: its interval, the server's and the feed's hints, back-off after failures.

After a success (200 or 304) the next poll comes after the feed's interval, or later if the feed's ``<ttl>`` or
the answer's ``Cache-Control: max-age`` asks for longer. After a failure the wait doubles with every
consecutive failure (2, 4, 8... intervals) and is never shorter than a ``Retry-After`` sent with a 429 or a 503
(``retry_after`` reads that header, for webhooks too);
a success resets it. Every wait is capped at MAX_WAIT (24 hours), and is never shorter than the interval.

A feed's job fires once per interval; the feed is polled when its next poll time has come, give or take a fifth
of an interval (``tolerance``), so that a wait of three intervals is three firings, not four. A wait the server or the
feed asked for is stored with that tolerance added, so it is never cut short.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_WAIT = timedelta(hours=24)
RETRY_AFTER_STATUSES = (429, 503)
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|[,\s])no-(?:store|cache)\b", re.IGNORECASE)
_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]*)?", re.ASCII)
_CAP_DIGITS = 6  # more digits than this is past MAX_WAIT, without converting a huge number
_LONGEST_DATE = 64  # an HTTP date is 29 characters; anything much longer is not one


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Return how long a ``Retry-After`` header asks to wait, at most MAX_WAIT, or None if it asks nothing.

    The value is delta-seconds (digits; a decimal fraction is accepted too) or an HTTP date. Any other text, a
    date in the past or one that cannot be represented asks for nothing or for no wait; however long the value,
    this returns within MAX_WAIT and never raises. Feeds and webhooks both read the header with it.
    """
    if not value:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        whole, _, fraction = text.partition(".")
        if len(whole.lstrip("0")) > _CAP_DIGITS:
            return MAX_WAIT
        seconds = int(whole or "0") + (float(f"0.{fraction}") if fraction else 0.0)
        return min(timedelta(seconds=seconds), MAX_WAIT)
    if len(text) > _LONGEST_DATE:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        wait = when - now
    except OverflowError:
        return None
    return min(max(timedelta(0), wait), MAX_WAIT)


def max_age(cache_control: str | None) -> timedelta | None:
    """Return the ``max-age`` of a ``Cache-Control`` header, or None if it gives none (or forbids caching)."""
    if not cache_control or _NO_STORE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return None
    digits = match.group(1).lstrip("0")
    if len(digits) > _CAP_DIGITS:
        return MAX_WAIT
    return min(timedelta(seconds=int(digits or "0")), MAX_WAIT)


def tolerance(interval: timedelta) -> timedelta:
    """Return how early a poll may come before its next poll time: a fifth of the feed's interval.

    The scheduler runs a feed's job every interval, give or take a tenth (its jitter); a fifth lets a run that
    comes a little early still poll, while several instances sharing the feeds never poll it twice an interval.
    """
    return interval / 5


def after_success(interval: timedelta, *hints: timedelta | None) -> timedelta:
    """Return the wait before the next poll after a success, given the feed's ttl and the answer's max-age."""
    asked = max((hint for hint in hints if hint is not None), default=None)
    if asked is None or asked <= interval:
        return interval
    return max(interval, min(asked, MAX_WAIT) + tolerance(interval))


def after_failure(interval: timedelta, failures: int, retry: timedelta | None = None) -> timedelta:
    """Return the wait before the next poll after ``failures`` consecutive failures (the latest included)."""
    wait = backoff(interval, failures)
    if retry is not None and retry > wait:
        wait = max(wait, min(retry, MAX_WAIT) + tolerance(interval))
    return wait


def backoff(interval: timedelta, failures: int) -> timedelta:
    """Return the interval doubled for each consecutive failure, at most MAX_WAIT (never below the interval)."""
    doubled = interval * (1 << min(max(failures, 0), 20))
    return max(interval, min(doubled, MAX_WAIT))


def is_due(next_poll_at: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Return whether a feed whose next poll time is ``next_poll_at`` should be polled at ``now``."""
    return next_poll_at is None or next_poll_at <= now + tolerance(interval)
