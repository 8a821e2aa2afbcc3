"""The daemon's HTTP server on ``[server] listen``: ``GET /healthz``, ``GET /metrics`` and the web pages.

It is a Starlette application served by uvicorn on an event loop in a daemon thread. ``/healthz`` answers 200
``{"status": "ok", "scheduler": "running", "database": "ok"}`` when the scheduler runs and the database can take a
write, else 503 with the part that failed (``"scheduler": "stopped"``, ``"database": "error"`` with the reason in
``"database_error"``). The database check is a write probe (``Storage.probe``) run in a thread of its own, one at a
time, and waited for ``PROBE_SECONDS`` at most: a probe that takes longer is an error, so ``/healthz`` always
answers within about that long. A SQLite write lock held by another connection is ``"database": "busy"`` with
200: the database is there and writable, and in use. ``/metrics`` is the Prometheus text exposition of the
daemon's own registry (see ``monitor.observe.metrics``); it answers 200 whatever the database does
(``monitor_database_up 0`` when it cannot be read). Both are always open: the web pages (``monitor.web``), mounted
beside them, decide who may read them.

Any other failure to answer is a 500 and an error logged through the logging set-up (JSON, redacted), never a
bare traceback. A client that sends nothing for ``CLIENT_SECONDS`` is disconnected (uvicorn alone would let a
connection that never sends a request stay open).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from monitor.errors import StorageError
from monitor.observe.metrics import Metrics
from monitor.observe.timed import TimedCheck
from monitor.settings.values import split_listen

__all__ = ["PROBE_SECONDS", "StatusServer", "TimedCheck", "health"]

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.5
CLIENT_SECONDS = 10.0  # a client that sends nothing for this long is let go
STOP_SECONDS = 5.0  # requests still being answered when the daemon stops get this long to finish
_TEXT = "text/plain; charset=utf-8"
_FAILED = b"internal error: see the daemon's log\n"


class _Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, which also lets go of a client that opens a connection and sends nothing."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # An answer is written in pieces (head, body): without this, each later piece waits for the client's
            # delayed acknowledgement of the first, some 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._wait_for_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is None or self.cycle.response_complete:
            self._wait_for_request()  # still no whole request: the client gets the same time again

    def _wait_for_request(self) -> None:
        if self.transport.is_closing():
            return
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)


class _Server(uvicorn.Server):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed request through the logging set-up (JSON, redacted), never as a bare traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("server: the client went away", exc_info=True)
        else:
            log.error("server: cannot answer a request", exc_info=True)


class StatusServer:
    """Serve /healthz, /metrics and the ``pages`` (when given) in a daemon thread until ``stop``."""

    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        scheduler_running: Callable[[], bool],
        database_check: Callable[[], str],
        client_seconds: float = CLIENT_SECONDS,
        pages: ASGIApp | None = None,
    ) -> None:
        host, port = split_listen(listen)
        self._socket = _bound(host, port)
        app = _application(metrics, scheduler_running, TimedCheck(database_check, PROBE_SECONDS), pages)
        config = uvicorn.Config(
            _Outermost(app, self),
            loop="asyncio",
            http=_Protocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=client_seconds,  # type: ignore[arg-type]  # uvicorn annotates an int; a float works
            timeout_graceful_shutdown=round(STOP_SECONDS),
        )
        self.httpd = _Server(config)
        self.pages = pages is not None
        self._thread = threading.Thread(target=self._serve, name="http-server", daemon=True)

    @property
    def port(self) -> int:
        """Return the port listened on (useful when 0 was asked)."""
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()
        what = "the web pages, /healthz and /metrics" if self.pages else "/healthz and /metrics"
        log.info("serving %s on port %d", what, self.port)

    def stop(self) -> None:
        """Stop serving (requests under way get ``STOP_SECONDS`` to finish) and close the socket."""
        self.httpd.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_SECONDS + 5)
        self._socket.close()

    def _serve(self) -> None:
        self.httpd.run(sockets=[self._socket])


def _bound(host: str, port: int) -> socket.socket:
    """Return a listening socket on host and port; raise OSError when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def health(scheduler_running: Callable[[], bool], database_check: Callable[[], str]) -> tuple[int, dict[str, str]]:
    """Return the status code and JSON body of /healthz."""
    scheduler = "running" if scheduler_running() else "stopped"
    body = {"status": "ok", "scheduler": scheduler, "database": "ok"}
    try:
        body["database"] = database_check()
    except Exception as exc:  # any failure is the database being unhealthy; ours say why, others by their type
        reason = str(exc) if isinstance(exc, StorageError) else type(exc).__name__
        log.warning("health check: the database cannot take a write: %s", reason)
        body.update(database="error", database_error=reason)
    ok = scheduler == "running" and body["database"] in ("ok", "busy")
    body["status"] = "ok" if ok else "error"
    return (200 if ok else 503), body


def _reply(code: int, content_type: str, body: bytes) -> Response:
    return Response(body, status_code=code, headers={"content-type": content_type})


def _application(
    metrics: Metrics,
    scheduler_running: Callable[[], bool],
    database_check: Callable[[], str],
    pages: ASGIApp | None,
) -> Starlette:
    """Return the application: the two endpoints, then the pages (or a 404 naming the endpoints)."""

    def healthz(request: Request) -> Response:
        code, body = health(scheduler_running, database_check)
        return _reply(code, "application/json", json.dumps(body).encode())

    def exposition(request: Request) -> Response:
        return _reply(200, CONTENT_TYPE_LATEST, metrics.exposition())

    def not_found(request: Request) -> Response:
        return _reply(404, _TEXT, b"not found: try /healthz or /metrics\n")

    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/metrics", exposition)]
    routes.append(Mount("", app=pages) if pages is not None else Route("/{path:path}", not_found))
    return Starlette(routes=routes, middleware=[Middleware(_Guard)])


class _Guard:
    """Answer 500 for a request whose handler failed, and log why (redacted) instead of a bare traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ConnectionError:
            log.debug("server: the client went away", exc_info=True)
        except Exception:
            log.error("server: cannot answer %s", scope.get("path", "?"), exc_info=True)
            if not started:
                await _reply(500, _TEXT, _FAILED)(scope, receive, send)


class _Outermost:
    """Hand what escapes the application (outside any route) to the server's ``handle_error``."""

    def __init__(self, app: ASGIApp, server: StatusServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            self.server.httpd.handle_error(scope, scope.get("client"))
