from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from monitor.pipeline import Pipeline
from monitor.settings.config import RuleSettings, load_settings
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage
from tests.conftest import FIXTURES, ROOT

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = """
[database]
url = "sqlite:///p.db"
[seeds]
path = "seeds"
[ingest]
first_poll_window = "10000d"  # the fixture feeds' entries date from 2022
[[feeds]]
name = "good"
url = "http://feeds.test/rss.xml"
[[feeds]]
name = "html"
url = "http://feeds.test/page.html"
[[feeds]]
name = "down"
url = "http://down.test/rss.xml"
[[rules]]
name = "NATO summit"
query = '"NATO summit" OR "sommet de l’OTAN"'
[[rules]]
name = "markets"
query = "markets -crypto"
"""


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.host == "down.test":
        raise httpx.ConnectError("connection refused")
    if request.url.path == "/page.html":
        return httpx.Response(200, content=(FIXTURES / "feeds" / "not-a-feed.html").read_bytes())
    if request.headers.get("if-none-match") == '"abc"':
        return httpx.Response(304)
    return httpx.Response(200, content=(FIXTURES / "feeds" / "rss2.xml").read_bytes(), headers={"ETag": '"abc"'})


@pytest.fixture
def pipeline(tmp_path: Path, database_url: str) -> Iterator[tuple[Pipeline, list[AlertMessage]]]:
    (tmp_path / "seeds").mkdir()
    seed = (ROOT / "seeds" / "otan-defense-ministers-2022-06.txt").read_text(encoding="utf-8")
    (tmp_path / "seeds" / "a.txt").write_text(seed, encoding="utf-8")
    (tmp_path / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml", {"MONITOR_DATABASE_URL": database_url})
    storage = Storage.open(settings.database.url)
    printed: list[AlertMessage] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        pipeline = Pipeline(settings, storage, client, printed.append, clock=lambda: NOW)
        yield pipeline, printed
        pipeline.close()
    storage.close()


def feed_rows(storage: Storage) -> dict[str, tuple[str, str | None, int]]:
    with storage.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT name, status, last_error, consecutive_failures FROM feeds")
        return {name: (status, error, failures) for name, status, error, failures in rows}


def test_feeds_are_refreshed_and_failures_recorded(pipeline: tuple[Pipeline, list[AlertMessage]]) -> None:
    pipe, printed = pipeline
    alerts = [alert for feed in pipe.settings.feeds for alert in pipe.refresh_feed(feed)]
    assert sorted((a.rule, a.article.title) for a in alerts) == [
        ("NATO summit", "Leaders gather for the NATO summit in Madrid"),
        ("markets", "Markets close higher"),
    ]
    assert printed == alerts  # no webhook: printed on the console
    rows = feed_rows(pipe.storage)
    assert rows["good"] == ("ok", None, 0)
    assert rows["html"][0] == "error" and "not a feed" in (rows["html"][1] or "")
    assert rows["down"][0] == "error" and "cannot connect to down.test" in (rows["down"][1] or "")

    assert [pipe.refresh_feed(feed) for feed in pipe.settings.feeds] == [[], [], []]
    rows = feed_rows(pipe.storage)
    assert rows["good"] == ("not_modified", None, 0)
    assert rows["down"][2] == 2


def test_seeds_are_ingested_once_and_again_when_edited(
    pipeline: tuple[Pipeline, list[AlertMessage]], tmp_path: Path
) -> None:
    pipe, _ = pipeline
    first = pipe.refresh_seeds()
    assert [(a.rule, a.matched) for a in first] == [("NATO summit", ("sommet de l'Otan",))]
    assert pipe.refresh_seeds() == []
    (tmp_path / "seeds" / "b.md").write_text("date 2024-07-09\nLe **sommet de l'Otan** à Washington.")
    (second,) = pipe.refresh_seeds()
    assert second.article.source == "seeds/b.md" and second.article.title == "Le sommet de l'Otan à Washington"
    assert second.article.published == datetime(2024, 7, 9, tzinfo=UTC)


def test_deliver_with_nothing_pending(pipeline: tuple[Pipeline, list[AlertMessage]]) -> None:
    pipe, _ = pipeline
    report = pipe.deliver()
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)


def test_alerts_carry_the_whole_rule_as_their_query(
    pipeline: tuple[Pipeline, list[AlertMessage]], tmp_path: Path
) -> None:
    pipe, _ = pipeline
    text = SETTINGS.replace('query = "markets -crypto"', 'any = ["markets", "stocks"]\nexclude = ["crypto"]')
    (tmp_path / "new.toml").write_text(text, encoding="utf-8")
    pipe.apply(load_settings(tmp_path / "new.toml", {}))
    alerts = pipe.refresh_feed(pipe.settings.feeds[0])
    assert {a.rule: a.query for a in alerts} == {
        "NATO summit": '"NATO summit" OR "sommet de l’OTAN"',
        "markets": '("markets" OR "stocks") AND NOT ("crypto")',
    }


def test_apply_swaps_rules_and_matcher_together(pipeline: tuple[Pipeline, list[AlertMessage]]) -> None:
    pipe, printed = pipeline
    before = pipe.active
    after = pipe.apply(pipe.settings.model_copy(update={"rules": [RuleSettings(name="weather", query="weather")]}))
    assert pipe.active is after and after is not before
    assert list(after.rules) == ["weather"] == list(after.matcher.rules)
    assert after.descriptions == {"weather": "weather"}
    assert list(before.matcher.rules) == ["NATO summit", "markets"]  # the old pair is left whole
    alerts = pipe.refresh_feed(pipe.settings.feeds[0])
    assert [(a.rule, a.article.title) for a in alerts] == [("weather", "Weather: a warm week ahead")]
    assert printed == alerts


@pytest.mark.parametrize(
    ("webhooks", "matched_level"),
    [
        ("", logging.DEBUG),  # printed on the console, one line each: not logged as well
        ('[webhooks.chat]\nurl = "http://hooks.test/x"\nformat = "generic"\n', logging.INFO),
    ],
)
def test_each_event_is_one_line_and_quiet_polls_are_debug(
    pipeline: tuple[Pipeline, list[AlertMessage]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
    webhooks: str,
    matched_level: int,
) -> None:
    pipe, printed = pipeline
    (tmp_path / "settings.toml").write_text(SETTINGS + webhooks, encoding="utf-8")
    pipe.apply(load_settings(tmp_path / "settings.toml", {"MONITOR_DATABASE_URL": database_url}))
    with caplog.at_level(logging.DEBUG, logger="monitor.pipeline"), caplog.at_level(logging.DEBUG, "monitor.filing"):
        for _ in range(2):
            for feed in pipe.settings.feeds:
                pipe.refresh_feed(feed)
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name in ("monitor.pipeline", "monitor.filing")]
    assert (logging.DEBUG, "feed 'good': not modified") in said
    assert [level for level, message in said if "not modified" in message] == [logging.DEBUG]
    matched = [level for level, message in said if " matched " in message]
    assert matched == [matched_level, matched_level]
    assert len(printed) == (0 if webhooks else 2)
