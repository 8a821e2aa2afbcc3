"""The database schema's version: create it, bring it up to date with the migrations, tell when it is behind.

Migrations are Alembic scripts shipped in ``monitor/migrations/versions``. A database with no tables at all is
created from the models and stamped with the newest revision (the migrations and the models describe the same
schema: a test checks it), by one process however many start on it at once; a database that is behind is upgraded
only by ``monitor db upgrade``, and the daemon refuses to start on it until then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, text
from sqlmodel import SQLModel

import monitor.store.models  # noqa: F401  (registers the tables)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in ``migrations/versions`` (a test checks it against Alembic's own reading). Starting the
# daemon compares it with the database's without loading Alembic, which only ``db upgrade`` needs.
HEAD = "0006"
# Alembic's table of the revision a database is at, as Alembic creates it.
VERSIONS = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
SCHEMA_LOCK = 0x6D6F6E69746F72  # PostgreSQL advisory lock key held while a new database's schema is created


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """Return the newest revision the code knows."""
    return HEAD


def current(engine: Engine) -> str | None:
    """Return the revision the database is at (None for a database never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSIONS.name):
            return None
        revisions = connection.execute(VERSIONS.select()).scalars().all()
    return revisions[0] if len(revisions) == 1 else None


def is_empty(bind: Engine | Connection) -> bool:
    """Return whether the database holds none of the tables."""
    names = set(inspect(bind).get_table_names())
    return not names & set(SQLModel.metadata.tables)


def create(engine: Engine) -> None:
    """Create every table of a new database and stamp it with the newest revision, unless another process just did."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Daemons and commands started together on a new database would all create it, and all but one fail on
            # the tables the first made: they wait for it here, then find the schema there. (SQLite's BEGIN
            # IMMEDIATE already lets one writer in at a time.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        if not is_empty(connection):
            return
        SQLModel.metadata.create_all(connection)
        VERSIONS.create(connection)
        connection.execute(VERSIONS.insert().values(version_num=HEAD))


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply the migrations the database lacks; return the revisions before and after."""
    before = current(engine)
    if before is None and is_empty(engine):
        create(engine)
        return None, head()
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")
    return before, head()
