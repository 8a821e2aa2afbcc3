"""The settings file's watcher: it wakes for the file saved in place or renamed into place, and for nothing else
written in its folder (the SQLite files, a log, the seeds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import watchfiles

from monitor import scheduler
from tests.test_reload import BASE, NEW_RULE, write


@pytest.mark.parametrize(
    ("name", "seen"),
    [
        ("settings.toml", True),
        ("monitor.db", False),
        ("monitor.db-wal", False),
        ("monitor.db-journal", False),
        ("stderr.log", False),
        ("settings.toml.swp", False),
        (".settings.toml.tmp", False),
        ("settings.toml~", False),
        ("seeds/a.txt", False),
    ],
)
def test_the_watcher_lets_through_the_settings_file_alone(tmp_path: Path, name: str, seen: bool) -> None:
    allow = scheduler.settings_filter(tmp_path / "settings.toml")
    for change in watchfiles.Change:
        assert allow(change, str(tmp_path / name)) is seen


def test_the_watcher_follows_a_settings_file_that_is_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = write(tmp_path / "real" / "settings.toml", BASE)
    (tmp_path / "settings.toml").symlink_to(target)
    allow = scheduler.settings_filter(tmp_path / "settings.toml")
    assert allow(watchfiles.Change.modified, str(target))  # the file edited in place
    assert allow(watchfiles.Change.added, str(tmp_path / "settings.toml"))  # the link replaced
    assert not allow(watchfiles.Change.added, str(tmp_path / "real" / "monitor.db"))


def save_in_place(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write(text)


def save_by_rename(path: Path, text: str) -> None:
    write(path, text)


class Watched:
    """The settings file's watcher, running on a folder the test writes in; ``calls`` counts its wake-ups."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.calls = 0
        self.stop = threading.Event()
        scheduler._watch(config, self._changed, self.stop)

    def _changed(self) -> None:
        self.calls += 1

    def armed(self) -> None:
        """Return once the watcher sees changes: touch the file until it does, then let its events settle."""
        deadline = time.monotonic() + 20
        while self.calls == 0:
            assert time.monotonic() < deadline, "the watcher never saw the settings file change"
            self.config.touch()
            time.sleep(0.2)
        time.sleep(1)
        self.calls = 0


@pytest.mark.integration
@pytest.mark.parametrize("save", [save_in_place, save_by_rename])
def test_the_watcher_sees_the_settings_file_saved_and_nothing_written_beside_it(
    tmp_path: Path, save: Callable[[Path, str], None]
) -> None:
    config = write(tmp_path / "settings.toml", BASE)
    (tmp_path / "seeds").mkdir()
    watched = Watched(config)
    try:
        watched.armed()
        # A daemon's neighbours: its SQLite files, its log, the seeds; each written apart, as they are in life.
        for index in range(5):
            for name in ("monitor.db", "monitor.db-wal", "stderr.log", "seeds/a.txt", "settings.toml.tmp"):
                with (tmp_path / name).open("a", encoding="utf-8") as file:
                    file.write(f"line {index}\n")
            time.sleep(0.1)
        (tmp_path / "settings.toml.tmp").unlink()
        save(config, BASE + NEW_RULE)
        deadline = time.monotonic() + 20
        while watched.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # any wake-up still to come from the writes beside it
    finally:
        watched.stop.set()
    assert watched.calls == 1
