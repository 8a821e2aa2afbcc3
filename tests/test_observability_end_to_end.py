"""The daemon as users run it in production: /healthz and /metrics, JSON logs, and no secret anywhere.

Webhook receivers on 127.0.0.1 fail in every way (500, 404, connection refused, timeout); their URLs and the
signing secret carry recognisable parts that must appear neither in the logs nor in the database.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import start, stop, wait_for
from tests.db import dump, read_only, write_lock_held
from tests.tcpproxy import TcpProxy
from tests.test_end_to_end import shipped_rules

pytestmark = pytest.mark.integration
SECRET_KEY = base64.b64encode(b"TOPSECRET-signing-key-0123456789").decode()
SIGNING_SECRET = f"whsec_{SECRET_KEY}"
PATH_SECRET = "Zq7PATHSECRET"
QUERY_SECRET = "Qx9QUERYSECRET"
SECRET_PARTS = (SIGNING_SECRET, SECRET_KEY, PATH_SECRET, QUERY_SECRET)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def slow(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    time.sleep(2.5)
    return 200, {}, b"too late"


def write_settings(tmp_path: Path, server: LoopbackServer, database: str, log_format: str) -> Path:
    refused = f"http://127.0.0.1:{free_port()}/hooks/{PATH_SECRET}/refused?token={QUERY_SECRET}"
    hooks = {
        "failing": server.url(f"/hooks/{PATH_SECRET}/500?token={QUERY_SECRET}"),
        "missing": server.url(f"/hooks/{PATH_SECRET}/404?token={QUERY_SECRET}"),
        "slow": server.url(f"/hooks/{PATH_SECRET}/slow?token={QUERY_SECRET}"),
        "refused": refused,
    }
    webhooks = "".join(
        f'[webhooks.{name}]\nurl = "{url}"\nformat = "generic"\nsecret = "${{SIGNING_SECRET}}"\n\n'
        for name, url in hooks.items()
    )
    text = f"""
[database]
url = "{database}"

[seeds]
path = "{ROOT / "seeds"}"

[scheduler]
delivery_interval = "1s"

[delivery]
retry_delays = ["1s"]
timeout = "1s"
give_up_after = "3s"

[logging]
format = "{log_format}"

[server]
listen = "${{LISTEN:-127.0.0.1:1}}"

[[feeds]]
name = "world"
url = "{server.url("/rss.xml")}"

[[feeds]]
name = "broken"
url = "{server.url("/broken.xml")}"

{webhooks}
{shipped_rules()}
"""
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scrape(base: str, deadline: float) -> tuple[httpx.Response, str]:
    while True:
        try:
            health = httpx.get(f"{base}/healthz", timeout=2)
            metrics = httpx.get(f"{base}/metrics", timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        if 'outcome="dead"' in metrics or time.monotonic() > deadline:
            return health, metrics
        time.sleep(0.5)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_daemon_serves_health_and_metrics_and_leaks_no_secret(
    tmp_path: Path, loopback: LoopbackServer, log_format: str, database_url: str
) -> None:
    loopback.serve_file("/rss.xml", FIXTURES / "feeds" / "rss2.xml")
    loopback.routes["/broken.xml"] = lambda _h: (503, {}, b"try later")
    loopback.routes[f"/hooks/{PATH_SECRET}/500"] = lambda _h: (500, {}, f"no {PATH_SECRET}".encode())
    loopback.routes[f"/hooks/{PATH_SECRET}/slow"] = slow
    port = free_port()
    config = write_settings(tmp_path, loopback, database_url, log_format)
    environ = {"SIGNING_SECRET": SIGNING_SECRET, "LISTEN": f"127.0.0.1:{port}"}
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        daemon = start(config, environ, stderr=stderr)
        try:
            health, metrics = scrape(f"http://127.0.0.1:{port}", time.monotonic() + 30)
            time.sleep(2)  # a few more retries of the failing webhooks
        finally:
            stop(daemon)
    assert daemon.returncode == 0
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "scheduler": "running", "database": "ok"}
    for line in (
        'monitor_feed_polls_total{feed="world",outcome="ok"} 1.0',
        'monitor_feed_polls_total{feed="broken",outcome="http"} 1.0',
        'monitor_deliveries_total{outcome="dead",webhook="missing"}',
        'monitor_articles_ingested_total{feed="world"}',
        'monitor_rule_matches_total{rule="NATO summit"}',
        "monitor_delivery_queue_depth ",
        "monitor_oldest_pending_delivery_age_seconds ",
        'monitor_feed_last_success_timestamp_seconds{feed="world"}',
        'monitor_feed_last_success_timestamp_seconds{feed="broken"} 0.0',  # never succeeded
        'monitor_feed_fetch_seconds_bucket{feed="world",le="0.5"}',
        'monitor_articles_ingested_total{feed="seeds"} 1.0',
        "monitor_database_up 1.0",
        'monitor_build_info{matcher="',
    ):
        assert line in metrics
    assert 'feed="seeds/' not in metrics

    # Every failure mode was met.
    assert loopback.received_on(f"/hooks/{PATH_SECRET}/500")
    assert loopback.received_on(f"/hooks/{PATH_SECRET}/404")
    assert loopback.received_on(f"/hooks/{PATH_SECRET}/slow")
    logs = stderr_path.read_text(encoding="utf-8")
    assert "HTTP 500" in logs and "HTTP 404" in logs and "within 1 s" in logs and "ConnectError" in logs
    if log_format == "json":
        records = [json.loads(line) for line in logs.splitlines()]
        assert {"time", "level", "logger", "message"} <= set(records[0])
        assert any(r.get("webhook") == "refused" for r in records)
        assert any(r.get("feed") == "broken" for r in records)
        assert any(r.get("rule") == "Donbass" and "alert_id" in r for r in records)

    stored = dump(database_url)
    assert "HTTP 500" in stored
    for part in SECRET_PARTS:
        assert part not in logs
        assert part not in stored


def healthz(base: str, deadline: float) -> httpx.Response:
    """Return the first answer of /healthz once the daemon listens (each request given 2 s at most)."""
    while True:
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_healthz_probes_for_a_write_and_answers_whatever_holds_the_database(tmp_path: Path) -> None:
    database = tmp_path / "monitor.db"
    port = free_port()
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n[seeds]\nenabled = false\n[server]\nlisten = "127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    daemon = start(config)
    try:
        first = healthz(base, time.monotonic() + 30)
        with write_lock_held(database):
            locked = httpx.get(f"{base}/healthz", timeout=2)  # another process's write lock: an answer all the same
        with read_only(database):
            unwritable = httpx.get(f"{base}/healthz", timeout=2)
        again = httpx.get(f"{base}/healthz", timeout=2)
    finally:
        errors = stop(daemon)
    assert daemon.returncode == 0, errors
    assert (first.status_code, first.json()["database"]) == (200, "ok")
    assert (locked.status_code, locked.json()) == (200, {"status": "ok", "scheduler": "running", "database": "busy"})
    assert unwritable.status_code == 503
    assert unwritable.json() == {
        "status": "error",
        "scheduler": "running",
        "database": "error",
        "database_error": "monitor.db is read-only",
    }
    assert (again.status_code, again.json()["database"]) == (200, "ok")
    assert "health check: the database cannot take a write: monitor.db is read-only" in errors


def test_metrics_answer_and_every_log_line_is_json_while_the_database_refuses_connections(
    tmp_path: Path, loopback: LoopbackServer, postgres_url: str
) -> None:
    loopback.serve_file("/rss.xml", FIXTURES / "feeds" / "rss2.xml")
    loopback.routes["/broken.xml"] = lambda _h: (503, {}, b"try later")
    database = make_url(postgres_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stderr_path = tmp_path / "stderr.log"
    with TcpProxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        # The daemon reaches PostgreSQL through the proxy: cutting it is the database host going away.
        through = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        config = write_settings(tmp_path, loopback, through, "json")
        environ = {"SIGNING_SECRET": SIGNING_SECRET, "LISTEN": f"127.0.0.1:{port}"}
        with stderr_path.open("w") as stderr:
            daemon = start(config, environ, stderr=stderr)
            try:
                before = healthz(base, time.monotonic() + 30)
                assert wait_for(lambda: 'feed="world",outcome="ok"' in httpx.get(f"{base}/metrics").text, 30)
                up = httpx.get(f"{base}/metrics", timeout=5)
                proxy.cut()
                down = [httpx.get(f"{base}/metrics", timeout=5) for _ in range(3)]
                health = httpx.get(f"{base}/healthz", timeout=5)
                time.sleep(3)  # the jobs meet the database gone: delivery every second, retries
                last = httpx.get(f"{base}/metrics", timeout=5)
            finally:
                stop(daemon)
    assert daemon.returncode == 0
    assert before.status_code == 200
    assert up.status_code == 200 and "monitor_database_up 1.0" in up.text
    assert 'monitor_feed_last_success_timestamp_seconds{feed="broken"} 0.0' in up.text
    for answer in (*down, last):
        assert answer.status_code == 200
        assert "monitor_database_up 0.0" in answer.text
        assert 'monitor_feed_polls_total{feed="world",outcome="ok"} 1.0' in answer.text  # counted in memory
        assert "monitor_delivery_queue_depth" not in answer.text  # read from the database: left out
        assert "monitor_build_info{" in answer.text
    assert health.status_code == 503
    assert health.json()["database"] == "error"

    logs = stderr_path.read_text(encoding="utf-8")
    records = [json.loads(line) for line in logs.splitlines()]  # every line is one JSON object
    messages = [record["message"] for record in records]
    assert sum(m.startswith("metrics: cannot read the database, monitor_database_up is 0: ") for m in messages) == 1
    assert any(m.startswith("health check: the database cannot take a write") for m in messages)
    assert "Traceback" not in "".join(line for line in logs.splitlines() if '"exception"' not in line)
    for part in SECRET_PARTS:
        assert part not in logs
