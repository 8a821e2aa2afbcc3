"""Shared fixtures: paths to fixture files and loopback HTTP servers started by the tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Imported here, not first by its pytest plugin at the session's end: there, trio's entry point warns that its
# random generator may be collected, which the warning filter makes an error.
import hypothesis  # noqa: F401
import pytest

from tests.matrix import homeserver, relay  # noqa: F401  (fixtures: the test Matrix homeserver, a relay to it)

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test compiled matcher modules older than their sources: the tests would not test the code."""
    from monitor.matching import native

    stale = native.stale()
    if stale:
        names = ", ".join(f"monitor/matching/{name}.py" for name in stale)
        raise pytest.UsageError(
            f"{names} changed after the matcher was compiled: run `pip install -e .` again to rebuild it "
            "(or `MONITOR_PURE_PYTHON=1 pip install -e .` to run it as pure Python)"
        )


def pure_python_sources(folder: Path) -> Path:
    """Copy the package's sources without compiled modules into ``folder``; return it, for ``PYTHONPATH``.

    That is what a build whose compile failed installs: the matcher as pure Python.
    """
    shutil.copytree(ROOT / "monitor", folder / "monitor", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return folder


@dataclass
class Received:
    """One request a loopback receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when the request arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 whose answers the test scripts."""

    routes: dict[str, Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]] = field(
        default_factory=dict
    )
    received: list[Received] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve_file(self, path: str, file: Path, content_type: str = "application/rss+xml") -> None:
        def answer(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            return 200, {"Content-Type": content_type}, file.read_bytes()

        self.routes[path] = answer

    def received_on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path.split("?")[0] == path]


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            route = self.path.split("?")[0]
            with lock:
                server.hits[route] = server.hits.get(route, 0) + 1
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.received.append(Received(self.path, headers, body, time.monotonic()))
            answer = server.routes.get(route)
            status, headers, payload = answer(self) if answer else (404, {}, b"not found")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A test server that does not print the clients it lost (a client timing out is what some tests want)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """Start an HTTP server on 127.0.0.1 for the test; stop it afterwards."""
    server = LoopbackServer()
    httpd = _QuietServer(("127.0.0.1", 0), _handler_for(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def seed_text() -> str:
    """Return the shipped French seed article."""
    return (ROOT / "seeds" / "otan-defense-ministers-2022-06.txt").read_text(encoding="utf-8")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Create a PostgreSQL database for one test on the server of ``MONITOR_TEST_DATABASE_URL``; drop it after.

    Without that variable the test is skipped: a machine without PostgreSQL still runs the rest.
    """
    server = os.environ.get("MONITOR_TEST_DATABASE_URL")
    if not server:
        pytest.skip("MONITOR_TEST_DATABASE_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server)
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database: a SQLite file, then a PostgreSQL database made for the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield the URL of an empty PostgreSQL database made for the test."""
    with postgres_database() as url:
        yield url


def starred(snippet: str, highlights: Sequence[Sequence[int]]) -> str:
    """Return a snippet with each highlighted match between ``**``, as a person reads a marked snippet."""
    pieces, cursor = [], 0
    for start, end in highlights:
        pieces += [snippet[cursor:start], "**", snippet[start:end], "**"]
        cursor = end
    pieces.append(snippet[cursor:])
    return "".join(pieces)
