"""``monitor`` as a subprocess, the way users run it: one command to completion, or the daemon started and stopped.

The subprocess gets the test's environment without any ``MONITOR_*`` variable, so its settings file alone (written
by the test) decides which database it uses. ``stop`` always leaves the process gone, so a test's PostgreSQL
database is never dropped under a daemon that still holds connections to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

COMMAND = [sys.executable, "-m", "monitor"]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without ``MONITOR_*`` variables, plus ``extra``."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}
    environ.update(extra or {})
    return environ


def monitor(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``monitor ARGS`` to completion; return its exit code and output."""
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, env=environment(env), cwd=cwd, timeout=timeout
    )


def start(
    config: Path,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """Start ``monitor --config CONFIG run`` (the daemon); return the running process."""
    return subprocess.Popen(
        [*COMMAND, "--config", str(config), "run"], stdout=stdout, stderr=stderr, text=True, env=environment(env)
    )


def stop(process: subprocess.Popen[str], timeout: float = 30, signalled: bool = False) -> str:
    """Stop the daemon with SIGTERM and return its stderr; kill it, then fail, if it does not stop in time.

    ``signalled`` says SIGTERM was already sent: a second one, arriving once the daemon has put the default handlers
    back on its way out, would kill it.
    """
    if not signalled and process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(f"the daemon did not stop within {timeout:g} s after SIGTERM: {stderr}") from None
    return stderr or ""


def kill(process: subprocess.Popen[str]) -> None:
    """Kill the daemon with SIGKILL (no chance to clean up) and wait until it is gone."""
    process.kill()
    process.communicate(timeout=10)


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Return whether ``condition`` became true within ``seconds``, checking it every 50 ms."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def peak_rss_mb(pid: int) -> float:
    """Return the peak resident memory of a process and of its living descendants, added up, in MB (Linux).

    Each process's own peak (``VmHWM``) counts, whenever it was reached: the sum is at least the tree's peak.
    """
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # gone meanwhile
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return total_kb / 1024


class Daemon:
    """``monitor run`` as a subprocess, its log lines collected as they come."""

    def __init__(self, config: Path, env: Mapping[str, str] | None = None) -> None:
        self.process = start(config, env)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def kill(self) -> None:
        """Kill the daemon with SIGKILL (no chance to clean up) and wait until it is gone."""
        self.process.kill()
        self.process.wait(timeout=10)
        self.reader.join(timeout=5)  # its workers end too, closing the pipe
        if self.process.stderr is not None and not self.reader.is_alive():
            self.process.stderr.close()

    def stop(self, timeout: float = 30) -> None:
        """Stop the daemon with SIGTERM; kill it, then fail, if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"the daemon did not stop within {timeout:g} s after SIGTERM: {self.log()}") from None
        finally:
            self.reader.join(timeout=5)
            if self.process.stderr is not None:
                self.process.stderr.close()
