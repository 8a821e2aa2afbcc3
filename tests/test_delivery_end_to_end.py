"""Delivery through real sockets: receivers on 127.0.0.1 that fail, limit, refuse or hang, and a daemon that is
killed with SIGKILL while deliveries are in flight."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import kill, monitor, start, stop, wait_for
from tests.db import rows, scalar

pytestmark = pytest.mark.integration
Answer = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]
ALERTS = 4


def write_seeds(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        text = f"date 2026-11-0{n % 9 + 1}\nLe sommet de l'Otan numéro {n} s'ouvre à Vilnius, dossier {n * 7919}."
        (folder / f"article-{n:03d}.md").write_text(text, encoding="utf-8")


def settings_file(tmp_path: Path, database: str, webhooks: dict[str, tuple[str, str]], timeout: str = "2s") -> Path:
    hooks = "".join(f'[webhooks.{name}]\nurl = "{url}"\nformat = "{fmt}"\n\n' for name, (url, fmt) in webhooks.items())
    text = f"""
[database]
url = "{database}"

[scheduler]
delivery_interval = "1s"

[seeds]
path = "seeds"
interval = "1h"

[delivery]
retry_delays = ["1s"]
timeout = "{timeout}"

{hooks}
[[rules]]
name = "NATO summit"
query = '"sommet de l’Otan"'
"""
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scripted(*answers: tuple[int, dict[str, str]], then: int = 200, failed: list[str] | None = None) -> Answer:
    """Answer with the given statuses in turn, then always ``then``; note in ``failed`` the ids answered 5xx/429."""
    lock = threading.Lock()
    queue = list(answers)

    def answer(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        with lock:
            status, headers = queue.pop(0) if queue else (then, {})
            if failed is not None and (status >= 500 or status == 429):
                failed.append(handler.headers["webhook-id"])
        return status, headers, b"{}" if status < 300 else b"try again"

    return answer


def accepted_ids(server: LoopbackServer, path: str, statuses: list[int] | None = None) -> list[str]:
    return [r.headers["webhook-id"] for r in server.received_on(path)]


def test_every_alert_arrives_once_at_every_webhook(tmp_path: Path, loopback: LoopbackServer, database_url: str) -> None:
    write_seeds(tmp_path / "seeds", ALERTS)
    release = threading.Event()

    def hang(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        release.wait(20)
        return 200, {}, b"late"

    loopback.routes["/ok"] = scripted()
    failed: dict[str, list[str]] = {"flaky": [], "limited": []}
    loopback.routes["/flaky"] = scripted((500, {}), (500, {}), failed=failed["flaky"])
    loopback.routes["/limited"] = scripted((429, {"Retry-After": "2"}), failed=failed["limited"])
    loopback.routes["/gone"] = scripted(then=404)
    loopback.routes["/teams"] = scripted(then=202)
    loopback.routes["/hang"] = hang
    names = ("ok", "flaky", "limited", "gone", "teams", "hang")
    formats = {"teams": "teams"}
    hooks = {n: (loopback.url(f"/{n}"), formats.get(n, "generic")) for n in names}
    config = settings_file(tmp_path, database_url, hooks)
    process = start(config)
    try:
        # The healthy webhook gets everything while the hanging one still holds its first request.
        assert wait_for(lambda: len(loopback.received_on("/ok")) == ALERTS, 20)
        assert wait_for(lambda: len(loopback.received_on("/hang")) >= 1, 10) and not release.is_set()
        assert wait_for(lambda: len(loopback.received_on("/teams")) == ALERTS, 20)
        assert wait_for(lambda: len(loopback.received_on("/flaky")) == ALERTS + 2, 20)
        assert wait_for(lambda: len(loopback.received_on("/limited")) == ALERTS + 1, 20)
        assert wait_for(lambda: len(loopback.received_on("/gone")) == ALERTS, 20)
        time.sleep(2.5)  # room for any duplicate to show up
    finally:
        release.set()
        stderr = stop(process)
    for name in ("ok", "teams", "gone"):
        ids = accepted_ids(loopback, f"/{name}")
        assert len(ids) == len(set(ids)) == ALERTS, name  # once each; 404 is not retried
    for name, failures in (("flaky", 2), ("limited", 1)):
        requests = loopback.received_on(f"/{name}")
        ids = [r.headers["webhook-id"] for r in requests]
        assert len(set(ids)) == ALERTS and len(ids) == ALERTS + failures, name
        # Only what failed came again, with the same webhook-id, once for each failure (which alert the
        # second 500 falls on, the retry of the first or the next alert, depends on timing).
        assert Counter(ids) - Counter(set(ids)) == Counter(failed[name]), name
    limited = loopback.received_on("/limited")
    first_id = limited[0].headers["webhook-id"]
    retried_at = [r for r in limited if r.headers["webhook-id"] == first_id]
    assert retried_at[1].at - retried_at[0].at >= 1.9  # Retry-After: 2 was honoured
    status: dict[str, set[str]] = {}
    for webhook, state in rows(database_url, "SELECT DISTINCT webhook, status FROM deliveries"):
        status.setdefault(webhook, set()).add(state)
    assert status["gone"] == {"dead"} and status["ok"] == {"sent"} and status["flaky"] == {"sent"}
    assert "HTTP 404" in stderr and "/gone" not in stderr


def test_a_killed_daemon_loses_nothing_and_repeats_at_most_the_request_in_flight(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    count = 12
    write_seeds(tmp_path / "seeds", count)

    def slow(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.3)
        return 200, {}, b"ok"

    loopback.routes["/slow"] = slow
    config = settings_file(tmp_path, database_url, {"slow": (loopback.url("/slow"), "generic")}, timeout="5s")
    process = start(config)
    try:
        assert wait_for(lambda: len(loopback.received_on("/slow")) >= 3, 20)
    finally:
        kill(process)  # SIGKILL: no chance to clean up
    before = len(loopback.received_on("/slow"))
    assert before < count
    # Alone on its SQLite file, it takes over what the killed one had claimed at once; on PostgreSQL, where other
    # daemons may share the database, once the claims' lease (twice the 5 s timeout, and 5 s) has run out.
    process = start(config)
    try:
        assert wait_for(lambda: len({r.headers["webhook-id"] for r in loopback.received_on("/slow")}) == count, 30)
        time.sleep(1)
    finally:
        stop(process)
    ids = [r.headers["webhook-id"] for r in loopback.received_on("/slow")]
    assert len(set(ids)) == count  # nothing lost
    repeats = [i for i, n in Counter(ids).items() if n > 1]
    assert len(ids) - len(set(ids)) <= 1 and len(repeats) <= 1  # at most the one request in flight, same id
    assert scalar(database_url, "SELECT count(*) FROM deliveries WHERE status != 'sent'") == 0


def test_a_digest_rule_sends_its_window_as_one_message(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    write_seeds(tmp_path / "seeds", 3)
    loopback.routes["/digest"] = scripted()
    config = settings_file(tmp_path, database_url, {"team": (loopback.url("/digest"), "generic")})
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "query = '\"sommet de l’Otan\"'", 'query = \'"sommet de l’Otan"\'\ndelivery = "digest"\ndigest_every = "3s"'
        ),
        encoding="utf-8",
    )
    process = start(config)

    def alerted() -> int:
        return sum(len(r.json()["alerts"]) for r in loopback.received_on("/digest"))

    try:
        assert wait_for(lambda: alerted() == 3, 20)
        time.sleep(1.5)
    finally:
        stop(process)
    requests = loopback.received_on("/digest")
    # One message per window: the three seeds are stored within a moment, so one window (two at a boundary).
    assert 1 <= len(requests) <= 2 and alerted() == 3
    for request in requests:
        body = request.json()
        assert body["type"] == "monitor.digest" and body["rule"]["name"] == "NATO summit"
        assert request.headers["webhook-id"].startswith("dig_")


def test_a_second_daemon_on_the_same_sqlite_file_is_refused(tmp_path: Path, loopback: LoopbackServer) -> None:
    # SQLite only: the lock file is how one SQLite file keeps a second daemon off; on PostgreSQL several daemons
    # share the database by design (tests/test_instances.py).
    write_seeds(tmp_path / "seeds", 1)
    config = settings_file(tmp_path, "sqlite:///monitor.db", {})
    first = start(config)
    try:
        assert wait_for(lambda: (tmp_path / "monitor.db.lock").exists(), 10)
        time.sleep(0.5)
        second = monitor("--config", str(config), "run", timeout=30)
    finally:
        stop(first)
    assert second.returncode == 1
    assert "already in use by a running monitor (pid" in second.stderr and "PostgreSQL" in second.stderr
