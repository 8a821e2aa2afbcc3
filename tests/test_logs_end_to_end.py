"""The daemon's log as an operator reads it: a few lines a minute when nothing happens, and whole lines beside a
progress bar on a terminal.

The sample daemon is the repository's own ``settings.toml`` (SQLite beside it, the shipped seeds), its feeds
served on 127.0.0.1 with ETags, so that polls after the first are answered 304.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import COMMAND, environment, monitor, start, stop
from tests.terminal import screen, terminal
from tests.test_observability_end_to_end import free_port, healthz

pytestmark = pytest.mark.integration
WINDOW_SECONDS = 12.0
MAX_LINES = 15  # the goal is 30 lines in 40 s
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


def conditional(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    """Answer the fixture feed with an ETag, and 304 to a request that has it."""
    if _handler.headers.get("If-None-Match") == '"v1"':
        return 304, {"ETag": '"v1"'}, b""
    return 200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, (FIXTURES / "feeds" / "rss2.xml").read_bytes()


def sample(folder: Path, server: LoopbackServer, interval: str | None = None) -> Path:
    """Copy the repository's settings and seeds into folder, its feeds pointed at the loopback server."""
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    feeds = re.findall(r'^url = "(https://[^"]+)"$', text, flags=re.MULTILINE)
    assert len(feeds) >= 3, "the sample settings changed: this test follows its feeds"
    for index, url in enumerate(feeds):
        path = f"/feed{index}.xml"
        server.routes[path] = conditional
        text = text.replace(f'url = "{url}"', f'url = "{server.url(path)}"')
    if interval is not None:  # a sample whose feeds are polled often, to see what quiet polls log
        text = text.replace("[scheduler]\n", "[scheduler]\nallow_fast_polling = true\n")
        text = re.sub(r'^(poll_interval|interval) = "\w+"', rf'\1 = "{interval}"', text, flags=re.MULTILINE)
    shutil.copytree(ROOT / "seeds", folder / "seeds")
    config = folder / "settings.toml"
    config.write_text(text, encoding="utf-8")
    return config


@pytest.mark.parametrize("interval", [None, "1s"])
def test_the_sample_daemon_logs_a_few_lines_when_nothing_happens(
    tmp_path: Path, loopback: LoopbackServer, interval: str | None
) -> None:
    config = sample(tmp_path, loopback, interval)
    port = free_port()
    log = tmp_path / "stderr.log"  # beside settings.toml and monitor.db, as users do
    with log.open("w", encoding="utf-8") as stderr:
        daemon = start(config, {"MONITOR_LISTEN": f"127.0.0.1:{port}"}, stderr=stderr)
        try:
            started = time.monotonic()
            assert healthz(f"http://127.0.0.1:{port}", started + 30).status_code == 200
            for _ in range(2):
                status = monitor("--config", str(config), "status", cwd=tmp_path)
                assert status.returncode == 0, status.stderr
                assert "lemonde-international" in status.stdout
                time.sleep(WINDOW_SECONDS / 4)
            polled = loopback.hits.get("/feed0.xml", 0)
            time.sleep(max(0.0, started + WINDOW_SECONDS - time.monotonic()))
        finally:
            stop(daemon)
    assert daemon.returncode == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    assert all(TIMESTAMP.match(line) for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "watchfiles" not in text and "change detected" not in text
    assert "not modified" not in text
    assert " matched " not in text  # the sample has no webhook: its alerts are printed, not logged as well
    assert "seed 'seeds/otan-defense-ministers-2022-06.txt': ingested, 2 alerts" in text, text
    if interval is not None:
        assert polled >= 3  # quiet polls happened, and logged nothing


def test_run_once_on_a_terminal_prints_log_lines_above_the_bar(tmp_path: Path, loopback: LoopbackServer) -> None:
    config = sample(tmp_path, loopback)
    with terminal() as term:
        done = subprocess.run(
            [*COMMAND, "--config", str(config), "run", "--once"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,  # alerts piped to a file or a program: they go there, not on the terminal
            stderr=term.slave_fd,
            text=True,
            env=environment(),
            cwd=tmp_path,
            timeout=120,
        )
        raw = term.close()
    assert done.returncode == 0
    assert "━" in raw  # the bar was drawn (and erased when done)
    shown = screen(raw)
    assert all(TIMESTAMP.match(line) for line in shown), "\n".join(shown)
    feeds = [line for line in shown if re.search(r"feed '[\w-]+': 3 entries, \d+ alerts$", line)]
    assert len(feeds) == 4
    assert "cycle done: 0 sent, 0 to retry, 0 given up" in shown[-1]
    alerts = done.stdout.splitlines()
    assert alerts and all(line.startswith("ALERT [") for line in alerts)
    assert "ALERT" not in raw


def test_run_once_piped_prints_no_bar(tmp_path: Path, loopback: LoopbackServer) -> None:
    config = sample(tmp_path, loopback)
    done = monitor("--config", str(config), "run", "--once", cwd=tmp_path)
    assert done.returncode == 0
    assert "━" not in done.stderr and "\x1b" not in done.stderr
    assert all(TIMESTAMP.match(line) for line in done.stderr.splitlines()), done.stderr
    alerts = done.stdout.splitlines()
    assert alerts and all(line.startswith("ALERT [") for line in alerts)
