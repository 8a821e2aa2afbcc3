"""Metrics recorded by the pipeline and dispatcher, and read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.observe.metrics import Metrics

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Health:
    name: str
    last_success_at: datetime | None


class Queue:
    def __init__(self, pending: int, oldest: datetime | None) -> None:
        self.pending, self.oldest = pending, oldest

    def counts(self) -> dict[str, int]:
        return {"pending": self.pending, "sent": 7} if self.pending else {"sent": 7}

    def oldest_pending(self) -> datetime | None:
        return self.oldest


class Feeds:
    def feed_health(self, feeds: Sequence[tuple[str, str]], since: datetime) -> list[Health]:
        return [Health(name, NOW - timedelta(minutes=5) if name == "world" else None) for name, _ in feeds]


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_events_are_counted() -> None:
    metrics = Metrics()
    metrics.record_poll("world", "ok", 0.3)
    metrics.record_poll("world", "not_modified", 0.1)
    metrics.record_poll("broken", "http", 2.0)
    metrics.record_articles(["world", "world", "seeds/a.txt"])
    metrics.record_matches(["NATO", "NATO", "Donbass"])
    metrics.record_delivery("newsroom", "sent", 3)
    metrics.record_delivery("newsroom", "dead", 0)
    found = samples(metrics)
    assert found[("monitor_feed_polls_total", (("feed", "world"), ("outcome", "ok")))] == 1
    assert found[("monitor_feed_polls_total", (("feed", "broken"), ("outcome", "http")))] == 1
    assert found[("monitor_feed_fetch_seconds_count", (("feed", "world"),))] == 2
    assert found[("monitor_feed_fetch_seconds_bucket", (("feed", "broken"), ("le", "2.5")))] == 1
    assert found[("monitor_articles_ingested_total", (("feed", "world"),))] == 2
    assert found[("monitor_rule_matches_total", (("rule", "NATO"),))] == 2
    assert found[("monitor_deliveries_total", (("outcome", "sent"), ("webhook", "newsroom")))] == 3
    assert ("monitor_deliveries_total", (("outcome", "dead"), ("webhook", "newsroom"))) not in found


@pytest.mark.parametrize(
    ("pending", "oldest", "age"),
    [
        (0, None, 0.0),
        (4, NOW - timedelta(seconds=90), 90.0),
        (1, (NOW - timedelta(seconds=30)).replace(tzinfo=None), 30.0),
    ],
)
def test_database_gauges(pending: int, oldest: datetime | None, age: float) -> None:
    metrics = Metrics()
    metrics.watch(Queue(pending, oldest), Feeds(), lambda: [("world", "u1"), ("new", "u2")], lambda: NOW)
    found = samples(metrics)
    assert found[("monitor_delivery_queue_depth", ())] == pending
    assert found[("monitor_oldest_pending_delivery_age_seconds", ())] == age
    last = found[("monitor_feed_last_success_timestamp_seconds", (("feed", "world"),))]
    assert last == (NOW - timedelta(minutes=5)).timestamp()
    assert ("monitor_feed_last_success_timestamp_seconds", (("feed", "new"),)) not in found


def test_registries_are_separate() -> None:
    first, second = Metrics(), Metrics()
    first.record_matches(["a"])
    assert ("monitor_rule_matches_total", (("rule", "a"),)) not in samples(second)


def test_article_pages_are_counted_by_feed_and_failure_kind() -> None:
    metrics = Metrics()
    for outcome in ("ok", "ok", "timeout", "not_html", "timeout"):
        metrics.record_page("gazette", outcome)
    found = samples(metrics)
    assert found[("monitor_full_text_pages_total", (("feed", "gazette"),))] == 2
    assert found[("monitor_full_text_failures_total", (("feed", "gazette"), ("kind", "timeout")))] == 2
    assert found[("monitor_full_text_failures_total", (("feed", "gazette"), ("kind", "not_html")))] == 1
