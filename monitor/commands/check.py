"""``monitor check``: validate the settings file and print what it will watch, and whether the matcher is compiled."""

from __future__ import annotations

import argparse
from typing import Any

from monitor.commands import EXIT_OK, Context, human
from monitor.delivery import destination
from monitor.ingest import seeds
from monitor.matching import forms, native
from monitor.settings.config import Settings
from monitor.store.engine import redact_url


def register(commands: Any) -> None:
    """Add the ``check`` command."""
    check = commands.add_parser("check", help="validate the settings file and print what it will watch")
    check.set_defaults(handler=handle, needs_settings=True)


def handle(args: argparse.Namespace, context: Context) -> int:
    """Print the summary of valid settings (invalid ones never reach here: they exit 2 on loading)."""
    print(describe(context.require_settings()))
    return EXIT_OK


def describe(settings: Settings) -> str:
    """Return a readable summary of what the settings will watch, secrets hidden."""
    lines = [
        f"settings: {settings.path}",
        f"database: {redact_url(settings.database.url)}",
        f"matcher: {native.describe()}",
        f"word forms: {forms.describe()}",
    ]
    lines.append(f"server: {_server(settings)}")
    if settings.seeds.enabled:
        count = len(seeds.scan(settings.seeds.path))
        every = human(settings.seeds.interval)
        lines.append(f"seeds: {settings.seeds.path} ({count} files, rescanned every {every})")
    else:
        lines.append("seeds: disabled")
    lines.append(f"feeds: {len(settings.feeds)}")
    for feed in settings.feeds:
        lines.append(f"  - {feed.name}: {feed.url} (every {human(settings.feed_interval(feed))})")
    lines.append(f"webhooks: {len(settings.webhooks)}" + ("" if settings.webhooks else " (alerts go to the console)"))
    for name, webhook in settings.webhooks.items():
        lines.append(f"  - {name}: {webhook.format} -> {destination.describe(webhook)}")
    lines.append(f"rules: {len(settings.rules)}")
    for rule in settings.rules:
        targets = ", ".join(settings.rule_webhooks(rule)) or "console"
        lines.append(f"  - {rule.name} -> {targets}")
        lines.append(f"      {rule.describe()}")
    return "\n".join(lines)


def _server(settings: Settings) -> str:
    """Return what the HTTP server will serve, and to whom (the token itself never shown)."""
    server = settings.server
    if server.listen is None:
        return "off (no [server] listen)"
    refused = server.pages_refused()
    if refused:
        return f"{server.listen}: /healthz and /metrics; {refused}: set [server] token to serve them"
    who = "with the [server] token" if server.token is not None else "without a token (loopback only)"
    return f"{server.listen}: the web pages ({who}), /healthz and /metrics"
