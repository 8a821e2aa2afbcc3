"""The daemon's alerts to Telegram, Zulip, Rocket.Chat and ntfy, received by stand-ins on 127.0.0.1 that check each
request against the platform's documented format and answer as the platform does.

- Telegram: https://core.telegram.org/bots/api#making-requests (``POST /bot<token>/METHOD``, JSON),
  https://core.telegram.org/bots/api#sendmessage, https://core.telegram.org/bots/api#responseparameters
  (a 429 with ``parameters.retry_after``).
- Zulip: https://zulip.com/api/send-message (form-encoded, HTTP basic authentication with the bot's email and
  API key; ``{"result": "success", "id": …}``), https://zulip.com/integrations/doc/slack_incoming.
- Rocket.Chat: https://docs.rocket.chat/docs/integrations (``POST /hooks/<id>/<token>`` with ``{"text": …}``).
- ntfy: https://docs.ntfy.sh/publish/#publish-as-json (``POST /`` with the topic in the JSON body),
  https://docs.ntfy.sh/publish/#access-tokens.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import LoopbackServer, Received
from tests.daemon import monitor
from tests.db import rows

pytestmark = pytest.mark.integration

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
ZULIP_KEY = "zulipKEY0123456789abcdefABCDEF01"
WEBHOOK_KEY = "hookKEY0123456789abcdef"
ROCKET_TOKEN = "rocketTOKENa1b2c3d4e5f6g7h8"
NTFY_TOKEN = "tk_ntfyTOKEN0123456789abcdefgh"
NTFY_TOPIC = "monitor_alerts-7f3a"
SECRETS = (BOT_TOKEN.split(":")[1], ZULIP_KEY, WEBHOOK_KEY, ROCKET_TOKEN, NTFY_TOKEN, NTFY_TOPIC)


def settings_file(tmp_path: Path, server: LoopbackServer) -> Path:
    """Write settings with one seed rule (priority high) and one webhook of each platform, secrets from the env."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    text = "date 2026-11-02\nLe sommet de l'Otan s'ouvre à Vilnius @all <b>\n\nLes alliés @everyone y arrivent."
    (seeds / "otan.md").write_text(text, encoding="utf-8")
    base = server.url("")
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "monitor.db"}"

[seeds]
path = "seeds"

[delivery]
timeout = "5s"
retry_delays = ["1s"]

[webhooks.telegram]
format = "telegram"
url = "{base}"
token = "${{BOT_TOKEN}}"
chat_id = -1001234567890

[webhooks.zulip]
format = "zulip"
url = "{base}"
stream = "news"
topic = "NATO"
bot_email = "alerts-bot@zulip.example.org"
token = "${{ZULIP_KEY}}"

[webhooks.zulip-hook]
format = "zulip"
url = "{base}/api/v1/external/slack_incoming?api_key=${{WEBHOOK_KEY}}"
stream = "news"
topic = "NATO"

[webhooks.rocket]
format = "rocketchat"
url = "{base}/hooks/6579ab/${{ROCKET_TOKEN}}"

[webhooks.ntfy]
format = "ntfy"
url = "{base}/${{NTFY_TOPIC}}"
token = "${{NTFY_TOKEN}}"

[[rules]]
name = "NATO summit"
query = '"sommet de l’Otan"'
priority = "high"
""",
        encoding="utf-8",
    )
    return path


def answer(status: int, body: dict[str, object]) -> object:
    def reply(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return reply


def only(server: LoopbackServer, path: str) -> Received:
    (request,) = server.received_on(path)
    return request


def test_each_platform_gets_its_documented_request(tmp_path: Path, loopback: LoopbackServer) -> None:
    limited = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 900"}
    loopback.routes[f"/bot{BOT_TOKEN}/sendMessage"] = answer(429, limited | {"parameters": {"retry_after": 900}})
    loopback.routes["/api/v1/messages"] = answer(200, {"result": "success", "msg": "", "id": 42})
    loopback.routes["/api/v1/external/slack_incoming"] = answer(200, {"result": "success", "msg": ""})
    loopback.routes[f"/hooks/6579ab/{ROCKET_TOKEN}"] = answer(200, {"success": True})
    loopback.routes["/"] = answer(200, {"id": "sPs71M8A2T", "event": "message", "topic": NTFY_TOPIC})
    config = settings_file(tmp_path, loopback)
    env = {
        "BOT_TOKEN": BOT_TOKEN,
        "ZULIP_KEY": ZULIP_KEY,
        "WEBHOOK_KEY": WEBHOOK_KEY,
        "ROCKET_TOKEN": ROCKET_TOKEN,
        "NTFY_TOKEN": NTFY_TOKEN,
        "NTFY_TOPIC": NTFY_TOPIC,
    }
    before = datetime.now(UTC)
    run = monitor("--config", str(config), "run", "--once", env=env)
    assert run.returncode == 0, run.stderr

    telegram = only(loopback, f"/bot{BOT_TOKEN}/sendMessage")
    assert telegram.headers["content-type"] == "application/json"
    body = telegram.json()
    assert body["chat_id"] == "-1001234567890" and body["parse_mode"] == "HTML"
    assert body["link_preview_options"] == {"is_disabled": True}
    assert body["text"].startswith("<b>NATO summit</b> · <b>Le sommet de l") and "@\u200ball" in body["text"]

    zulip = only(loopback, "/api/v1/messages")
    assert zulip.headers["content-type"] == "application/x-www-form-urlencoded"
    login = base64.b64decode(zulip.headers["authorization"].removeprefix("Basic ")).decode()
    assert login == f"alerts-bot@zulip.example.org:{ZULIP_KEY}"
    form = parse_qs(zulip.body.decode())
    assert (form["type"], form["to"], form["topic"]) == (["stream"], ["news"], ["NATO"])
    assert form["content"][0].startswith("**NATO summit** · **Le sommet de l") and len(zulip.body) <= 10_000 * 3

    hook = only(loopback, "/api/v1/external/slack_incoming")
    assert parse_qs(urlsplit(hook.path).query) == {"api_key": [WEBHOOK_KEY], "stream": ["news"], "topic": ["NATO"]}
    assert hook.json()["text"].startswith("*NATO summit* · *Le sommet de l")

    rocket = only(loopback, f"/hooks/6579ab/{ROCKET_TOKEN}")
    assert rocket.json()["text"].startswith("*NATO summit* · *Le sommet de l") and "@\u200ball" in rocket.json()["text"]

    ntfy = only(loopback, "/")
    assert ntfy.headers["authorization"] == f"Bearer {NTFY_TOKEN}"
    published = ntfy.json()
    assert published["topic"] == NTFY_TOPIC and published["priority"] == 4  # the rule's "high"
    assert published["title"].startswith("NATO summit: Le sommet de l") and published["tags"] == [
        "newspaper",
        "NATO summit",
    ]

    # Every request carries the delivery's stable id; Telegram's 429 keeps its delivery waiting the 900 s it asked.
    assert all(r.headers["webhook-id"].startswith("msg_") for r in loopback.received)
    status = dict(rows(f"sqlite:///{tmp_path / 'monitor.db'}", "SELECT webhook, status FROM deliveries"))
    assert status == {"telegram": "pending", "zulip": "sent", "zulip-hook": "sent", "rocket": "sent", "ntfy": "sent"}
    (waiting,) = rows(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        "SELECT next_attempt_at, last_error FROM deliveries WHERE webhook = 'telegram'",
    )
    next_at = datetime.fromisoformat(str(waiting[0])).replace(tzinfo=UTC)
    assert next_at >= before + timedelta(seconds=890)
    assert "HTTP 429 from http://127.0.0.1" in waiting[1]

    # No secret in the output, the errors kept or the database.
    shown = run.stdout + run.stderr + b"".join(f.read_bytes() for f in tmp_path.glob("monitor.db*")).decode("latin-1")
    assert [secret for secret in SECRETS if secret in shown] == []
