"""The daemon's HTTP endpoints on ``[server] listen``: ``GET /healthz`` and ``GET /metrics``.

``/healthz`` answers 200 ``{"status": "ok", "scheduler": "running", "database": "ok"}`` when the scheduler runs
and the database can take a write, else 503 with the part that failed (``"scheduler": "stopped"``,
``"database": "error"`` with the reason in ``"database_error"``). The database check is a write probe
(``Storage.probe``) run in a thread of its own, one at a time, and waited for ``PROBE_SECONDS`` at most: a probe
that takes longer is an error, so ``/healthz`` always answers within about that long. A SQLite write lock held
by another connection is ``"database": "busy"`` with 200: the database is there and writable, and in use.
``/metrics`` is the Prometheus text exposition of the daemon's own registry (see ``monitor.observe.metrics``); it
answers 200 whatever the database does (``monitor_database_up 0`` when it cannot be read). Any other failure to
answer is a 500 and an error logged through the logging set-up (JSON, redacted), never a bare traceback. A client
that sends nothing for ``CLIENT_SECONDS`` is disconnected, so that idle connections do not pile up threads.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import StorageError
from monitor.observe.metrics import Metrics
from monitor.observe.timed import TimedCheck
from monitor.settings.values import split_listen

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.5
CLIENT_SECONDS = 10.0  # a client that sends nothing for this long is let go: it holds a thread meanwhile


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed request through the logging set-up (JSON, redacted), never as a bare traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("server: the client went away", exc_info=True)
        else:
            log.error("server: cannot answer a request", exc_info=True)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class StatusServer:
    """Serve /healthz and /metrics in a daemon thread until ``stop``."""

    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        scheduler_running: Callable[[], bool],
        database_check: Callable[[], str],
        client_seconds: float = CLIENT_SECONDS,
    ) -> None:
        host, port = split_listen(listen)
        handler = _handler(metrics, scheduler_running, TimedCheck(database_check, PROBE_SECONDS))
        handler.timeout = client_seconds
        server_class = _IPv6Server if ":" in host else _Server
        self.httpd = server_class((host, port), handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="status-server", daemon=True)

    @property
    def port(self) -> int:
        """Return the port listened on (useful when 0 was asked)."""
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()
        log.info("serving /healthz and /metrics on port %d", self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


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


def _handler(
    metrics: Metrics, scheduler_running: Callable[[], bool], database_check: Callable[[], str]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                self._answer(path)
            except ConnectionError:
                raise  # the client went away: nothing to answer
            except Exception:
                log.error("server: cannot answer %s", path, exc_info=True)
                self._reply(500, "text/plain; charset=utf-8", b"internal error: see the daemon's log\n")

        def _answer(self, path: str) -> None:
            if path == "/healthz":
                code, body = health(scheduler_running, database_check)
                self._reply(code, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, metrics.exposition())
            else:
                self._reply(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
