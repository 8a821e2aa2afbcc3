"""The ``monitor`` command: reads the settings once and hands them to the subcommand that was asked for.

Exit codes: 0 ok, 1 a failure at run time (for example an unusable database), 2 bad input (settings, query,
arguments). The subcommands live in ``monitor.commands``, one module each, listed by ``commands()``.

Importing this module imports nothing else of the package: the console script imports it, and so does each worker
process the daemon starts (they re-import the program's main script), which must stay small.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from monitor import __version__

CONFIG_ENV = "MONITOR_CONFIG"


def commands() -> tuple[ModuleType, ...]:
    """Return the subcommands' modules, in the order ``--help`` lists them."""
    from monitor.commands import alerts, check, db, feeds, import_opml, rules, run, status

    return (run, check, rules, alerts, feeds, import_opml, db, status)


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
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands():
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line and return its exit code."""
    from monitor.commands import EXIT_BAD_INPUT, Context
    from monitor.errors import ConfigError
    from monitor.settings.config import load_settings

    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    settings = None
    if args.needs_settings:
        path = args.config or Path(environ.get(CONFIG_ENV) or "settings.toml")
        try:
            settings = load_settings(path, environ)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    code: int = args.handler(args, Context(settings, environ))
    return code
