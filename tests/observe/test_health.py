"""Feed health alerts: when a feed's failing or silent episode is alerted, and the alerts through real sockets."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.errors import ConfigError
from monitor.observe.health import FeedVitals, assess, rhythm, span
from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store.storage import Storage
from tests.conftest import FIXTURES, LoopbackServer
from tests.feedserver import FeedServer, reply

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
ADDED = NOW - timedelta(days=30)
HOURLY = [NOW - timedelta(hours=n) for n in range(1, 11)]
ERROR = "feed 'lemonde': HTTP 503 from www.lemonde.fr"
FAILING_7H = "Feed 'lemonde' failing for 7 h: HTTP 503 from www.lemonde.fr"
SILENT_6H = "Feed 'lemonde' silent for 6 h (usually a new article every 1 h)"
START = int((NOW - timedelta(hours=7)).timestamp())


def vitals(
    failures: int = 0,
    success: datetime | None = NOW,
    times: list[datetime] | None = None,
    last: str | None = None,
) -> FeedVitals:
    return FeedVitals("lemonde", "https://www.lemonde.fr/rss.xml", failures, success, ADDED, ERROR, times or [], last)


@pytest.mark.parametrize(
    ("feed", "title"),
    [
        (vitals(), None),
        (vitals(failures=3, success=NOW - timedelta(hours=5)), None),
        (vitals(failures=3, success=NOW - timedelta(hours=7)), FAILING_7H),
        (vitals(failures=1, success=None), "Feed 'lemonde' failing for 30 d: HTTP 503 from www.lemonde.fr"),
        (vitals(failures=4, success=NOW - timedelta(hours=9), last=f"health:lemonde:failing:{START}"), None),
        (vitals(failures=0, last=f"health:lemonde:failing:{START}"), "Feed 'lemonde' is back after 7 h"),
        (vitals(failures=0, last=f"health:lemonde:back:{START}"), None),
        (vitals(times=HOURLY), None),
        (vitals(times=[t - timedelta(hours=5) for t in HOURLY]), SILENT_6H),
        (vitals(times=[t - timedelta(hours=5) for t in HOURLY[:4]]), None),
        (vitals(times=HOURLY, last=f"health:lemonde:silent:{START}"), "Feed 'lemonde' is back after 7 h of silence"),
        (vitals(times=[NOW - timedelta(hours=8)] * 6, last=f"health:lemonde:silent:{START}"), None),
    ],
)  # fmt: skip
def test_assess(feed: FeedVitals, title: str | None) -> None:
    event = assess(feed, NOW, timedelta(hours=6), 4.0, timedelta(minutes=15))
    assert (event.article.title if event else None) == title


def test_an_episode_has_one_key_and_its_end_another() -> None:
    failing = assess(vitals(failures=1, success=NOW - timedelta(hours=7)), NOW, timedelta(hours=6), 4, timedelta(1))
    assert failing is not None and failing.article.content_key == f"health:lemonde:failing:{START}"
    assert failing.rule == "health: lemonde" and failing.article.source == "monitor/health"
    back = assess(vitals(last=failing.article.content_key), NOW, timedelta(hours=6), 4, timedelta(1))
    assert back is not None and back.article.content_key == f"health:lemonde:back:{START}"


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s"), (59, "59 s"), (600, "10 min"), (7 * 3600 + 59, "7 h"), (3 * 86400, "3 d")]
)
def test_span(seconds: int, text: str) -> None:
    assert span(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [([1, 1, 1, 1], 1), ([1, 1, 2, 9, 9], 2), ([1, 1, 1], None), ([0, 0, 0, 0], None)],
)
def test_rhythm_is_the_median_gap(gaps: list[int], expected: int | None) -> None:
    times = [NOW]
    for gap in gaps:
        times.append(times[-1] - timedelta(hours=gap))
    assert rhythm(times) == (timedelta(hours=expected) if expected else None)


def test_health_webhooks_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[seeds]\nenabled = false\n\n[health]\nwebhooks = ["ops"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"health\.webhooks: health alerts name unknown webhook 'ops'"):
        load_settings(path, {})


@pytest.mark.integration
def test_a_failing_feed_alerts_once_then_when_it_is_back(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.routes["/hook"] = lambda _handler: (204, {}, b"")
    with FeedServer() as feeds:
        feeds.routes["/feed.xml"] = reply(503, b"down")
        path = tmp_path / "settings.toml"
        path.write_text(
            f"""[seeds]
enabled = false

[health]
alert_after = "1s"
webhooks = ["ops"]

[webhooks.ops]
url = "{loopback.url("/hook")}"
format = "generic"

[webhooks.news]
url = "{loopback.url("/news")}"
format = "generic"

[[feeds]]
name = "lemonde"
url = "{feeds.url("/feed.xml")}"
""",
            encoding="utf-8",
        )
        settings = load_settings(path, {"MONITOR_DATABASE_URL": database_url})
        storage = Storage.open(settings.database.url)
        with httpx.Client() as client:
            pipeline = Pipeline(settings, storage, client, lambda _alert: None)
            try:
                pipeline.refresh_feeds()
                assert pipeline.check_health() == []  # failing, but not for long enough yet
                time.sleep(1.1)
                pipeline.refresh_feeds()
                [alert] = pipeline.check_health()
                assert alert.rule == "health: lemonde"
                assert pipeline.check_health() == []  # once per episode
                assert pipeline.deliver().sent == 1
                feeds.routes["/feed.xml"] = reply(200, (FIXTURES / "feeds" / "rss2.xml").read_bytes())
                pipeline.refresh_feeds()
                [back] = pipeline.check_health()
                assert pipeline.check_health() == []
                pipeline.deliver()
            finally:
                pipeline.close()
                storage.close()
    titles = [r.json()["article"]["title"] for r in loopback.received_on("/hook")]
    assert len(titles) == 2
    assert titles[0].startswith("Feed 'lemonde' failing for 1 s: HTTP 503 from 127.0.0.1")
    assert titles[1].startswith("Feed 'lemonde' is back after ")
    assert back.article.source == "monitor/health"
    assert loopback.received_on("/news") == []
