"""Webhook secrets echoed by failing receivers on 127.0.0.1 reach neither the logs, nor the database, nor
``monitor alerts --json``: ``monitor run --once`` as a subprocess against real sockets."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import monitor
from tests.db import dump, rows

pytestmark = pytest.mark.integration

LONG = "T0K3NxQ9mZ2vL7pR4sW8yB6nC1dF5gHj"  # the last part of a Slack-style URL
SHORT = "qhzvwk"  # a short, letters-only Mattermost hook id
SIGNING = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="
KEY = SIGNING.removeprefix("whsec_")
FILLER = "The receiver could not handle this request; details follow. " * 4  # 244 characters


def answer(status: int, body: str) -> object:
    def reply(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "text/plain; charset=utf-8"}, body.encode()

    return reply


def prefixes(secret: str, shortest: int = 6) -> list[str]:
    """Return every beginning of secret of at least shortest characters (the whole when shorter)."""
    return [secret[:n] for n in range(min(shortest, len(secret)), len(secret) + 1)]


def leaks(text: str) -> list[str]:
    """Return the secrets, or beginnings of them, found in text."""
    found = [p for secret in (LONG, KEY) for p in prefixes(secret) if p in text]
    return found + [SHORT] * text.count(SHORT) + [p for p in prefixes("/services/T000/B000/" + LONG, 12) if p in text]


def write_settings(tmp_path: Path, database: str, loopback: LoopbackServer) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "otan.md").write_text("date 2026-11-02\nLe sommet de l'Otan s'ouvre à Vilnius.", encoding="utf-8")
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "{database}"

[logging]
level = "DEBUG"

[seeds]
path = "seeds"
interval = "1h"

[delivery]
timeout = "5s"

[webhooks.slack]
url = "{loopback.url("/services/T000/B000/" + LONG)}"
format = "slack"

[webhooks.chat]
url = "{loopback.url("/hooks/" + SHORT)}"
format = "mattermost"

[webhooks.signed]
url = "{loopback.url("/generic")}"
format = "generic"
secret = "{SIGNING}"

[[rules]]
name = "NATO summit"
query = '"sommet de l’Otan"'
""",
        encoding="utf-8",
    )
    return path


def test_echoed_secrets_stay_out_of_logs_database_and_alerts(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    slack_url = loopback.url("/services/T000/B000/" + LONG)
    # From character 190 of each answer: the token alone, then the URL as sent, JSON-escaped and percent-encoded.
    echoes = [LONG, slack_url, slack_url.replace("/", "\\/"), slack_url.replace("/", "%2F")]
    routes = {
        "/services/T000/B000/" + LONG: answer(500, FILLER[:190] + " | ".join(echoes)),
        "/hooks/" + SHORT: answer(403, FILLER[:190] + f'{SHORT} {{"error": "no hook {SHORT}"}}'),
        "/generic": answer(500, FILLER[:190] + f"{KEY} is not the signing key"),
    }
    loopback.routes.update(routes)  # type: ignore[arg-type]
    config = write_settings(tmp_path, database_url, loopback)

    run = monitor("--config", str(config), "run", "--once")
    assert run.returncode == 0, run.stderr
    assert [len(loopback.received_on(path)) for path in routes] == [1, 1, 1]
    listing = monitor("--config", str(config), "alerts", "--json")
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)

    # The errors are there, with what the receivers said around the secrets.
    (alert,) = document["alerts"]
    errors = {d["webhook"]: d["last_error"] for d in alert["deliveries"]}
    assert errors["slack"].startswith("webhook 'slack': HTTP 500 from http://127.0.0.1:")
    assert errors["chat"].startswith("webhook 'chat': HTTP 403 from http://127.0.0.1:")
    assert errors["signed"].startswith("webhook 'signed': HTTP 500 from http://127.0.0.1:")
    assert all("details follow. The receiv***" in error and error.endswith("…") for error in errors.values()), errors
    assert [(w["name"], w["last_error"]) for w in document["webhooks"]] == [("chat", errors["chat"])]
    stored = dict(rows(database_url, "SELECT webhook, last_error FROM deliveries"))
    assert stored == errors

    # And the secrets, or any beginning of them of six characters or more, are nowhere.
    assert leaks(listing.stdout) == []
    assert leaks(dump(database_url)) == []
    assert leaks(run.stderr + listing.stderr) == []
    assert "HTTP 500" in run.stderr and "HTTP 403" in run.stderr
