"""The ``monitor`` command: reads the settings once and wires storage, HTTP, matcher and scheduler.

Exit codes: 0 ok, 1 a failure at run time (for example an unusable database), 2 bad input (settings, query,
arguments).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from monitor import __version__, scheduler
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError, StorageError
from monitor.ingest import fetcher, seeds
from monitor.logs import configure, safe_url
from monitor.notify.message import AlertMessage
from monitor.pipeline import Pipeline
from monitor.storage import Storage, redact_url

CONFIG_ENV = "MONITOR_CONFIG"
EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
log = logging.getLogger("monitor")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``monitor`` command."""
    parser = argparse.ArgumentParser(prog="monitor", description="Watch news feeds and post matching alerts to chat.")
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        help=f"settings file (default: ${CONFIG_ENV}, then ./settings.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="run every job once, send this cycle's alerts, exit")
    commands.add_parser("check", help="validate the settings file and print what it will watch")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line and return its exit code."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    path = args.config or Path(environ.get(CONFIG_ENV) or "settings.toml")
    try:
        settings = load_settings(path, environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "check":
        print(describe(settings))
        return EXIT_OK
    configure(settings.logging.level)
    return run(settings, once=args.once)


def run(settings: Settings, once: bool) -> int:
    """Open the database and run the daemon (or one cycle); return the exit code."""
    try:
        storage = Storage.open(settings.database.url)
    except StorageError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    client = fetcher.make_client(settings.http.timeout.total_seconds())
    pipeline = Pipeline(settings, storage, client, print_alert)
    try:
        if once:
            scheduler.run_once(pipeline)
        else:
            scheduler.serve(pipeline)
    except StorageError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    except Exception as exc:
        if type(exc).__module__.startswith("sqlalchemy"):
            log.error("database %s: %s", redact_url(settings.database.url), exc)
            return EXIT_FAILURE
        raise
    finally:
        client.close()
        storage.close()
    return EXIT_OK


def print_alert(alert: AlertMessage) -> None:
    """Print one alert as a readable line on standard output."""
    article = alert.article
    matched = ", ".join(alert.matched)
    where = f" {article.url}" if article.url else ""
    print(f"ALERT [{alert.rule}] {article.title} ({article.source}){where} | matched: {matched}", flush=True)


def describe(settings: Settings) -> str:
    """Return a readable summary of what the settings will watch, secrets hidden."""
    lines = [f"settings: {settings.path}", f"database: {redact_url(settings.database.url)}"]
    if settings.seeds.enabled:
        count = len(seeds.scan(settings.seeds.path))
        lines.append(f"seeds: {settings.seeds.path} ({count} files, rescanned every {_human(settings.seeds.interval)})")
    else:
        lines.append("seeds: disabled")
    lines.append(f"feeds: {len(settings.feeds)}")
    for feed in settings.feeds:
        lines.append(f"  - {feed.name}: {feed.url} (every {_human(settings.feed_interval(feed))})")
    lines.append(f"webhooks: {len(settings.webhooks)}" + ("" if settings.webhooks else " (alerts go to the console)"))
    for name, webhook in settings.webhooks.items():
        lines.append(f"  - {name}: {webhook.format} -> {safe_url(webhook.url.get_secret_value())}")
    lines.append(f"rules: {len(settings.rules)}")
    for rule in settings.rules:
        targets = ", ".join(settings.rule_webhooks(rule)) or "console"
        lines.append(f"  - {rule.name} -> {targets}")
        lines.append(f"      {rule.query}")
    return "\n".join(lines)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{delta.total_seconds():g}s"
