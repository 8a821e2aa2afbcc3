"""The ``monitor`` command: reads the settings once and wires storage, HTTP, matcher and scheduler.

Exit codes: 0 ok, 1 a failure at run time (for example an unusable database), 2 bad input (settings, query,
arguments).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from monitor import __version__, backtest, scheduler
from monitor.config import Settings, load_settings, parse_duration
from monitor.errors import ConfigError, QueryError, StorageError
from monitor.ingest import fetcher, seeds
from monitor.logs import configure, safe_url
from monitor.matching import Matcher, compile_rule
from monitor.notify.message import AlertMessage
from monitor.pipeline import Pipeline
from monitor.reload import Reloader
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
    rules = commands.add_parser("rules", help="try a query on a text, or replay a rule over stored articles")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    trial = actions.add_parser("test", help="match one query against a text (no settings file needed)")
    trial.add_argument("query", metavar="QUERY", help="a query in the rule language")
    source = trial.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the article text, taken as it is")
    source.add_argument("--file", metavar="PATH", help="an article file read like a seed ('-' for stdin)")
    trial.add_argument("--title", help="the article title (default: none, or the file's first sentence)")
    backtest = actions.add_parser("backtest", help="list what a rule would have alerted among stored articles")
    backtest.add_argument("name", metavar="NAME", nargs="?", help="a rule of the settings file")
    backtest.add_argument("--query", metavar="Q", help="a query to try instead of a configured rule")
    backtest.add_argument(
        "--since", metavar="DURATION", type=_duration, default="7d", help="how far back to look (default: 7d)"
    )
    backtest.add_argument("--limit", metavar="N", type=_positive, help="list at most N matches (all are counted)")
    backtest.add_argument("--json", action="store_true", help="print the matches as a JSON list")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line and return its exit code."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    if args.command == "rules" and args.action == "test":
        return rules_test(args.query, text=args.text, file=args.file, title=args.title)
    path = args.config or Path(environ.get(CONFIG_ENV) or "settings.toml")
    try:
        settings = load_settings(path, environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "check":
        print(describe(settings))
        return EXIT_OK
    if args.command == "rules":
        return rules_backtest(settings, args.name, args.query, args.since, args.limit, as_json=args.json)
    configure(settings.logging.level)
    return run(settings, once=args.once, environ=environ)


def run(settings: Settings, once: bool, environ: Mapping[str, str]) -> int:
    """Open the database and run the daemon (or one cycle); return the exit code.

    The daemon re-reads its settings file, with ``environ`` for its ``${NAME}`` values, when the file changes.
    """
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
            scheduler.serve(pipeline, Reloader(pipeline, settings.path, environ))
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


def rules_test(query: str, *, text: str | None, file: str | None, title: str | None) -> int:
    """Print as JSON how ``query`` matches a text or a file; return 0 if it matches, 1 if not, 2 on bad input."""
    try:
        tree = compile_rule(query)
    except QueryError as exc:
        print(_query_error(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if file is not None:
        try:
            raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            print(f"error: {file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        article = seeds.parse_seed(Path(file).name, raw.decode("utf-8", errors="replace"))
        text, default_title = (article.text, article.title) if article else ("", "")
        title = default_title if title is None else title
    hits = Matcher({query: tree}).match(title=title or "", text=text or "")
    found = [{"rule": h.rule, "matched": list(h.matched), "field": h.field, "snippet": h.snippet} for h in hits]
    print(json.dumps({"matched": bool(hits), "hits": found}, ensure_ascii=False, indent=2))
    return EXIT_OK if hits else EXIT_FAILURE


def rules_backtest(
    settings: Settings, name: str | None, query: str | None, since: timedelta, limit: int | None, *, as_json: bool
) -> int:
    """List the stored articles of the last ``since`` that a rule (or a query) matches; return the exit code."""
    if (name is None) == (query is None):
        both = ", not both" if name is not None else ""
        print(f"error: rules backtest: give the NAME of a rule or --query Q{both}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rules = {rule.name: rule for rule in settings.rules}
    try:
        if query is not None:
            tree, label = compile_rule(query), query
        elif name in rules:
            tree, label = rules[name].compile(), name
        else:
            known = ", ".join(repr(rule) for rule in rules) or "none is configured"
            print(f"error: rules backtest: unknown rule {name!r} (known: {known})", file=sys.stderr)
            return EXIT_BAD_INPUT
    except QueryError as exc:
        print(_query_error(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    start = datetime.now(UTC) - since
    try:
        storage = Storage.open(settings.database.url)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        report = backtest.replay(Matcher({label: tree}), storage.articles_since(start), limit)
    except SQLAlchemyError as exc:
        print(f"error: database {redact_url(settings.database.url)}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        storage.close()
    if as_json:
        print(json.dumps([backtest.as_json(match) for match in report.matches], ensure_ascii=False, indent=2))
    else:
        print(backtest.as_text(report, start))
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
        lines.append(f"      {rule.describe()}")
    return "\n".join(lines)


def _query_error(exc: QueryError) -> str:
    """Return a query error as lines: the reason and position, then the query with a caret under the fault."""
    pointer = "".join(f"\n  {line}" for line in exc.pointer().splitlines())
    return f"error: invalid query: {exc.reason} at position {exc.position}{pointer}"


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, not {text!r}")
    return int(text)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{delta.total_seconds():g}s"
