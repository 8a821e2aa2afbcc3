"""The daemon's HTTP endpoints on ``[server] listen``: ``GET /healthz`` and ``GET /metrics``.

``/healthz`` answers 200 ``{"status": "ok", "scheduler": "running", "database": "ok"}`` when the scheduler runs
and the database answers, else 503 with the part that failed (``"scheduler": "stopped"``, ``"database": "error"``).
``/metrics`` is the Prometheus text exposition of the daemon's own registry (see ``monitor.observe.metrics``).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.observe.metrics import Metrics
from monitor.settings.values import split_listen

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class StatusServer:
    """Serve /healthz and /metrics in a daemon thread until ``stop``."""

    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        scheduler_running: Callable[[], bool],
        database_check: Callable[[], None],
    ) -> None:
        host, port = split_listen(listen)
        handler = _handler(metrics, scheduler_running, database_check)
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


def health(scheduler_running: Callable[[], bool], database_check: Callable[[], None]) -> tuple[int, dict[str, str]]:
    """Return the status code and JSON body of /healthz."""
    scheduler = "running" if scheduler_running() else "stopped"
    try:
        database_check()
        database = "ok"
    except Exception as exc:  # any failure to answer is the database being unhealthy
        log.warning("health check: the database does not answer: %s", type(exc).__name__)
        database = "error"
    ok = scheduler == "running" and database == "ok"
    return (200 if ok else 503), {"status": "ok" if ok else "error", "scheduler": scheduler, "database": database}


def _handler(
    metrics: Metrics, scheduler_running: Callable[[], bool], database_check: Callable[[], None]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
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
