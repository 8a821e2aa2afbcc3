"""The working copy: files a run leaves beside the settings are ignored by git."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(
    "name",
    ["monitor.db", "monitor.db-wal", "monitor.db-shm", "monitor.db.lock", "monitor/matching/text.cpython-311.so"],
)
def test_what_a_run_leaves_behind_is_ignored(name: str) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git working copy")
    found = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT, timeout=30)
    assert found.returncode == 0, f"{name} is not ignored by .gitignore"
