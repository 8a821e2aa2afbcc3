from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from monitor.observe.memory import Trimmer


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are a glibc feature")
def test_glibc_agrees_to_one_arena_and_threads_still_allocate() -> None:
    code = (
        "import threading\n"
        "from monitor.observe.memory import limit_malloc_arenas\n"
        "assert limit_malloc_arenas() is True\n"
        "chunks = []\n"
        "def grow():\n"
        "    chunks.extend(bytearray(4096) for _ in range(1000))\n"
        "threads = [threading.Thread(target=grow) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(len(chunks))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "8000"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc feature")
def test_the_trimmer_trims_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    trimmer = Trimmer(every=3600)
    real = trimmer._trim
    assert real is not None and real(0) in (0, 1)  # the real malloc_trim answers
    monkeypatch.setattr(trimmer, "_trim", calls.append)
    for _ in range(5):
        trimmer()
    assert calls == [0]
