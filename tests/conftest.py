"""Shared fixtures: paths to fixture files and loopback HTTP servers started by the tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


@dataclass
class Received:
    """One request a loopback receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

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
                server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            answer = server.routes.get(route)
            status, headers, payload = answer(self) if answer else (404, {}, b"not found")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """Start an HTTP server on 127.0.0.1 for the test; stop it afterwards."""
    server = LoopbackServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(server))
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
