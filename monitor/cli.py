"""The ``monitor`` command: reads the settings once and hands them to the subcommand that was asked for.

Exit codes: 0 ok, 1 a failure at run time (for example an unusable database), 2 bad input (settings, query,
arguments). A command whose output is closed before it is done (``monitor feeds --json | head``) stops quietly
with 141, the status of a Unix tool that SIGPIPE ended. The subcommands live in ``monitor.commands``, one module
each, listed by ``commands()``; a command that sends nothing reads the settings without the webhooks' secrets.

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
DEFAULT_CONFIG = "settings.toml"
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, as the shell reports a command that SIGPIPE ended


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
        help=f"settings file (default: ${CONFIG_ENV}, then ./{DEFAULT_CONFIG})",
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
        path, origin = settings_path(args.config, environ)
        if not path.exists():
            print(f"error: settings file not found: {path.absolute()} ({origin})", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:
            settings = load_settings(path, environ, webhooks_needed=getattr(args, "needs_webhooks", True))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        code: int = args.handler(args, Context(settings, environ))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return code


def settings_path(given: Path | None, environ: Mapping[str, str]) -> tuple[Path, str]:
    """Return the settings file to read and where its name came from, for an error that cannot find it."""
    if given is not None:
        return given, "given by --config"
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), f"given by {CONFIG_ENV}; --config PATH names another"
    return Path(DEFAULT_CONFIG), f"the default; name another with --config PATH or {CONFIG_ENV}"


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that nothing left in its buffer fails again when Python exits."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a file descriptor of its own (a test's capture): nothing will flush into the closed pipe
    finally:
        os.close(devnull)
