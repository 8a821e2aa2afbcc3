"""Read a test's database through SQLAlchemy, whichever backend its URL names, one short-lived engine per call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, text


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Return every row the query gives, as tuples."""
    with _connect(url) as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def scalar(url: str, sql: str, **params: Any) -> Any:
    """Return the first column of the query's first row (None without rows)."""
    with _connect(url) as connection:
        return connection.execute(text(sql), params).scalar()


def dump(url: str) -> str:
    """Return every row of every table as unescaped text, one line per row, to search the database for a string."""
    with _connect(url) as connection:
        metadata = sqlalchemy.MetaData()
        metadata.reflect(connection)
        return "\n".join(
            f"{table.name}\t" + "\t".join(str(value) for value in row)
            for table in metadata.sorted_tables
            for row in connection.execute(table.select())
        )


def execute(url: str, *statements: str) -> None:
    """Run the statements in one transaction (to set a database up the way a test needs it)."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()
