"""A real Matrix homeserver for the tests: the Synapse that ``.ci/synapse start`` runs, and a client for its API.

The tests that need it are skipped, saying why, unless ``MONITOR_TEST_MATRIX_URL``, ``MONITOR_TEST_MATRIX_ROOM``
and ``MONITOR_TEST_MATRIX_TOKEN`` are set (``eval "$(.ci/synapse start DIR)"`` sets them). ``Relay`` stands
between the daemon and the homeserver on 127.0.0.1 and can hold back the homeserver's answer to a send, so that
a test kills the daemon after the homeserver took a message and before the daemon learned it, or answer a send
as a rate-limited homeserver does.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

VARIABLES = ("MONITOR_TEST_MATRIX_URL", "MONITOR_TEST_MATRIX_ROOM", "MONITOR_TEST_MATRIX_TOKEN")
# https://spec.matrix.org/v1.11/client-server-api/#rate-limiting
LIMITED = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 900_000}
API = "/_matrix/client/v3"


@dataclass
class Homeserver:
    """The test homeserver: its address, the room made for the tests, and the access token of its user."""

    url: str
    room: str
    token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Return the JSON answer of one client API request as the test user; fail on an error status."""
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = httpx.request(method, f"{self.url}{API}{path}", json=body, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def new_room(self, alias: str | None = None) -> str:
        """Return the id of a new room of the test user's (with a local alias, if given)."""
        body: dict[str, Any] = {"preset": "private_chat", "name": f"monitor test {uuid.uuid4().hex[:6]}"}
        if alias:
            body["room_alias_name"] = alias
        return str(self.call("POST", "/createRoom", body)["room_id"])

    def messages(self, room: str) -> list[dict[str, Any]]:
        """Return the room's ``m.room.message`` events, newest first (the last 1,000)."""
        chunk = self.call("GET", f"/rooms/{quote(room, safe='')}/messages?dir=b&limit=1000")["chunk"]
        return [event for event in chunk if event["type"] == "m.room.message"]


@pytest.fixture
def homeserver() -> Homeserver:
    """Return the test homeserver, or skip the test when none is configured."""
    missing = [name for name in VARIABLES if not os.environ.get(name)]
    if missing:
        pytest.skip(f'{", ".join(missing)} not set: run `eval "$(.ci/synapse start DIR)"` for a local Synapse')
    url, room, token = (os.environ[name] for name in VARIABLES)
    return Homeserver(url.rstrip("/"), room, token)


@dataclass
class Relay:
    """An HTTP relay on 127.0.0.1 to a homeserver that can hold back its answer to the first message sent."""

    upstream: str
    hold_first_send: bool = False
    limit_first_send: bool = False  # answer it as a rate-limited homeserver does, without passing it on
    sends: list[tuple[str, int, bytes]] = field(default_factory=list)  # path, status, answer
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """Make the request of the homeserver; return its status, body and content type."""
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read(), answer.getheader("Content-Type", "application/json")
        finally:
            connection.close()


@pytest.fixture
def relay(homeserver: Homeserver) -> Iterator[Relay]:
    """Start a relay to the test homeserver on 127.0.0.1; stop it afterwards."""
    state = Relay(homeserver.url)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            keep = ("authorization", "content-type")
            headers = {k: v for k, v in self.headers.items() if k.lower() in keep}
            sending = self.command == "PUT" and "/send/m.room.message/" in self.path
            with lock:
                first = sending and not state.sends
            if first and state.limit_first_send:
                status, answer, kind = 429, json.dumps(LIMITED).encode(), "application/json"
            else:
                status, answer, kind = state.forward(self.command, self.path, headers, body)
            if sending:
                with lock:
                    state.sends.append((self.path, status, answer))
                if first and state.hold_first_send:
                    # The homeserver has the message; its sender never hears so (the test kills it meanwhile).
                    state.held.set()
                    state.release.wait(60)
                    self.close_connection = True
                    return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_PUT = do_POST = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client killed mid-request is what the test is about

    server = Quiet(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
