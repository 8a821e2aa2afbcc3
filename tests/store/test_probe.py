"""The write probe behind ``/healthz``: a database that can, cannot or must wait to take a write, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from monitor.errors import StorageError
from monitor.store.probe import MIN_FREE_BYTES, can_write
from monitor.store.storage import Storage
from tests.db import execute, read_only, rows, write_lock_held


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "monitor.db"
    Storage.open(f"sqlite:///{path}").close()
    yield path


def missing(path: Path) -> AbstractContextManager[None]:
    path.rename(path.with_suffix(".gone"))
    return nullcontext()


@pytest.mark.parametrize(
    ("situation", "min_free", "answer"),
    [
        (lambda path: nullcontext(), MIN_FREE_BYTES, "ok"),
        (write_lock_held, MIN_FREE_BYTES, "busy"),
        (read_only, MIN_FREE_BYTES, "monitor.db is read-only"),
        (lambda path: nullcontext(), 1 << 62, "the disk is nearly full: "),
        (missing, MIN_FREE_BYTES, "the database file is missing"),
    ],
    ids=["writable", "locked-by-another-process", "read-only", "disk-full", "missing"],
)
def test_sqlite(
    sqlite_file: Path, situation: Callable[[Path], AbstractContextManager[None]], min_free: int, answer: str
) -> None:
    storage = Storage(f"sqlite:///{sqlite_file}")
    storage.engine.connect().close()  # the daemon's own connection, opened before things go wrong
    try:
        with situation(sqlite_file):
            try:
                outcome = can_write(storage.engine, min_free)
            except StorageError as exc:
                outcome = str(exc)
    finally:
        storage.close()
    assert outcome.startswith(answer)
    assert str(sqlite_file.parent) not in outcome


def test_storage_probes_for_a_write_and_leaves_nothing_behind(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    files = sorted(sqlite_file.parent.glob("monitor.db*"))
    before = {path.name: path.read_bytes() for path in files if not path.name.endswith("-shm")}
    storage = Storage(url)
    try:
        assert [storage.probe() for _ in range(3)] == ["ok"] * 3
    finally:
        storage.close()
    assert rows(url, "SELECT name FROM sqlite_master WHERE name = 'monitor_write_probe'") == []
    assert {name: (sqlite_file.parent / name).read_bytes() for name in before} == before


def test_postgres(postgres_url: str) -> None:
    storage = Storage.open(postgres_url)
    try:
        assert storage.probe() == "ok"
    finally:
        storage.close()
    name = make_url(postgres_url).database
    execute(postgres_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    storage = Storage(postgres_url)  # connections made from now on are read-only
    try:
        with pytest.raises(StorageError, match="read-only: transactions are read-only by default"):
            storage.probe()
    finally:
        storage.close()
