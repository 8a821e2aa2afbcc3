"""Metrics recorded by the pipeline and dispatcher, and read from the database at scrape time."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.errors import StorageError
from monitor.matching import native
from monitor.observe.metrics import Metrics, matcher_kind

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
    metrics.record_articles(["world", "world", "seeds/a.txt", "seeds/b.md"])
    metrics.record_matches(["NATO", "NATO", "Donbass"])
    metrics.record_delivery("newsroom", "sent", 3)
    metrics.record_delivery("newsroom", "dead", 0)
    found = samples(metrics)
    assert found[("monitor_feed_polls_total", (("feed", "world"), ("outcome", "ok")))] == 1
    assert found[("monitor_feed_polls_total", (("feed", "broken"), ("outcome", "http")))] == 1
    assert found[("monitor_feed_fetch_seconds_count", (("feed", "world"),))] == 2
    assert found[("monitor_feed_fetch_seconds_bucket", (("feed", "broken"), ("le", "2.5")))] == 1
    assert found[("monitor_articles_ingested_total", (("feed", "world"),))] == 2
    # However many seed files there are, they count under one label value.
    assert found[("monitor_articles_ingested_total", (("feed", "seeds"),))] == 2
    assert [key for key in found if key[0] == "monitor_articles_ingested_total"] == [
        ("monitor_articles_ingested_total", (("feed", "world"),)),
        ("monitor_articles_ingested_total", (("feed", "seeds"),)),
    ]
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
    assert found[("monitor_database_up", ())] == 1
    last = found[("monitor_feed_last_success_timestamp_seconds", (("feed", "world"),))]
    assert last == (NOW - timedelta(minutes=5)).timestamp()
    # A feed that never succeeded has a series too, at 0: `time() - it > X` holds for it.
    assert found[("monitor_feed_last_success_timestamp_seconds", (("feed", "new"),))] == 0


def test_registries_are_separate() -> None:
    first, second = Metrics(), Metrics()
    first.record_matches(["a"])
    assert ("monitor_rule_matches_total", (("rule", "a"),)) not in samples(second)


class Failing:
    """A database that fails each read with ``error``, or answers once ``healed``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.healed = False

    def counts(self) -> dict[str, int]:
        if not self.healed:
            raise self.error
        return {"pending": 2}

    def oldest_pending(self) -> datetime | None:
        return NOW - timedelta(seconds=10)

    def feed_health(self, feeds: Sequence[tuple[str, str]], since: datetime) -> list[Health]:
        return [Health(name, None) for name, _ in feeds]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError("connection refused by db.internal"), "OSError: connection refused by db.internal"),
        (StorageError("database: monitor.db is locked"), "database: monitor.db is locked"),
        (
            OperationalError("SELECT status FROM deliveries", {}, ConnectionRefusedError("connection failed\nhint")),
            "OperationalError: connection failed",
        ),
        (RuntimeError(), "RuntimeError"),
    ],
)
def test_a_database_that_fails_is_database_up_0_and_logged_once(
    error: Exception, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Failing(error)
    metrics = Metrics()
    metrics.watch(database, database, lambda: [("world", "u1")], lambda: NOW)
    with caplog.at_level(logging.INFO, logger="monitor.observe.metrics"):
        down = [samples(metrics) for _ in range(3)]
        database.healed = True
        up = samples(metrics)
    for found in down:
        assert found[("monitor_database_up", ())] == 0
        assert not [key for key in found if key[0].startswith(("monitor_delivery", "monitor_oldest", "monitor_feed"))]
        assert ("monitor_build_info", (("matcher", matcher_kind()), ("version", __version__))) in found
    assert up[("monitor_database_up", ())] == 1
    assert up[("monitor_delivery_queue_depth", ())] == 2
    assert up[("monitor_feed_last_success_timestamp_seconds", (("feed", "world"),))] == 0
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"metrics: cannot read the database, monitor_database_up is 0: {reason}"),
        ("INFO", "metrics: the database answers again"),
    ]


def test_a_database_that_hangs_is_database_up_0() -> None:
    release = threading.Event()

    class Hanging(Queue):
        def counts(self) -> dict[str, int]:
            release.wait(10)
            return super().counts()

    metrics = Metrics()
    metrics.watch(Hanging(1, None), Feeds(), lambda: [("world", "u1")], lambda: NOW, seconds=0.05)
    try:
        assert samples(metrics)[("monitor_database_up", ())] == 0
    finally:
        release.set()


@pytest.mark.parametrize(("version", "matcher"), [("1.2.3", "compiled"), ("0.1.0", "python")])
def test_build_info(version: str, matcher: str) -> None:
    found = samples(Metrics(version, matcher))
    assert found[("monitor_build_info", (("matcher", matcher), ("version", version)))] == 1


def test_build_info_says_how_the_matcher_runs() -> None:
    expected = "compiled" if native.compiled() else "python"
    assert matcher_kind() == expected
    assert samples(Metrics())[("monitor_build_info", (("matcher", expected), ("version", __version__)))] == 1


def test_exposition_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    metrics = Metrics()
    metrics.watch(Queue(3, NOW - timedelta(seconds=5)), Feeds(), lambda: [("world", "u1"), ("new", "u2")], lambda: NOW)
    metrics.record_poll("world", "ok", 0.3)
    metrics.record_articles(["world", "seeds/a.txt"])
    metrics.record_matches(["NATO summit"])
    metrics.record_delivery("newsroom", "sent")
    text = metrics.exposition()
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == b""  # no lint problem either


def test_article_pages_are_counted_by_feed_and_failure_kind() -> None:
    metrics = Metrics()
    for outcome in ("ok", "ok", "timeout", "not_html", "timeout"):
        metrics.record_page("gazette", outcome)
    found = samples(metrics)
    assert found[("monitor_full_text_pages_total", (("feed", "gazette"),))] == 2
    assert found[("monitor_full_text_failures_total", (("feed", "gazette"), ("kind", "timeout")))] == 2
    assert found[("monitor_full_text_failures_total", (("feed", "gazette"), ("kind", "not_html")))] == 1
