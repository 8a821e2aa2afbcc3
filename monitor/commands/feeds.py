"""``monitor feeds [--json]``: how each configured feed is doing; ``monitor feeds add URL``: add a feed.

Each feed of the settings is listed with its status (``new``, ``ok``, ``not_modified``, ``error``, ``disabled``),
its last success, its last error and what kind it was, its consecutive failures, its next poll and how many
articles it brought in the last 24 hours. When a feed reads its articles' full text, the table gains a
PAGES FAILED column: how many of its article pages gave no text in the last 24 hours (``-`` for a feed without
full text); the JSON gives such a feed's ``page_failures_24h`` by kind.

``feeds add URL [--name NAME] [--all]`` fetches the URL: a feed is added as it is; an HTML page is searched for
its ``<link rel="alternate">`` feeds, and the first is added (every one with ``--all``; without it, several are
listed). The settings file keeps its comments and layout. The URL typed may point anywhere, but the links of a
page that came from a public address must all lead to public addresses (``netguard.require_public``): a feed
in the settings is polled with the operator's trust, which a public page must not be able to hand out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from monitor.commands import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Context, with_storage
from monitor.delivery.notify.text import iso
from monitor.errors import ConfigError, FeedParseError, FetchError
from monitor.ingest import fetcher, netguard
from monitor.ingest.discover import FoundFeed, alternate_feeds, slugify, unique_name
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.settings.file import add_feeds
from monitor.store.feeds import FeedHealth
from monitor.store.storage import Storage

RECENT = timedelta(hours=24)
_HEADER = ("NAME", "STATUS", "LAST SUCCESS", "FAILURES", "NEXT POLL", "24H", "LAST ERROR")


def register(commands: Any) -> None:
    """Add the ``feeds`` command."""
    feeds = commands.add_parser("feeds", help="show each feed's status, last success and error, and next poll")
    feeds.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    feeds.set_defaults(handler=handle, needs_settings=True, needs_webhooks=False)
    actions = feeds.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add the feed at URL, or the feed an HTML page at URL links to")
    add.add_argument("url", metavar="URL", help="a feed, or a page with <link rel=alternate> feeds")
    add.add_argument("--name", help="the feed's name (default: from its title)")
    add.add_argument("--all", action="store_true", help="add every feed the page links to")
    add.set_defaults(handler=handle_add, needs_settings=True, needs_webhooks=False)


def handle(args: argparse.Namespace, context: Context) -> int:
    """Print the health of every configured feed; return 1 if the database is unusable."""
    settings = context.require_settings()

    def show(storage: Storage) -> int:
        since = datetime.now(UTC) - RECENT
        health = storage.feed_health([(feed.name, feed.url) for feed in settings.feeds], since)
        full = [feed.name for feed in settings.feeds if settings.feed_full_text(feed)]
        found = storage.page_failures(full, since) if full else {}
        pages = {name: found.get(name, {}) for name in full}
        if args.json:
            print(json.dumps([as_json(feed, pages.get(feed.name)) for feed in health], ensure_ascii=False, indent=2))
        else:
            print(as_text(health, pages or None))
        return EXIT_OK

    return with_storage(context, show)


def handle_add(args: argparse.Namespace, context: Context) -> int:
    """Add the feed at (or linked from) ``args.url``; return 2 for a bad URL, 1 if it cannot be fetched."""
    settings = context.require_settings()
    url = str(args.url).strip()
    if not url.startswith(("http://", "https://")):
        print(f"error: {url!r}: must be an http:// or https:// URL", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        found = discover(url, settings.http.timeout.total_seconds(), settings.http.max_bytes)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.kind == "blocked" else EXIT_FAILURE
    except FeedParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if len(found) > 1 and not args.all:
        print(f"{url} links to {len(found)} feeds; add one by its URL, or every one with --all:")
        for feed in found:
            print(f"  {feed.url}" + (f"  ({feed.title})" if feed.title else ""))
        return EXIT_OK
    configured = {feed.url for feed in settings.feeds}
    names = [feed.name for feed in settings.feeds]
    added: list[tuple[str, str]] = []
    for feed in found:
        if feed.url in configured:
            print(f"skipped: {feed.url} (already configured)")
            continue
        wanted = args.name if args.name and len(found) == 1 else slugify(feed.title or feed.url.split("://", 1)[-1])
        name = wanted if args.name and len(found) == 1 else unique_name(wanted, names)
        names.append(name)
        added.append((name, feed.url))
    try:
        add_feeds(settings.path, added, context.environ, webhooks_needed=False)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for name, feed_url in added:
        print(f"added: {name} {feed_url}")
    return EXIT_OK


def discover(url: str, timeout: float, max_bytes: int) -> list[FoundFeed]:
    """Return the feed at ``url`` itself, or the feeds its HTML page links to; raise FetchError or FeedParseError.

    The links of a page from a public address are refused (FetchError of kind ``blocked``) unless every one of
    them resolves to public addresses only.
    """
    with fetcher.feed_client() as client:
        result = fetcher.fetch(client, url, url, deadline=timeout, max_bytes=max_bytes)
    content = result.content or b""
    try:
        parse_feed(content, url, result.headers, result.url)
    except NotAFeedError:
        charset = _charset(result.headers.get("content-type", ""))
        found = alternate_feeds(content.decode(charset, errors="replace"), result.url)
        if not found:
            raise FeedParseError(f"{url}: neither a feed nor a page that links to one") from None
        if result.from_public:
            for feed in found:
                _require_public(feed.url, result.url, timeout)
        return found
    return [FoundFeed(result.url, _feed_title(content))]


def _require_public(link: str, page: str, timeout: float) -> None:
    """Raise FetchError unless ``link``, found in the public ``page``, leads to public addresses only."""
    try:
        netguard.require_public(link, timeout)
    except FetchError as exc:
        message = f"{page} links to the feed {link}, refused: {exc}"
        if exc.kind == "blocked":
            message += " (a page on a public address may only add feeds on public addresses)"
        raise FetchError(message, exc.kind) from None


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                "".encode(value.strip('"'))
            except LookupError:
                break
            return value.strip('"')
    return "utf-8"


def _feed_title(content: bytes) -> str:
    title = feedparser.parse(content).feed.get("title")
    return str(title).strip() if title else ""


def as_json(feed: FeedHealth, page_failures: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Return one feed's health as a JSON object (times in ISO 8601 UTC, absent values null); with full text, its
    article pages that failed in the last 24 hours, by kind."""
    shown: dict[str, Any] = {
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
    if page_failures is not None:
        shown["page_failures_24h"] = dict(page_failures)
    return shown


def as_text(feeds: Sequence[FeedHealth], page_failures: Mapping[str, Mapping[str, int]] | None = None) -> str:
    """Return the feeds' health as an aligned table, one feed a line, times in UTC; with ``page_failures`` (by
    feed with full text), a column of their failed pages."""
    if not feeds:
        return "no feeds in the settings"
    rows = [_HEADER, *(_row(feed) for feed in feeds)]
    if page_failures is not None:
        counts = [str(sum(page_failures[f.name].values())) if f.name in page_failures else "-" for f in feeds]
        rows = [(*row[:-1], count, row[-1]) for row, count in zip(rows, ["PAGES FAILED", *counts], strict=True)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
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
