"""The base of a write transaction: its session, and inserts that skip the rows already there.

``storage.Tx`` builds the storing steps on it; the feed and alert queries only need this much of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel


class Writes:
    """One write transaction's session, and what every step of it needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def insert_new(self, table: Table, *unique: str) -> Any:
        """Return an INSERT of ``table``'s rows that skips those whose ``unique`` columns are taken.

        Executed with a list of rows, it is one statement run over every row (with ``RETURNING``, in batches).
        On SQLite it is ``INSERT OR IGNORE``, which SQLAlchemy compiles once and caches, where it compiles the
        dialect's ``ON CONFLICT`` form anew at each execution (the rows here break no other constraint).
        """
        if self.session.get_bind().dialect.name == "sqlite":
            return sql_insert(table).prefix_with("OR IGNORE")
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))


def table_of(model: type[SQLModel]) -> Table:
    """Return the Core table of a model."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
