"""``monitor rules test`` (try a query on a text) and ``monitor rules backtest`` (replay over stored articles)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import backtest
from monitor.commands import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Context, duration, positive, with_storage
from monitor.errors import QueryError
from monitor.ingest import seeds
from monitor.ingest.normalize import detect_language
from monitor.matching import Matcher, compile_rule
from monitor.matching.snippet import marked
from monitor.observe import progress
from monitor.store.storage import Storage


def register(commands: Any) -> None:
    """Add the ``rules`` command and its actions."""
    rules = commands.add_parser("rules", help="try a query on a text, or replay a rule over stored articles")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    trial = actions.add_parser("test", help="match one query against a text (no settings file needed)")
    trial.add_argument("query", metavar="QUERY", help="a query in the rule language")
    source = trial.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the article text, taken as it is")
    source.add_argument("--file", metavar="PATH", help="an article file read like a seed ('-' for stdin)")
    trial.add_argument("--title", help="the article title (default: none, or the file's first sentence)")
    trial.add_argument(
        "--language", metavar="CODE", help="the article's language, such as ru (default: detected from its words)"
    )
    trial.set_defaults(handler=handle_test, needs_settings=False)
    replay = actions.add_parser("backtest", help="list what a rule would have alerted among stored articles")
    replay.add_argument("name", metavar="NAME", nargs="?", help="a rule of the settings file")
    replay.add_argument("--query", metavar="Q", help="a query to try instead of a configured rule")
    replay.add_argument(
        "--since", metavar="DURATION", type=duration, default="7d", help="how far back to look (default: 7d)"
    )
    replay.add_argument("--limit", metavar="N", type=positive, help="list at most N matches (all are counted)")
    replay.add_argument("--json", action="store_true", help="print the matches as a JSON list")
    replay.set_defaults(handler=handle_backtest, needs_settings=True, needs_webhooks=False)


def handle_test(args: argparse.Namespace, context: Context) -> int:
    """Print as JSON how a query matches a text or a file; return 0 if it matches, 1 if not, 2 on bad input."""
    return rules_test(args.query, text=args.text, file=args.file, title=args.title, language=args.language)


def rules_test(
    query: str, *, text: str | None, file: str | None, title: str | None, language: str | None = None
) -> int:
    """Print as JSON how ``query`` matches a text or a file; return 0 if it matches, 1 if not, 2 on bad input."""
    try:
        tree = compile_rule(query)
    except QueryError as exc:
        print(query_error(exc), file=sys.stderr)
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
    title, text = title or "", text or ""
    # As ingestion does: the language when the words make it clear (else each word's script decides).
    language = language.lower() if language else detect_language(f"{title}\n{text}")
    hits = Matcher({query: tree}).match(title=title, text=text, language=language)
    found = [
        {"rule": h.rule, "matched": list(h.matched), "field": h.field, "snippet": marked(h.snippet, h.highlights)}
        for h in hits
    ]
    print(json.dumps({"matched": bool(hits), "language": language, "hits": found}, ensure_ascii=False, indent=2))
    return EXIT_OK if hits else EXIT_FAILURE


def handle_backtest(args: argparse.Namespace, context: Context) -> int:
    """List the stored articles of the last ``--since`` that a rule (or a query) matches."""
    return rules_backtest(context, args.name, args.query, args.since, args.limit, as_json=args.json)


def rules_backtest(
    context: Context, name: str | None, query: str | None, since: timedelta, limit: int | None, *, as_json: bool
) -> int:
    """List the stored articles of the last ``since`` that a rule (or a query) matches; return the exit code."""
    settings = context.require_settings()
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
        print(query_error(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    start = datetime.now(UTC) - since

    def replay(storage: Storage) -> int:
        articles = progress.track(storage.articles_since(start), f"backtest {label}")
        report = backtest.replay(Matcher({label: tree}), articles, limit)
        if as_json:
            print(json.dumps([backtest.as_json(match) for match in report.matches], ensure_ascii=False, indent=2))
        else:
            print(backtest.as_text(report, start))
        return EXIT_OK

    return with_storage(context, replay)


def query_error(exc: QueryError) -> str:
    """Return a query error as lines: the reason and position, then the query with a caret under the fault."""
    pointer = "".join(f"\n  {line}" for line in exc.pointer().splitlines())
    return f"error: invalid query: {exc.reason} at position {exc.position}{pointer}"
