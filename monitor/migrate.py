"""The database schema's version: create it, bring it up to date with the migrations, tell when it is behind.

Migrations are Alembic scripts shipped in ``monitor/migrations/versions``. A database with no tables at all is
created from the models and stamped with the newest revision (the migrations and the models describe the same
schema: a test checks it); a database that is behind is upgraded only by ``monitor db upgrade``, and the
daemon refuses to start on it until then.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel

import monitor.models  # noqa: F401  (registers the tables)

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """Return the newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "the migrations have a head"
    return revision


def current(engine: Engine) -> str | None:
    """Return the revision the database is at (None for a database never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_empty(engine: Engine) -> bool:
    """Return whether the database holds none of the tables."""
    names = set(inspect(engine).get_table_names())
    return not names & set(SQLModel.metadata.tables)


def create(engine: Engine) -> None:
    """Create every table of a new database and stamp it with the newest revision."""
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
        command.stamp(_config(connection), "head")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply the migrations the database lacks; return the revisions before and after."""
    before = current(engine)
    if before is None and is_empty(engine):
        create(engine)
        return None, head()
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")
    return before, head()
