"""A feed server on 127.0.0.1 whose routes write their answer themselves: drips, endless bodies, gzip bombs."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

Route = Callable[[BaseHTTPRequestHandler], None]
MB = 1024 * 1024


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-answer are what these tests are about


@dataclass
class FeedServer:
    """A threaded HTTP server on 127.0.0.1; ``routes`` maps a path to the function that answers it."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == path)

    def __enter__(self) -> FeedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(path, reply(404, b"not found"))
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    """Answer with a status, headers and a whole body."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def serve_file(path: Path, content_type: str = "application/rss+xml", etag: str | None = None) -> Route:
    """Answer with a file; with ``etag``, answer 304 to a request that already has it."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if etag and handler.headers.get("If-None-Match") == etag:
            reply(304, headers={"ETag": etag})(handler)
            return
        headers = {"Content-Type": content_type, **({"ETag": etag} if etag else {})}
        reply(200, path.read_bytes(), headers)(handler)

    return answer


def redirect(location: str, status: int = 302) -> Route:
    """Answer with a redirect to ``location``."""
    return reply(status, b"", {"Location": location})


def endless(size: int, declare_length: bool = True) -> Route:
    """Answer 200 with ``size`` bytes of an RSS-looking body, sent 1 MB at a time until the client hangs up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        if declare_length:
            handler.send_header("Content-Length", str(size))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        chunk = b"<!-- padding -->" * (MB // 16)
        sent = 0
        while sent < size:
            handler.wfile.write(chunk[: size - sent])
            sent += len(chunk)

    return answer


@cache
def bomb_body(size: int) -> bytes:
    """Return ``size`` bytes of zeros, gzip-compressed (about a thousandth of the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    parts = [compressor.compress(zeros) for _ in range(size // MB)]
    return b"".join([*parts, compressor.flush()])


def gzip_bomb(size: int) -> Route:
    """Answer 200 with a gzip body that expands to ``size`` bytes."""
    return reply(200, bomb_body(size), {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})


def gzipped(body: bytes) -> Route:
    """Answer 200 with a gzip-encoded feed."""
    return reply(200, gzip.compress(body), {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})


def drip(in_headers: bool = False, every: float = 0.1, seconds: float = 30) -> Route:
    """Answer one byte at a time, ``every`` seconds: in the body, or already in the headers."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        stream = handler.wfile
        if in_headers:
            payload = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
        else:
            stream.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n")
            payload = b'<rss version="2.0"><channel>' + b" " * 100_000
        for byte in payload:
            if time.monotonic() - started > seconds:
                break
            stream.write(bytes([byte]))
            stream.flush()
            time.sleep(every)
        handler.close_connection = True

    return answer


@dataclass
class RawServer:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that records every byte each connection brings, as it comes.

    ``routes`` maps a path to a whole answer (status, headers, body); ``received[n]`` is what connection ``n`` sent,
    complete once ``ended[n]`` is set (the client hung up).
    """

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    received: list[bytearray] = field(default_factory=list)
    ended: list[threading.Event] = field(default_factory=list)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def requests(self) -> list[list[bytes]]:
        """Return the request lines each connection sent, in order."""
        return [[line for line in bytes(data).split(b"\r\n") if line.startswith(b"GET ")] for data in self.received]

    def __enter__(self) -> RawServer:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way, which close() alone does not
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            data, ended = bytearray(), threading.Event()
            self.received.append(data)
            self.ended.append(ended)
            threading.Thread(target=self._serve, args=(connection, data, ended), daemon=True).start()

    def _serve(self, connection: socket.socket, data: bytearray, ended: threading.Event) -> None:
        with connection:
            pending = b""
            while True:
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    ended.set()
                    return
                data += chunk
                pending += chunk
                while b"\r\n\r\n" in pending:
                    head, pending = pending.split(b"\r\n\r\n", 1)
                    path = head.split(b" ")[1].decode("ascii", "replace").split("?")[0]
                    status, headers, body = self.routes.get(path, (404, {}, b"not found"))
                    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
                    lines += [f"{key}: {value}" for key, value in headers.items()]
                    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
