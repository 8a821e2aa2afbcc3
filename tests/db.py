"""Read a test's database through SQLAlchemy, whichever backend its URL names, one short-lived engine per call;
make a SQLite file read-only, or hold its write lock from another process, the way things go wrong in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
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


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make the file at ``path`` read-only for every process, root included, inside the block.

    As root, file permissions do not stop a write: the file is made immutable instead (``chattr +i``), and the test
    is skipped where the file system does not allow that.
    """
    mode = path.stat().st_mode
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root, and chattr +i is refused here: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


_HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Hold the write lock of the SQLite file at ``path`` from another process inside the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate("", timeout=10)
