"""The pages fetched for their full text: once per key, their outcomes by feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.store.pages import PageOutcome
from monitor.store.storage import Storage

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_pages_are_known_once_recorded_and_their_failures_counted_by_feed(database_url: str) -> None:
    storage = Storage.open(database_url)
    try:
        storage.record_page(PageOutcome("url:https://a.example/1", "gazette", "ok", 200, '"e1"', None), NOW)
        storage.record_page(PageOutcome("url:https://a.example/2", "gazette", "timeout"), NOW)
        storage.record_page(PageOutcome("url:https://a.example/3", "gazette", "timeout"), NOW)
        storage.record_page(PageOutcome("url:https://a.example/4", "gazette", "not_html", 200), NOW - timedelta(days=2))
        storage.record_page(PageOutcome("url:https://b.example/1", "zeitung", "robots"), NOW)
        # Recorded again, by another feed or instance: the first row stays.
        storage.record_page(PageOutcome("url:https://a.example/1", "zeitung", "late"), NOW)

        keys = [f"url:https://a.example/{n}" for n in range(1, 6)]
        assert storage.known_pages(keys) == set(keys[:4])
        assert storage.page_failures(["gazette", "zeitung", "quiet"], NOW - timedelta(hours=24)) == {
            "gazette": {"timeout": 2},
            "zeitung": {"robots": 1},
        }
    finally:
        storage.close()
