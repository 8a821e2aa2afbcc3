"""``monitor import-opml FILE [--dry-run]``: add the feeds of an OPML file to the settings file.

Every outline with an ``xmlUrl`` becomes a ``[[feeds]]`` table named after its title (a slug, made unique among
the feed names already there); a feed whose URL is already configured, or is not a valid http(s) URL, is
skipped. The settings file keeps its comments and layout, and is only rewritten if the result validates. On a
terminal, a bar on stderr advances as each feed is added to the file (thousands of them take a while).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from monitor.commands import EXIT_BAD_INPUT, EXIT_OK, Context
from monitor.errors import ConfigError
from monitor.ingest.discover import FoundFeed, OpmlError, parse_opml, slugify, unique_name
from monitor.observe import progress
from monitor.settings.file import add_feeds
from monitor.settings.values import url_problem


def register(commands: Any) -> None:
    """Add the ``import-opml`` command."""
    parser = commands.add_parser("import-opml", help="add the feeds of an OPML file to the settings file")
    parser.add_argument("file", type=Path, metavar="FILE", help="the OPML file")
    parser.add_argument("--dry-run", action="store_true", help="print what would be added, change nothing")
    parser.set_defaults(handler=handle, needs_settings=True, needs_webhooks=False)


def handle(args: argparse.Namespace, context: Context) -> int:
    """Add the OPML file's new feeds to the settings; return 2 for an unreadable file or invalid result."""
    settings = context.require_settings()
    try:
        found = parse_opml(args.file.read_bytes())
    except OSError as exc:
        print(f"error: {args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OpmlError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    added, skipped = plan(found, [(feed.name, feed.url) for feed in settings.feeds])
    for name, url in added:
        print(f"{'would add' if args.dry_run else 'added'}: {name} {url}")
    for url, reason in skipped:
        print(f"skipped: {url} ({reason})")
    if not args.dry_run:
        try:
            with progress.bar("import-opml", len(added)) as advance:
                add_feeds(settings.path, added, context.environ, advance, webhooks_needed=False)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.dry_run:
        print(f"{len(added)} would be added, {len(skipped)} skipped (dry run: nothing written)")
    else:
        print(f"{len(added)} added, {len(skipped)} skipped")
    return EXIT_OK


Pairs = list[tuple[str, str]]


def plan(found: list[FoundFeed], existing: Pairs) -> tuple[Pairs, Pairs]:
    """Return the (name, URL) feeds to add and the (URL, reason) feeds to skip, given those already configured."""
    names = [name for name, _ in existing]
    urls = {url for _, url in existing}
    added: Pairs = []
    skipped: Pairs = []
    for feed in found:
        if not feed.url.startswith(("http://", "https://")):
            skipped.append((feed.url, "not an http or https URL"))
        elif problem := url_problem(feed.url, quote=True):
            skipped.append((feed.url, problem))
        elif feed.url in urls:
            skipped.append((feed.url, "already configured"))
        else:
            name = unique_name(slugify(feed.title or feed.url.split("://", 1)[-1]), names)
            names.append(name)
            urls.add(feed.url)
            added.append((name, feed.url))
    return added, skipped
