"""The base of a write transaction: its session, and inserts that skip the rows already there.

``storage.Tx`` builds the storing steps on it; the feed and alert queries only need this much of it.

Many rows at once (``insert_rows``, ``ids_in``) go to PostgreSQL as one array per column: the statement's text
stays the same whatever the number of rows, so the driver parses it once and the server prepares it once,
where a statement with a placeholder per value is new text at each size, parsed and planned anew each time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Row, Table, Text, any_, bindparam, cast, func
from sqlalchemy import insert as sql_insert
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel


class Writes:
    """One write transaction's session, and what every step of it needs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def insert_rows(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        unique: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> list[Row[Any]]:
        """Insert ``rows`` (each with the same columns) in one statement, skipping those whose ``unique`` columns
        are taken when given; return the ``returning`` columns of the rows inserted."""
        if not rows:
            return []
        if not self.postgres:
            statement = self.insert_new(table, *unique) if unique else sql_insert(table)
            if not returning:
                self.session.execute(statement, list(rows))
                return []
            return list(self.session.execute(statement.returning(*(table.c[n] for n in returning)), list(rows)))
        names = list(rows[0])
        arrays = [_array(table, name, [row[name] for row in rows]) for name in names]
        source = func.unnest(*arrays).table_valued(*names).render_derived()
        values = [_column(table, name, source.c[name]) for name in names]
        insert = postgresql.insert(table).from_select(names, sql_select(*values))
        if unique:
            insert = insert.on_conflict_do_nothing(index_elements=list(unique))
        if not returning:
            self.session.execute(insert)
            return []
        return list(self.session.execute(insert.returning(*(table.c[n] for n in returning))))

    def ids_in(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        """Return the condition that ``column`` is one of ``values`` (``one_of``)."""
        return one_of(column, values, self.postgres)

    def insert_new(self, table: Table, *unique: str) -> Any:
        """Return an INSERT of ``table``'s rows that skips those whose ``unique`` columns are taken.

        Executed with a list of rows, it is one statement run over every row (with ``RETURNING``, in batches).
        On SQLite it is ``INSERT OR IGNORE``, which SQLAlchemy compiles once and caches, where it compiles the
        dialect's ``ON CONFLICT`` form anew at each execution (the rows here break no other constraint).
        """
        if self.session.get_bind().dialect.name == "sqlite":
            return sql_insert(table).prefix_with("OR IGNORE")
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))


def one_of(column: ColumnElement[Any], values: Sequence[Any], postgres: bool) -> ColumnElement[bool]:
    """Return the condition that ``column`` is one of ``values``: one array on PostgreSQL, else ``IN``."""
    if not postgres:
        return column.in_(list(values))
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))


def table_of(model: type[SQLModel]) -> Table:
    """Return the Core table of a model."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _array(table: Table, name: str, values: list[Any]) -> Any:
    """Return the bound array of one column's values (JSON values as text, cast back by ``_column``)."""
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return bindparam(None, [json.dumps(value) for value in values], type_=postgresql.ARRAY(Text()))
    return bindparam(None, values, type_=postgresql.ARRAY(kind))


def _column(table: Table, name: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return one column of the unnested arrays, as the table's column takes it."""
    kind = table.c[name].type
    return cast(value, kind) if isinstance(kind, JSON) else value
