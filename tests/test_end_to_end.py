"""The whole path through real sockets: a feed server and webhook receivers on 127.0.0.1, a database (a SQLite
file, then a PostgreSQL database), and ``monitor`` run as a subprocess."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from monitor.settings.config import load_settings
from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import monitor, start, stop, wait_for
from tests.db import dump, rows, scalar

pytestmark = pytest.mark.integration
SEED_TITLE = "Renforcer le soutien à l'Ukraine et améliorer les capacités de défense de l'OTAN"
SEED_SOURCE = "seeds/otan-defense-ministers-2022-06.txt"


def shipped_rules() -> str:
    """Return the shipped sample rules as TOML, so the test checks exactly what users get."""
    tables = []
    for rule in load_settings(ROOT / "settings.toml", {}).rules:
        lines = ["[[rules]]", f"name = {json.dumps(rule.name)}"]
        if rule.query is not None:
            lines.append(f"query = '''{rule.query}'''")
        lines += [
            f"{key} = {json.dumps(values, ensure_ascii=False)}"
            for key in ("any", "exclude")
            if (values := getattr(rule, key))
        ]
        tables.append("\n".join(lines) + "\n\n")
    return "".join(tables)


def write_settings(tmp_path: Path, server: LoopbackServer, webhooks: str, database: str, feeds: bool = True) -> Path:
    feed_tables = f"""
[[feeds]]
name = "world"
url = "{server.url("/rss.xml")}"

[[feeds]]
name = "ukraine"
url = "{server.url("/atom.xml")}"

[[feeds]]
name = "broken"
url = "{server.url("/broken.xml")}"
"""
    text = f"""
[database]
url = "{database}"

[seeds]
path = "{ROOT / "seeds"}"

[delivery]
retry_delays = ["1s"]
timeout = "5s"

[ingest]
first_poll_window = "10000d"  # the fixture feeds' entries date from 2022

{feed_tables if feeds else ""}
{webhooks}

{shipped_rules()}
"""
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def serve_feeds(server: LoopbackServer) -> None:
    def with_etag(file: Path, content_type: str):  # type: ignore[no-untyped-def]
        def answer(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            if handler.headers.get("If-None-Match") == '"v1"':
                return 304, {"ETag": '"v1"'}, b""
            return 200, {"Content-Type": content_type, "ETag": '"v1"'}, file.read_bytes()

        return answer

    server.routes["/rss.xml"] = with_etag(FIXTURES / "feeds" / "rss2.xml", "application/rss+xml")
    server.routes["/atom.xml"] = with_etag(FIXTURES / "feeds" / "atom.xml", "application/atom+xml")
    server.routes["/broken.xml"] = lambda _h: (503, {"Content-Type": "text/plain"}, b"try later")


def accept(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, b"ok"


def fail_once() -> object:
    calls = {"n": 0}

    def answer(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        return (500, {}, b"internal error") if calls["n"] == 1 else (200, {}, b"ok")

    return answer


EXPECTED = {
    ("NATO summit", SEED_TITLE, SEED_SOURCE, ("sommet", "Otan")),
    ("Donbass", SEED_TITLE, SEED_SOURCE, ("Donbass",)),
    ("NATO summit", "Leaders gather for the NATO summit in Madrid", "world", ("NATO", "summit")),
    ("Donbass", "Бої на Донбасі тривають", "ukraine", ("Донбасі", "Донбас")),
}


def summary(payloads: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {
        (p["rule"]["name"], p["article"]["title"], p["article"]["source"], tuple(p["matched"]))  # type: ignore[index]
        for p in payloads
    }


def test_full_cycle_alerts_once_and_retries(tmp_path: Path, loopback: LoopbackServer, database_url: str) -> None:
    serve_feeds(loopback)
    loopback.routes["/hook"] = accept
    loopback.routes["/flaky"] = fail_once()  # type: ignore[assignment]
    webhooks = f"""
[webhooks.newsroom]
url = "${{HOOK_URL}}"
format = "generic"

[webhooks.flaky]
url = "{loopback.url("/flaky")}"
format = "generic"
"""
    config = write_settings(tmp_path, loopback, webhooks, database_url)
    env = {"HOOK_URL": loopback.url("/hook")}

    first = monitor("--config", str(config), "run", "--once", env=env)
    assert first.returncode == 0, first.stderr
    hook = [r.json() for r in loopback.received_on("/hook")]
    assert summary(hook) == EXPECTED
    assert len(hook) == len(EXPECTED)
    flaky_first = loopback.received_on("/flaky")
    assert len(flaky_first) == 1  # a 500: the other alerts wait behind it, in order

    seed_alert = next(p for p in hook if p["rule"]["name"] == "NATO summit" and p["article"]["source"] == SEED_SOURCE)
    assert set(seed_alert) == {
        "type",
        "id",
        "rule",
        "article",
        "snippet",
        "highlights",
        "field",
        "matched",
        "created_at",
        "also_in",
    }
    assert seed_alert["type"] == "monitor.alert"
    assert seed_alert["article"] == {
        "title": SEED_TITLE,
        "url": None,
        "source": SEED_SOURCE,
        "published": "2022-06-01T00:00:00Z",
        "language": "fr",
    }
    assert "sommet de l'Otan" in seed_alert["snippet"] and "**" not in seed_alert["snippet"]
    assert seed_alert["field"] == "text"
    words = [seed_alert["snippet"][start:end] for start, end in seed_alert["highlights"]]
    assert words == ["sommet", "Otan"]
    assert seed_alert["rule"]["query"].startswith("NATO NEAR/3 summit OR OTAN NEAR/3 sommet")
    assert seed_alert["created_at"].endswith("Z")
    rss_alert = next(p for p in hook if p["article"]["source"] == "world")
    assert rss_alert["article"]["url"] == "http://127.0.0.1/world/nato-summit-madrid?utm_source=rss&utm_medium=feed"
    assert rss_alert["article"]["published"] == "2022-06-28T06:30:00Z"
    assert all(r.headers["webhook-id"].startswith("msg_") for r in loopback.received_on("/hook"))
    assert all(r.headers["content-type"] == "application/json" for r in loopback.received_on("/hook"))

    # The broken feed is recorded, and did not stop the others.
    feeds = dict(rows(database_url, "SELECT name, status || ' ' || coalesce(last_error, '') FROM feeds"))
    assert feeds["world"] == "ok " and feeds["ukraine"] == "ok "
    assert feeds["broken"].startswith("error feed 'broken': HTTP 503 from 127.0.0.1")
    pending = rows(
        database_url, "SELECT attempts, last_error FROM deliveries WHERE status = 'pending' ORDER BY attempts DESC"
    )
    assert len(pending) == len(EXPECTED) and [p[0] for p in pending] == [1, 0, 0, 0]
    assert "HTTP 500" in pending[0][1] and "/flaky" not in pending[0][1]

    time.sleep(1.5)  # the retry delay is 1 s (±20 %)
    second = monitor("--config", str(config), "run", "--once", env=env)
    assert second.returncode == 0, second.stderr
    assert len(loopback.received_on("/hook")) == len(EXPECTED)  # nothing new
    flaky = loopback.received_on("/flaky")
    assert len(flaky) == len(EXPECTED) + 1
    failed_id = flaky_first[0].headers["webhook-id"]
    assert flaky[1].headers["webhook-id"] == failed_id  # the delivery that got a 500 goes first, same id
    assert summary([r.json() for r in flaky[1:]]) == EXPECTED
    # Conditional requests: the second poll got 304 and cost no parsing.
    assert loopback.received_on("/rss.xml")[-1].headers["if-none-match"] == '"v1"'
    status = dict(rows(database_url, "SELECT name, status FROM feeds"))
    assert status["world"] == "not_modified"

    third = monitor("--config", str(config), "run", "--once", env=env)
    assert third.returncode == 0, third.stderr
    assert len(loopback.received_on("/hook")) == len(EXPECTED)
    assert len(loopback.received_on("/flaky")) == len(EXPECTED) + 1
    assert scalar(database_url, "SELECT count(*) FROM deliveries WHERE status != 'sent'") == 0

    # The webhook URL given through the environment never shows in logs or in the database.
    logs = first.stderr + second.stderr + third.stderr
    assert "/hook" not in logs and "/flaky" not in logs
    stored = dump(database_url)
    assert "/hook" not in stored and "/flaky" not in stored


def test_without_webhooks_alerts_are_printed(tmp_path: Path, loopback: LoopbackServer, database_url: str) -> None:
    config = write_settings(tmp_path, loopback, webhooks="", database=database_url, feeds=False)
    result = monitor("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("ALERT")]
    assert lines == [
        f"ALERT [NATO summit] {SEED_TITLE} ({SEED_SOURCE}) | matched: sommet, Otan",
        f"ALERT [Donbass] {SEED_TITLE} ({SEED_SOURCE}) | matched: Donbass",
    ]
    again = monitor("--config", str(config), "run", "--once")
    assert again.returncode == 0 and "ALERT" not in again.stdout
    assert scalar(database_url, "SELECT count(*) FROM alerts") == 2


def test_daemon_delivers_and_stops_cleanly_on_sigterm(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    serve_feeds(loopback)
    loopback.routes["/hook"] = accept
    webhooks = f'[webhooks.chat]\nurl = "{loopback.url("/hook")}"\nformat = "slack"\n'
    config = write_settings(tmp_path, loopback, webhooks, database_url)
    config.write_text(config.read_text().replace("[delivery]", '[scheduler]\ndelivery_interval = "1s"\n\n[delivery]'))
    process = start(config)
    try:
        wait_for(lambda: len(loopback.received_on("/hook")) >= len(EXPECTED), 30)
        assert len(loopback.received_on("/hook")) == len(EXPECTED)
        slack = loopback.received_on("/hook")[0].json()
        assert "text" in slack and "blocks" in slack
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert "stopped" in stderr


def test_unusable_database_exits_1(tmp_path: Path, loopback: LoopbackServer) -> None:
    # No database is ever opened: a SQLite file in a directory that does not exist is unusable on any machine.
    config = write_settings(tmp_path, loopback, webhooks="", database="sqlite:///monitor.db", feeds=False)
    result = monitor(
        "--config",
        str(config),
        "run",
        "--once",
        env={"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"},
    )
    assert result.returncode == 1
    assert "database" in result.stderr


def test_check_shipped_settings() -> None:
    result = monitor("--config", str(ROOT / "settings.toml"), "check")
    assert result.returncode == 0, result.stderr
    assert "rules: 2" in result.stdout
    assert "NATO summit" in result.stdout and "Donbass" in result.stdout
    assert "alerts go to the console" in result.stdout


def test_check_hides_webhook_secrets(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[webhooks.a]\nurl = "https://hooks.slack.test/services/T0/B0/s3cret"\nformat = "slack"\n')
    result = monitor("--config", str(path), "check")
    assert result.returncode == 0
    assert "hooks.slack.test" in result.stdout and "s3cret" not in result.stdout


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[scheduler\n", "line 1"),
        ('[[rules]]\nname = "x"\nquery = "(nato"\n', "rules[0].query"),
        ('[seeds]\npaht = "x"\n', "seeds.paht"),
    ],
)
def test_check_bad_settings_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = monitor("--config", str(path), "check")
    assert result.returncode == 2
    assert str(path) in result.stderr and needle in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_environment_and_bad_arguments(tmp_path: Path) -> None:
    assert monitor("check", env={"MONITOR_CONFIG": str(ROOT / "settings.toml")}).returncode == 0
    assert monitor("--config", str(tmp_path / "missing.toml"), "check").returncode == 2
    assert monitor("frobnicate").returncode == 2
