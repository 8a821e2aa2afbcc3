"""``monitor db upgrade`` (apply the schema migrations) and ``monitor db current`` (show the schema's revision)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from monitor.commands import EXIT_FAILURE, EXIT_OK, Context
from monitor.errors import StorageError
from monitor.store import migrate
from monitor.store.engine import redact_url
from monitor.store.storage import Storage


def register(commands: Any) -> None:
    """Add the ``db`` command and its actions."""
    db = commands.add_parser("db", help="manage the database schema")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="bring the schema up to date (creates it in a new database)")
    upgrade.set_defaults(handler=handle_upgrade, needs_settings=True, needs_webhooks=False)
    show = actions.add_parser("current", help="print the schema's revision and the newest this version knows")
    show.set_defaults(handler=handle_current, needs_settings=True, needs_webhooks=False)


def _engine_action(context: Context, action: Any) -> int:
    url = context.require_settings().database.url
    try:
        storage = Storage(url)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        code: int = action(storage)
        return code
    except SQLAlchemyError as exc:
        print(f"error: database {redact_url(url)}: {type(exc).__name__}: {exc.args[0]}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        storage.close()


def handle_upgrade(args: argparse.Namespace, context: Context) -> int:
    """Apply the missing migrations and say what changed."""

    def upgrade(storage: Storage) -> int:
        before, after = migrate.upgrade(storage.engine)
        where = redact_url(storage.url)
        if before == after:
            print(f"database {where}: schema up to date (revision {after})")
        else:
            print(f"database {where}: schema upgraded from {before or 'nothing'} to {after}")
        return EXIT_OK

    return _engine_action(context, upgrade)


def handle_current(args: argparse.Namespace, context: Context) -> int:
    """Print the database's revision and the newest one."""

    def show(storage: Storage) -> int:
        at, newest = migrate.current(storage.engine), migrate.head()
        state = "up to date" if at == newest else "behind: run `monitor db upgrade`"
        print(f"database {redact_url(storage.url)}: revision {at or 'none'}; newest {newest} ({state})")
        return EXIT_OK

    return _engine_action(context, show)
