"""The database engine: SQLite made safe for several writers, PostgreSQL as it comes, and URLs without passwords.

SQLite runs in WAL mode with a busy timeout, and every transaction that writes starts with ``BEGIN IMMEDIATE``
so that concurrent writers wait for each other instead of failing with "database is locked"; a transaction
run with the ``READ_ONLY`` execution option reads a snapshot without taking the lock.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DisconnectionError
from sqlmodel import create_engine

from monitor.errors import StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_ATTEMPTS = 40
READ_ONLY = "monitor_read_only"
# Page cache per SQLite connection (its default is 2 MB): every pooled connection holds its own, and the
# operating system caches the file anyway.
SQLITE_CACHE_KB = 512
# A pooled PostgreSQL connection idle longer than this is pinged before use (``_ping_when_idle``).
PING_AFTER_IDLE_S = 2.0
_USED_AT = "monitor_used_at"


def redact_url(url: str) -> str:
    """Return a database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid database URL)"


def refused_values(exc: BaseException) -> str | None:
    """Return why the database refused the values a statement wrote (too long for a column, too big, not valid
    text), as its driver says it in one line; None when it failed for another reason (unreachable, locked, full).

    PostgreSQL's data exceptions (SQLSTATE class 22) and SQLite's "string or blob too big" are ``DataError``;
    PostgreSQL's program limits (class 54, such as an index entry too large) are classed with operational errors.
    """
    orig = getattr(exc, "orig", None)
    state = str(getattr(orig, "sqlstate", None) or "")
    if not (isinstance(exc, DataError) or state.startswith("54")):
        return None
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def make_engine(url: str) -> Engine:
    """Return the engine of a database URL; a SQLite file is put in WAL mode on first connection."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database: invalid URL {redact_url(url)!r}: {exc}") from None
    if parsed.get_backend_name() != "sqlite":
        return _ping_when_idle(create_engine(url))
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if parsed.database not in (None, "", ":memory:"):
            _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write takes the lock at once, so that it waits its turn instead of failing half-way; a read does not
        # take it at all (in WAL mode it reads a snapshot while a writer goes on).
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _ping_when_idle(engine: Engine) -> Engine:
    """Return the engine, its pooled connections pinged when taken from the pool after lying idle a while.

    A connection that sat idle may have been closed by the server (a restart, a proxy's timeout): one that
    does not answer is replaced before use. One used a moment ago is not pinged: a busy worker would pay a
    round trip for every transaction; if the server went away just then, that transaction fails and the
    pool is renewed for the next.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get(_USED_AT)
        if used is not None and time.monotonic() - used < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # Out of the transaction the query began: the connection may be wanted in autocommit mode.
            dbapi_connection.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"database: connection lost ({type(exc).__name__})") from exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_USED_AT] = time.monotonic()

    return engine


def _use_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (it stays so), waiting out another process doing the same."""
    for attempt in range(WAL_ATTEMPTS):
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            # Switching to WAL needs the file to itself and does not wait on the busy timeout: retry.
            if attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
