"""``/healthz`` and ``/metrics`` over a real loopback socket."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import OperationalError

from monitor.errors import StorageError
from monitor.observe.metrics import Metrics
from monitor.observe.server import StatusServer, TimedCheck


def fine() -> str:
    return "ok"


def busy() -> str:
    return "busy"


def broken() -> str:
    raise OSError("database is down at db.internal")


def read_only() -> str:
    raise StorageError("monitor.db is read-only")


def hanging() -> str:
    time.sleep(5)
    return "ok"


@pytest.fixture
def serve() -> Iterator[Callable[..., StatusServer]]:
    started: list[StatusServer] = []

    def start(running: bool = True, database: Callable[[], str] = fine, listen: str = "127.0.0.1:0") -> StatusServer:
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
        (True, busy, 200, {"status": "ok", "scheduler": "running", "database": "busy"}),
        (False, fine, 503, {"status": "error", "scheduler": "stopped", "database": "ok"}),
        (
            True,
            broken,
            503,
            {"status": "error", "scheduler": "running", "database": "error", "database_error": "OSError"},
        ),
        (
            False,
            read_only,
            503,
            {
                "status": "error",
                "scheduler": "stopped",
                "database": "error",
                "database_error": "monitor.db is read-only",
            },
        ),
        (
            True,
            hanging,
            503,
            {
                "status": "error",
                "scheduler": "running",
                "database": "error",
                "database_error": "no answer within 1.5 s",
            },
        ),
    ],
)
def test_healthz(
    serve: Callable[..., StatusServer],
    running: bool,
    database: Callable[[], str],
    code: int,
    body: dict[str, str],
) -> None:
    server = serve(running, database)
    answer = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=3)  # a probe that hangs is not waited for
    assert answer.status_code == code
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.content) == body


def test_a_slow_check_runs_once_however_many_ask() -> None:
    calls: list[int] = []
    release = threading.Event()

    def slow() -> str:
        calls.append(1)
        release.wait(10)
        return "ok"

    check = TimedCheck(slow, 0.05)
    for _ in range(3):
        with pytest.raises(StorageError, match=r"no answer within 0\.05 s"):
            check()
    assert len(calls) == 1  # the later requests waited on the check already under way
    release.set()
    check.seconds = 5
    assert check() == "ok"
    assert check() == "ok" and len(calls) == 2  # once done, the next request checks afresh


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


class Refusing:
    """A database that refuses every connection."""

    def counts(self) -> dict[str, int]:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def oldest_pending(self) -> None:
        return None

    def feed_health(self, feeds: object, since: object) -> list[object]:
        return []


def test_metrics_answer_while_the_database_refuses_connections(capfd: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics()
    metrics.watch(Refusing(), Refusing(), lambda: [("world", "u1")])
    server = StatusServer("127.0.0.1:0", metrics, lambda: True, broken)
    server.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        health = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 200
    assert "monitor_database_up 0.0" in answer.text
    assert "monitor_build_info{" in answer.text
    assert health.status_code == 503
    assert "Traceback" not in capfd.readouterr().err


class Broken(Collector):
    def collect(self) -> Iterator[Metric]:
        raise ValueError("a collector bug")


def test_an_answer_that_fails_is_a_500_and_a_log_record_not_a_bare_traceback(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    metrics = Metrics()
    metrics.registry.register(Broken())
    server = StatusServer("127.0.0.1:0", metrics, lambda: True, fine)
    server.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        healthz = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        try:
            raise ValueError("outside any route")
        except ValueError:
            server.httpd.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.stop()
    assert (answer.status_code, answer.text) == (500, "internal error: see the daemon's log\n")
    assert healthz.status_code == 200  # the server goes on answering
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["server: cannot answer /metrics", "server: cannot answer a request"]
    assert errors[0].exc_info is not None and "a collector bug" in str(errors[0].exc_info[1])
    assert capfd.readouterr().err == ""


def test_a_client_that_sends_nothing_is_let_go_and_others_are_answered() -> None:
    server = StatusServer("127.0.0.1:0", Metrics(), lambda: True, fine, client_seconds=0.2)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
            answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
            assert idle.recv(1024) == b""  # closed by the server, not by this test's own timeout
    finally:
        server.stop()
    assert answer.status_code == 200
