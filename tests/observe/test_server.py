"""``/healthz`` and ``/metrics`` over a real loopback socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from monitor.observe.metrics import Metrics
from monitor.observe.server import StatusServer


def fine() -> None:
    pass


def broken() -> None:
    raise OSError("database is down")


@pytest.fixture
def serve() -> Iterator[Callable[..., StatusServer]]:
    started: list[StatusServer] = []

    def start(running: bool = True, database: Callable[[], None] = fine, listen: str = "127.0.0.1:0") -> StatusServer:
        metrics = Metrics()
        metrics.record_matches(["NATO"])
        server = StatusServer(listen, metrics, lambda: running, database)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.parametrize(
    ("running", "database", "code", "body"),
    [
        (True, fine, 200, {"status": "ok", "scheduler": "running", "database": "ok"}),
        (False, fine, 503, {"status": "error", "scheduler": "stopped", "database": "ok"}),
        (True, broken, 503, {"status": "error", "scheduler": "running", "database": "error"}),
        (False, broken, 503, {"status": "error", "scheduler": "stopped", "database": "error"}),
    ],
)
def test_healthz(
    serve: Callable[..., StatusServer],
    running: bool,
    database: Callable[[], None],
    code: int,
    body: dict[str, str],
) -> None:
    server = serve(running, database)
    answer = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    assert answer.status_code == code
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.content) == body


def test_metrics_and_unknown_path(serve: Callable[..., StatusServer]) -> None:
    server = serve()
    answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert 'monitor_rule_matches_total{rule="NATO"} 1.0' in answer.text
    assert httpx.get(f"http://127.0.0.1:{server.port}/nope").status_code == 404


def test_daemon_exits_1_when_the_address_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///monitor.db"\n[seeds]\nenabled = false\n'
            f'[server]\nlisten = "127.0.0.1:{port}"\n'
        )
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"server: cannot listen on 127.0.0.1:{port}" in result.stderr
