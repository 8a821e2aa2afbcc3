"""Feed health: when a feed has been failing or silent long enough to tell someone, and when it is back.

A feed is *failing* while its polls fail (``consecutive_failures > 0``); the episode starts at its last success
(or when it was first configured, if it never succeeded) and is alerted once it is older than
``[health] alert_after``. A feed is *silent* when its polls succeed but no article came for longer than
``[health] silence_factor`` times its usual rhythm, the median gap between its last ``RHYTHM_ARTICLES`` articles
(and never less than two poll intervals), counted from the newest article or from when the feed was added,
whichever is later; feeds with fewer than ``MIN_ARTICLES`` articles have no rhythm yet.

Each episode gives one alert, and one more when it ends. Both are synthetic articles of source ``SOURCE`` whose
content key, ``health:<feed>:<event>:<episode start, epoch seconds>``, makes them unique per episode, so the
last such key of a feed says whether an episode is open. This module is pure: it takes the feed's vitals and
returns the event to record, if any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median

from monitor.ingest.article import ParsedArticle
from monitor.store.feeds import FeedVitals as FeedVitals

SOURCE = "monitor/health"
RHYTHM_ARTICLES = 20
MIN_ARTICLES = 5
FAILING, SILENT, BACK = "failing", "silent", "back"


@dataclass(frozen=True)
class HealthEvent:
    """A health alert to record: the feed, the kind of event, and the synthetic article that carries it."""

    feed: str
    event: str
    article: ParsedArticle

    @property
    def rule(self) -> str:
        """Return the rule name the alert is recorded under."""
        return f"health: {self.feed}"


def assess(
    vitals: FeedVitals, now: datetime, alert_after: timedelta, silence_factor: float, interval: timedelta
) -> HealthEvent | None:
    """Return the health event a feed's vitals call for now (an episode begun or ended), or None."""
    open_event, open_start = _open_episode(vitals)
    if open_event == FAILING and open_start is not None:
        if vitals.consecutive_failures == 0:
            return _event(vitals, BACK, open_start, f"Feed '{vitals.name}' is back after {span(now - open_start)}")
        return None
    if open_event == SILENT and open_start is not None:
        if vitals.article_times and int(vitals.article_times[0].timestamp()) > int(open_start.timestamp()):
            title = f"Feed '{vitals.name}' is back after {span(now - open_start)} of silence"
            return _event(vitals, BACK, open_start, title)
        return None
    if vitals.consecutive_failures > 0:
        since = vitals.last_success_at or vitals.created_at
        if now - since < alert_after:
            return None
        reason = _reason(vitals)
        title = f"Feed '{vitals.name}' failing for {span(now - since)}" + (f": {reason}" if reason else "")
        return _event(vitals, FAILING, since, title)
    gap = rhythm(vitals.article_times)
    if gap is None:
        return None
    newest = vitals.article_times[0]
    # Silence counts from when we started watching: an old article in a newly added feed is no news.
    if now - max(newest, vitals.created_at) <= max(gap * silence_factor, interval * 2):
        return None
    title = f"Feed '{vitals.name}' silent for {span(now - newest)} (usually a new article every {span(gap)})"
    return _event(vitals, SILENT, newest, title)


def rhythm(times: Sequence[datetime]) -> timedelta | None:
    """Return the median gap between consecutive article times (newest first), or None below MIN_ARTICLES."""
    if len(times) < MIN_ARTICLES:
        return None
    ordered = sorted(times[:RHYTHM_ARTICLES], reverse=True)
    gap = median((a - b).total_seconds() for a, b in pairwise(ordered))
    return timedelta(seconds=gap) if gap > 0 else None


def span(delta: timedelta) -> str:
    """Return a duration for people, rounded down to its largest unit: ``7 h``, ``3 d``, ``12 min``, ``5 s``."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def key_prefix(feed: str) -> str:
    """Return the start shared by the content keys of a feed's health articles."""
    return f"health:{feed}:"


def _open_episode(vitals: FeedVitals) -> tuple[str | None, datetime | None]:
    """Return the event and start of the feed's last health event, if it opened an episode not yet closed."""
    key = vitals.last_event_key
    if not key or not key.startswith(key_prefix(vitals.name)):
        return None, None
    event, _, epoch = key[len(key_prefix(vitals.name)) :].rpartition(":")
    if event not in (FAILING, SILENT) or not epoch.isdigit():
        return None, None
    return event, datetime.fromtimestamp(int(epoch), tz=UTC)


def _reason(vitals: FeedVitals) -> str:
    error = vitals.last_error or ""
    return error.removeprefix(f"feed '{vitals.name}': ")


def _event(vitals: FeedVitals, event: str, start: datetime, title: str) -> HealthEvent:
    key = f"{key_prefix(vitals.name)}{event}:{int(start.timestamp())}"
    text = f"{title}. Feed URL: {vitals.url}."
    if event == FAILING and vitals.last_error:
        text += f" Last error: {vitals.last_error}. Consecutive failures: {vitals.consecutive_failures}."
    article = ParsedArticle(content_key=key, source=SOURCE, title=title, text=text, url=vitals.url, language="en")
    return HealthEvent(vitals.name, event, article)
