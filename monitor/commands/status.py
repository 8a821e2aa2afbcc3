"""``monitor status``: one readable summary of the daemon's state, read from the database.

Four tables: the feeds (status, last success, consecutive failures, next poll, articles in the last 24 hours),
the rules (alerts recorded in the last 24 hours), the delivery queue (pending, sent, dead, the oldest pending
delivery's age) and the dead deliveries per webhook. Colours only on a terminal; piped, the tables are plain text.
Nothing is ever cut short: piped, each table is as wide as its longest cells need; on a terminal too narrow for
it, a long cell wraps within its column.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.commands import EXIT_OK, Context, with_storage
from monitor.commands.feeds import RECENT, _row
from monitor.store.feeds import FeedHealth
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage

# Wide enough for any table's natural width: piped output is never cut or wrapped (each line is stripped after).
PLAIN_WIDTH = 100_000
_STYLES = {"ok": "green", "not_modified": "green", "new": "cyan", "error": "red", "disabled": "yellow"}


def register(commands: Any) -> None:
    """Add the ``status`` command."""
    status = commands.add_parser("status", help="summarise feeds, rules, the delivery queue and dead deliveries")
    status.set_defaults(handler=handle, needs_settings=True, needs_webhooks=False)


@dataclass(frozen=True)
class Summary:
    """What ``monitor status`` shows, read from the database at one moment."""

    now: datetime
    feeds: Sequence[FeedHealth]
    rules: Sequence[str]
    matches: Mapping[str, int]
    queue: Mapping[str, int]
    oldest_pending: datetime | None
    dead: Mapping[str, int]


def handle(args: argparse.Namespace, context: Context) -> int:
    """Print the summary tables; return 1 if the database is unusable."""
    settings = context.require_settings()

    def show(storage: Storage) -> int:
        now = datetime.now(UTC)
        outbox = Outbox(storage)
        summary = Summary(
            now=now,
            feeds=storage.feed_health([(feed.name, feed.url) for feed in settings.feeds], now - RECENT),
            rules=[rule.name for rule in settings.rules],
            matches=outbox.matches_by_rule(now - RECENT),
            queue=outbox.counts(),
            oldest_pending=outbox.oldest_pending(),
            dead=outbox.dead_by_webhook(),
        )
        render(summary, sys.stdout)
        return EXIT_OK

    return with_storage(context, show)


def render(summary: Summary, stream: TextIO, width: int | None = None) -> None:
    """Print the summary's tables to ``stream``: coloured on a terminal (``width`` wide if given), else plain."""
    if stream.isatty():
        console = Console(file=stream, width=width)
        for table in tables(summary):
            console.print(table)
        return
    plain = Console(file=io.StringIO(), width=PLAIN_WIDTH, color_system=None)
    with plain.capture() as captured:
        for table in tables(summary):
            plain.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def tables(summary: Summary) -> list[Table]:
    """Return the feeds, rules, queue and dead-deliveries tables of a summary."""
    feeds = _table("Feeds", "NAME", "STATUS", "LAST SUCCESS", "FAILURES", "NEXT POLL", "24H")
    for health in summary.feeds:
        name, status, *rest = _row(health)[:6]
        feeds.add_row(Text(name), Text(status, style=_STYLES.get(health.status, "")), *map(Text, rest))
    if not summary.feeds:
        feeds.add_row(Text("(no feeds in the settings)"))
    rules = _table("Rules", "NAME", "MATCHES 24H")
    for name in summary.rules:
        rules.add_row(Text(name), Text(str(summary.matches.get(name, 0))))
    for name in sorted(set(summary.matches) - set(summary.rules)):
        rules.add_row(Text(f"{name} (not in the settings)"), Text(str(summary.matches[name])))
    queue = _table("Delivery queue", "PENDING", "SENT", "DEAD", "OLDEST PENDING")
    oldest = "-" if summary.oldest_pending is None else age(summary.now, summary.oldest_pending)
    queue.add_row(*(Text(str(summary.queue.get(s, 0))) for s in ("pending", "sent", "dead")), Text(oldest))
    dead = _table("Dead deliveries", "WEBHOOK", "DEAD")
    for webhook, count in sorted(summary.dead.items()):
        dead.add_row(Text(webhook), Text(str(count), style="red"))
    if not summary.dead:
        dead.add_row(Text("(none)"), Text("0"))
    return [feeds, rules, queue, dead]


def age(now: datetime, then: datetime) -> str:
    """Return how long ago ``then`` was, in the largest whole units: ``45s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0, int((now - then) / timedelta(seconds=1)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table
