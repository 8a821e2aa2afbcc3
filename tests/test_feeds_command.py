"""``monitor feeds``: the table and JSON of each feed's health, and the upgrade of an older feeds table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.commands.feeds import as_json, as_text
from monitor.store.feeds import FeedHealth
from tests.db import execute

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NEW = FeedHealth("desk", "http://feeds.test/desk.xml", "new", None, None, None, None, None, 0, None, None, 0)
OK = FeedHealth("world", "http://feeds.test/w.xml", "ok", NOW, NOW, None, None, 200, 0, NOW, None, 12)
FAILING = FeedHealth(
    "busy", "http://feeds.test/b.xml", "error", None, NOW, "feed 'busy': HTTP 429 from feeds.test", "http", 429, 3,
    datetime(2026, 1, 1, 14, 7, tzinfo=UTC), None, 0,
)  # fmt: skip
GONE = FeedHealth("old", "http://feeds.test/o.xml", "disabled", None, NOW, "feed 'old': HTTP 410", "http", 410, 1,
                  None, "HTTP 410 Gone", 0)  # fmt: skip


@pytest.mark.parametrize(
    ("feeds", "text"),
    [
        ([], "no feeds in the settings"),
        (
            [OK, FAILING, GONE, NEW],
            "NAME   STATUS        LAST SUCCESS          FAILURES  NEXT POLL             24H  LAST ERROR\n"
            "world  ok            2026-01-01 12:00 UTC  0         2026-01-01 12:00 UTC  12\n"
            "busy   error (http)  never                 3         2026-01-01 14:07 UTC  0    "
            "feed 'busy': HTTP 429 from feeds.test\n"
            "old    disabled      never                 1         never                 0    HTTP 410 Gone\n"
            "desk   new           never                 0         at start              0",
        ),
    ],
)
def test_as_text(feeds: list[FeedHealth], text: str) -> None:
    assert as_text(feeds) == text


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        (NEW, {"status": "new", "last_success": None, "next_poll": None, "disabled": False, "articles_24h": 0}),
        (OK, {"last_success": "2026-01-01T12:00:00Z", "error_kind": None, "articles_24h": 12}),
        (FAILING, {"error_kind": "http", "last_status_code": 429, "consecutive_failures": 3}),
        (GONE, {"disabled": True, "disabled_reason": "HTTP 410 Gone", "next_poll": None}),
    ],
)
def test_as_json(feed: FeedHealth, expected: dict[str, object]) -> None:
    shown = as_json(feed)
    assert {key: shown[key] for key in expected} == expected
    assert json.loads(json.dumps(shown)) == shown


def test_monitor_feeds_on_an_older_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    execute(
        database_url,
        "CREATE TABLE feeds (id INTEGER PRIMARY KEY, name VARCHAR(200) UNIQUE NOT NULL, url TEXT NOT NULL, "
        "etag TEXT, last_modified VARCHAR(100), status VARCHAR(20) NOT NULL, last_error TEXT, "
        "last_status_code INTEGER, last_checked_at TIMESTAMP, last_success_at TIMESTAMP, "
        "consecutive_failures INTEGER NOT NULL, created_at TIMESTAMP NOT NULL)",
    )
    settings = tmp_path / "settings.toml"
    feeds = '[[feeds]]\nname = "world"\nurl = "http://feeds.test/w.xml"\n'
    settings.write_text(f'[database]\nurl = "{database_url}"\n\n{feeds}', encoding="utf-8")
    assert main(["--config", str(settings), "feeds", "--json"], {}) == 1
    assert "run `monitor db upgrade` first" in capsys.readouterr().err
