"""A feed whose articles the database refuses is that feed's error; a database that fails fails the cycle.

Through real sockets: the feeds and the webhook are on a loopback server, the database is a real SQLite file
(whose longest string is lowered, so that it refuses an article as it would one past its real limit) or a
PostgreSQL database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage
from tests.conftest import LoopbackServer
from tests.db import rows

pytestmark = pytest.mark.integration
LONGEST_STRING = 20_000  # bytes SQLite stores in one value, lowered for the test


def feed(title: str, body: str, link: str = "") -> bytes:
    link_element = f"<link>{link}</link>" if link else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>{title}</title>'
        f"<guid>{title}</guid>{link_element}<description>{body}</description></item></channel></rss>"
    ).encode()


FEEDS = {
    "good": feed("Alpha and beta teams meet", "The alpha team and the beta team met."),
    "long": feed("A long read", "alpha beta " * 4_000),  # 44,000 characters, under max_text
    "link": feed("Long link", "alpha and beta", "http://127.0.0.1/" + "a" * 700),
}


@dataclass
class Cycle:
    pipeline: Pipeline
    storage: Storage
    url: str
    loopback: LoopbackServer
    console: list[AlertMessage]
    now: list[datetime]


def settings_text(loopback: LoopbackServer, database: str) -> str:
    feeds = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{loopback.url(f"/{name}.xml")}"\n' for name in FEEDS)
    return (
        f'[database]\nurl = "{database}"\n[seeds]\nenabled = false\n[ingest]\nmax_text = 100_000\n'
        f'[webhooks.hook]\nurl = "{loopback.url("/hook")}"\nformat = "generic"\n'
        f'[[rules]]\nname = "near"\nquery = "alpha NEAR/3 beta"\n{feeds}'
    )


@pytest.fixture
def cycle(tmp_path: Path, loopback: LoopbackServer, database_url: str) -> Iterator[Cycle]:
    for name, body in FEEDS.items():
        loopback.routes[f"/{name}.xml"] = lambda _handler, body=body: (
            200,
            {"Content-Type": "application/rss+xml"},
            body,
        )
    loopback.routes["/hook"] = lambda _handler: (200, {}, b"")
    (tmp_path / "settings.toml").write_text(settings_text(loopback, database_url), encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml", {})
    storage = Storage.open(settings.database.url)
    now = [datetime.now(UTC)]
    console: list[AlertMessage] = []
    with httpx.Client() as client:
        pipeline = Pipeline(settings, storage, client, console.append, clock=lambda: now[0])
        yield Cycle(pipeline, storage, database_url, loopback, console, now)
        pipeline.close()
    storage.close()


def lower_the_longest_string(storage: Storage) -> None:
    """Make every connection of the storage refuse a string longer than LONGEST_STRING bytes."""

    @event.listens_for(storage.engine, "connect")
    def _limit(connection: sqlite3.Connection, _record: Any) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LONGEST_STRING)

    storage.engine.dispose()  # the connections already open have no limit


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refused_feed_is_its_own_error_and_the_others_deliver(cycle: Cycle) -> None:
    lower_the_longest_string(cycle.storage)
    cycle.pipeline.refresh_feeds()
    report = cycle.pipeline.deliver()

    assert report.sent == 2
    titles = {alert.json()["article"]["title"] for alert in cycle.loopback.received_on("/hook")}
    assert titles == {"Alpha and beta teams meet", "Long link"}
    feeds = {name: rest for name, *rest in rows(cycle.url, "SELECT name, status, error_kind, last_error FROM feeds")}
    assert feeds["good"] == ["ok", None, None] and feeds["link"] == ["ok", None, None]
    assert feeds["long"] == [
        "error",
        "refused",
        "feed 'long': the database refused its articles: string or blob too big",
    ]
    assert rows(cycle.url, "SELECT source FROM articles ORDER BY source") == [("good",), ("link",)]

    # Failing long enough, it gets a health alert like any failing feed.
    cycle.now[0] += timedelta(hours=7)
    (health,) = cycle.pipeline.check_health()
    assert (
        health.article.title == "Feed 'long' failing for 7 h: the database refused its articles: string or blob too big"
    )


def test_a_link_longer_than_the_key_column_is_stored(cycle: Cycle) -> None:
    cycle.pipeline.refresh_feeds()
    (url,) = rows(cycle.url, "SELECT url FROM articles WHERE source = 'link'")[0]
    assert url == "http://127.0.0.1/" + "a" * 700
    keys = [key for (key,) in rows(cycle.url, "SELECT key FROM article_keys")]
    assert max(map(len, keys)) <= 600 and any(key.startswith("url:sha256:") for key in keys)
    assert rows(cycle.url, "SELECT count(*) FROM feeds WHERE status = 'ok'") == [(3,)]


def test_a_failing_database_fails_the_cycle(cycle: Cycle) -> None:
    with cycle.storage.engine.begin() as connection:
        connection.execute(text("DROP TABLE deliveries"))  # writing any alert now fails, whatever the feed
    with pytest.raises(SQLAlchemyError, match="deliveries"):
        cycle.pipeline.refresh_feeds()
    kinds = [kind for (kind,) in rows(cycle.url, "SELECT error_kind FROM feeds")]
    assert "refused" not in kinds
    assert rows(cycle.url, "SELECT count(*) FROM articles WHERE source = 'good'") == [(0,)]
