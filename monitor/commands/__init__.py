"""The subcommands of ``monitor``, one module each, listed by ``cli.commands()``.

Each module has ``register(commands)``, which adds its parser and sets ``handler`` (called with the parsed
arguments and a ``Context``) and ``needs_settings`` (whether the settings file is read first). A command that
sends nothing also sets ``needs_webhooks=False``: it then runs where the webhooks' ``${NAME}`` variables are
unset (``load_settings(webhooks_needed=False)``); ``run`` and ``check`` leave it at its default, true.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StorageError
from monitor.settings.config import Settings
from monitor.settings.values import parse_duration
from monitor.store.engine import redact_url
from monitor.store.storage import Storage

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Context:
    """What every command may use: the settings (when it reads them) and the environment."""

    settings: Settings | None
    environ: Mapping[str, str]

    def require_settings(self) -> Settings:
        """Return the settings; commands registered with ``needs_settings`` always have them."""
        assert self.settings is not None, "this command reads the settings file"
        return self.settings


def with_storage(context: Context, action: Callable[[Storage], int]) -> int:
    """Run ``action`` on the settings' database and return its exit code (1, said on stderr, if it fails)."""
    settings = context.require_settings()
    try:
        storage = Storage.open(settings.database.url)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return action(storage)
    except SQLAlchemyError as exc:
        print(f"error: database {redact_url(settings.database.url)}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        storage.close()


def duration(text: str) -> timedelta:
    """Return a command-line duration such as ``7d``, or raise the error argparse reports."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    """Return a whole number above 0 given on the command line."""
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, not {text!r}")
    return int(text)


def human(delta: timedelta) -> str:
    """Return a duration the way settings write it: ``15m``, ``1h``, ``2d``, ``90s``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{delta.total_seconds():g}s"
