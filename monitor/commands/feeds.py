"""``monitor feeds [--json]``: how each configured feed is doing.

Each feed of the settings is listed with its status (``new``, ``ok``, ``not_modified``, ``error``, ``disabled``),
its last success, its last error and what kind it was, its consecutive failures, its next poll and how many
articles it brought in the last 24 hours.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.commands import EXIT_OK, Context, with_storage
from monitor.notify.text import iso
from monitor.storage import FeedHealth, Storage

RECENT = timedelta(hours=24)
_HEADER = ("NAME", "STATUS", "LAST SUCCESS", "FAILURES", "NEXT POLL", "24H", "LAST ERROR")


def register(commands: Any) -> None:
    """Add the ``feeds`` command."""
    feeds = commands.add_parser("feeds", help="show each feed's status, last success and error, and next poll")
    feeds.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    feeds.set_defaults(handler=handle, needs_settings=True)


def handle(args: argparse.Namespace, context: Context) -> int:
    """Print the health of every configured feed; return 1 if the database is unusable."""
    settings = context.require_settings()

    def show(storage: Storage) -> int:
        since = datetime.now(UTC) - RECENT
        health = storage.feed_health([(feed.name, feed.url) for feed in settings.feeds], since)
        if args.json:
            print(json.dumps([as_json(feed) for feed in health], ensure_ascii=False, indent=2))
        else:
            print(as_text(health))
        return EXIT_OK

    return with_storage(context, show)


def as_json(feed: FeedHealth) -> dict[str, Any]:
    """Return one feed's health as a JSON object (times in ISO 8601 UTC, absent values null)."""
    return {
        "name": feed.name,
        "url": feed.url,
        "status": feed.status,
        "last_success": iso(feed.last_success_at),
        "last_checked": iso(feed.last_checked_at),
        "last_error": feed.last_error,
        "error_kind": feed.error_kind,
        "last_status_code": feed.last_status_code,
        "consecutive_failures": feed.consecutive_failures,
        "next_poll": iso(feed.next_poll_at),
        "disabled": feed.disabled_reason is not None,
        "disabled_reason": feed.disabled_reason,
        "articles_24h": feed.recent_articles,
    }


def as_text(feeds: Sequence[FeedHealth]) -> str:
    """Return the feeds' health as an aligned table, one feed a line, times in UTC."""
    if not feeds:
        return "no feeds in the settings"
    rows = [_HEADER, *(_row(feed) for feed in feeds)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]) for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _row(feed: FeedHealth) -> tuple[str, ...]:
    status = f"{feed.status} ({feed.error_kind})" if feed.error_kind and feed.status == "error" else feed.status
    if feed.disabled_reason is not None:
        next_poll = "never"
    elif feed.next_poll_at is None:
        next_poll = "at start" if feed.status == "new" else "-"
    else:
        next_poll = _when(feed.next_poll_at)
    return (
        feed.name,
        status,
        _when(feed.last_success_at) if feed.last_success_at else "never",
        str(feed.consecutive_failures),
        next_poll,
        str(feed.recent_articles),
        feed.disabled_reason or feed.last_error or "",
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
