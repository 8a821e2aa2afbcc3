"""Whether the database can take a write right now, answered in about a second: the check behind ``/healthz``.

``can_write`` returns ``"ok"``, or ``"busy"`` when another connection holds SQLite's write lock (the database is
there and writable, it is in use: the daemon's own writes wait their turn), and raises ``StorageError`` with a
short reason (never the URL, nor a password) when a write would fail:

- SQLite: the file must exist and be writable (so must its ``-wal`` and ``-shm`` files), its disk must have
  ``MIN_FREE_BYTES`` free, and a fresh connection (never a pooled one, whose busy timeout is 30 s) must be able
  to begin a write transaction and write in it, waiting at most ``SQLITE_BUSY_SECONDS`` for the lock; the
  transaction is rolled back, so nothing reaches the disk.
- PostgreSQL: in a transaction with a statement timeout, rolled back, the server must not be a standby in
  recovery nor read-only by default, and must give the transaction an id (which it refuses when it cannot write,
  for instance near transaction id wraparound).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from monitor.errors import StorageError

MIN_FREE_BYTES = 16 * 1024 * 1024
SQLITE_BUSY_SECONDS = 0.5
POSTGRES_TIMEOUT_MS = 1000

Answer = Literal["ok", "busy"]


def can_write(engine: Engine, min_free: int = MIN_FREE_BYTES) -> Answer:
    """Return ``"ok"`` or ``"busy"`` if the database can take a write; raise StorageError saying why not."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or engine.url.query.get("uri"):
            return _probe_pool(engine)
        return _probe_sqlite(Path(database), min_free)
    return _probe_postgres(engine)


def _probe_sqlite(path: Path, min_free: int) -> Answer:
    """Return whether the SQLite file at ``path`` can take a write (``busy`` if locked); raise StorageError."""
    if not path.exists():
        raise StorageError("the database file is missing")
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        # The kernel's own verdict, for root too: a read-only mount, an immutable file, its permissions.
        if file.exists() and not os.access(file, os.W_OK):
            raise StorageError(f"{file.name} is read-only")
    free = _free_bytes(path.parent)
    if free < min_free:
        raise StorageError(f"the disk is nearly full: {free // 1024} KB free, under {min_free // 1024} KB")
    try:
        connection = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=SQLITE_BUSY_SECONDS, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the database file: {_sqlite_reason(exc)}") from None
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("CREATE TABLE monitor_write_probe (x)")  # rolled back: only the page cache sees it
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return "busy"
        raise StorageError(f"cannot write: {_sqlite_reason(exc)}") from None
    except sqlite3.Error as exc:
        raise StorageError(f"cannot write: {_sqlite_reason(exc)}") from None
    finally:
        connection.close()
    return "ok"


def _free_bytes(folder: Path) -> int:
    """Return the bytes an unprivileged process may still write on the disk holding ``folder``."""
    try:
        stats = os.statvfs(folder)
    except OSError as exc:
        raise StorageError(f"cannot see the disk: {exc.strerror}") from None
    return stats.f_bavail * stats.f_frsize


def _sqlite_reason(exc: sqlite3.Error) -> str:
    """Return SQLite's reason for a failure, which names no file (``attempt to write a readonly database``)."""
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name else str(exc)


def _probe_pool(engine: Engine) -> Answer:
    """Return ``"ok"`` if a pooled connection answers (an in-memory database is always writable)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot query: {type(exc).__name__}") from None
    return "ok"


def _probe_postgres(engine: Engine) -> Answer:
    """Return ``"ok"`` if PostgreSQL can take a write now; raise StorageError saying why not."""
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(text(f"SET LOCAL statement_timeout = {POSTGRES_TIMEOUT_MS}"))
                recovery, read_only = connection.execute(
                    text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
                ).one()
                if recovery:
                    raise StorageError("read-only: the server is a standby in recovery")
                if read_only == "on":
                    raise StorageError("read-only: transactions are read-only by default on this database")
                connection.execute(text("SELECT txid_current()"))
            finally:
                transaction.rollback()
    except DBAPIError as exc:
        raise StorageError(f"cannot write: {_postgres_reason(exc)}") from None
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot write: {type(exc).__name__}") from None
    return "ok"


def _postgres_reason(exc: DBAPIError) -> str:
    """Return the SQLSTATE and class of a PostgreSQL failure: no host, user or URL."""
    original = exc.orig
    state = getattr(original, "sqlstate", None)
    kind = type(original).__name__ if original is not None else type(exc).__name__
    return f"{kind} (SQLSTATE {state})" if state else kind
