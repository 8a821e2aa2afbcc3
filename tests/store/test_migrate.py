from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from monitor.errors import StorageError
from monitor.store import migrate
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage
from tests.daemon import monitor


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "head")
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert differences == []
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_the_newest_revision(database_url: str) -> None:
    storage = Storage.open(database_url)
    try:
        assert migrate.current(storage.engine) == migrate.head()
        assert set(SQLModel.metadata.tables) <= set(inspect(storage.engine).get_table_names())
    finally:
        storage.close()


def test_a_new_database_opened_by_several_at_once_is_created_once(database_url: str) -> None:
    together = threading.Barrier(4)

    def open_and_close() -> str | None:
        together.wait()
        storage = Storage.open(database_url)
        try:
            return migrate.current(storage.engine)
        finally:
            storage.close()

    with ThreadPoolExecutor(4) as pool:
        revisions = list(pool.map(lambda _n: open_and_close(), range(4)))
    assert revisions == [migrate.head()] * 4


def test_a_database_behind_the_code_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    SQLModel.metadata.create_all(engine)  # tables, but no revision: made by an older version
    engine.dispose()
    with pytest.raises(StorageError, match="run `monitor db upgrade` first"):
        Storage.open(database_url)


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return monitor("--config", str(config), *args)


def settings(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[seeds]\nenabled = false\n', encoding="utf-8")
    return config


def test_db_commands(tmp_path: Path, database_url: str) -> None:
    config = settings(tmp_path, database_url)
    created = run(config, "db", "upgrade")
    assert created.returncode == 0 and f"schema upgraded from nothing to {migrate.head()}" in created.stdout
    again = run(config, "db", "upgrade")
    assert again.returncode == 0 and "schema up to date" in again.stdout
    assert "(up to date)" in run(config, "db", "current").stdout


def test_a_daemon_refuses_a_schema_behind(tmp_path: Path, database_url: str) -> None:
    behind = settings(tmp_path, database_url)
    engine = create_engine(database_url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    assert "behind: run `monitor db upgrade`" in run(behind, "db", "current").stdout
    refused = run(behind, "run", "--once")
    assert refused.returncode == 1
    assert "run `monitor db upgrade` first" in refused.stderr and "Traceback" not in refused.stderr


def test_a_first_release_database_is_upgraded_keeping_its_articles(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "0001")
            connection.execute(
                text(
                    "INSERT INTO articles (content_key, source, title, text, fetched_at, signature) "
                    "VALUES ('k', 'feed', 'Title', 'Text', '2026-11-25 10:00:00', '[1, 2, 3]')"
                )
            )
        assert migrate.current(engine) == "0001" != migrate.head()
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "head")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT title, signature FROM articles")).all()
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert [tuple(row) for row in rows] == [("Title", None)] and differences == []
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_the_head_the_daemon_checks_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(migrate._config()).get_current_head() == migrate.HEAD


def test_opening_a_database_leaves_alembic_unloaded_and_alembic_reads_its_stamp(tmp_path: Path) -> None:
    # Only `db upgrade` needs Alembic: the daemon creates and checks the schema without loading it.
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = (
        "import sys\nfrom monitor.store.storage import Storage\n"
        f"Storage.open({url!r}).close()\nStorage.open({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == migrate.HEAD
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "head")  # nothing to do, and no complaint
        assert migrate.current(engine) == migrate.HEAD
    finally:
        engine.dispose()


def test_alerts_recorded_before_highlights_are_read_from_their_marks(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "0003")
            statements = [
                "INSERT INTO articles (id, content_key, source, title, text, fetched_at) "
                "VALUES (1, 'k', 'feed', 'Le sommet', 'Le sommet de l''Otan.', '2026-11-25 10:00:00')",
                "INSERT INTO alerts (id, rule, query, article_id, matched, field, snippet, created_at) "
                "VALUES (1, 'r', 'q', 1, '[\"sommet\", \"Otan\"]', 'text', 'Le **sommet** de l''**Otan**.', "
                "'2026-11-25 10:00:00')",
                "INSERT INTO deliveries (uid, alert_id, webhook, status, attempts, next_attempt_at, created_at, "
                "queued_at) VALUES ('msg_1', 1, 'hook', 'pending', 0, '2026-11-25 10:00:00', '2026-11-25 10:00:00', "
                "'2026-11-25 10:00:00')",
            ]
            for statement in statements:
                connection.execute(text(statement))
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "head")
    finally:
        engine.dispose()
    storage = Storage.open(database_url)
    try:
        (due,) = Outbox(storage).claim(datetime(2026, 11, 25, 11, tzinfo=UTC), timedelta(minutes=1), 10)
    finally:
        storage.close()
    assert due.alert.snippet == "Le sommet de l'Otan."
    assert [due.alert.snippet[a:b] for a, b in due.alert.highlights] == ["sommet", "Otan"]
    assert due.alert.opening == "Le sommet de l'Otan."
