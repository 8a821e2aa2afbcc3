"""The PostgreSQL engine's pool: a connection that lay idle is pinged, and replaced if the server dropped it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from monitor.store import engine
from monitor.store.storage import Storage


@pytest.fixture
def storage(postgres_url: str) -> Iterator[Storage]:
    opened = Storage.open(postgres_url)
    yield opened
    opened.close()


def backend(storage: Storage) -> int:
    with storage.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.parametrize("autocommit", [False, True])
def test_an_idle_connection_is_pinged_and_can_then_run_in_either_mode(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, autocommit: bool
) -> None:
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_S", 0.0)  # every connection taken counts as idle
    before = backend(storage)
    with (storage.single if autocommit else storage.engine).connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == before
        # The ping left no transaction open: in autocommit mode, none is open after a statement either.
        status = connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()"))
        assert status.scalar_one() == 1
        in_transaction = connection.connection.dbapi_connection.info.transaction_status.name  # type: ignore[union-attr]
        assert in_transaction == ("IDLE" if autocommit else "INTRANS")


def drop(storage: Storage, pid: int) -> None:
    """Have the server end one backend, from a connection of its own."""
    with psycopg.connect(storage.engine.url.set(drivername="postgresql").render_as_string(False)) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_the_server_dropped_is_replaced(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_S", 0.0)
    dropped = backend(storage)
    drop(storage, dropped)
    assert backend(storage) != dropped  # pinged, found dead, and replaced before use


def test_a_connection_used_a_moment_ago_is_not_pinged(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_S", 3600.0)
    dropped = backend(storage)
    drop(storage, dropped)
    with pytest.raises(OperationalError):
        backend(storage)  # not pinged: the one transaction fails...
    assert backend(storage) != dropped  # ...and the pool is renewed for the next
