"""bench/workbench.py runs at a small size: the word index is built and every query finds what the replay finds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench"


def test_the_bench_finds_through_the_index_what_the_replay_finds(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "workbench.py"), "--articles", "500", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("word index: 512 articles") for line in lines), result.stdout  # and 12 health alerts
    timed = [line for line in lines if line.endswith(("ok", "OVER")) or "stopped:" in line]
    assert len(timed) == 13, result.stdout
    assert lines[-1].strip() == "identical counts and listed matches with and without the index for every query"
