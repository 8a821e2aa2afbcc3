"""``monitor check``: what each webhook will post to, its secrets hidden."""

from __future__ import annotations

from pathlib import Path

from tests.daemon import monitor

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRETS = {
    "MATRIX_TOKEN": "syt_bW9uaXRvcg_SNyycJFVVJQsXmIEFdQb",
    "BOT_TOKEN": BOT_TOKEN,
    "ZULIP_KEY": "zulipKEY0123456789abcdefABCDEF01",
    "ROCKET_URL": "https://chat.example.org/hooks/6579ab/rocketTOKENa1b2c3d4",
    "NTFY_TOKEN": "tk_ntfyTOKEN0123456789abcdefgh",
}
SETTINGS = """
[seeds]
enabled = false

[webhooks.room]
format = "matrix"
url = "https://matrix.example.org"
room = "#newsroom:example.org"
token = "${MATRIX_TOKEN}"

[webhooks.phone-group]
format = "telegram"
token = "${BOT_TOKEN}"
chat_id = -1001234567890

[webhooks.zulip]
format = "zulip"
url = "https://zulip.example.org"
stream = "news"
topic = "Donbass"
bot_email = "alerts-bot@zulip.example.org"
token = "${ZULIP_KEY}"

[webhooks.rocket]
format = "rocketchat"
url = "${ROCKET_URL}"

[webhooks.push]
format = "ntfy"
url = "https://ntfy.sh/monitor_secret_topic"
token = "${NTFY_TOKEN}"
"""


def test_check_says_where_each_webhook_posts_and_hides_its_secrets(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    result = monitor("--config", str(path), "check", env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("  - ")] == [
        "  - room: matrix -> https://matrix.example.org/… room #newsroom:example.org",
        "  - phone-group: telegram -> https://api.telegram.org/… chat -1001234567890",
        "  - zulip: zulip -> https://zulip.example.org/… stream news, topic Donbass (as alerts-bot@zulip.example.org)",
        "  - rocket: rocketchat -> https://chat.example.org/…",
        "  - push: ntfy -> https://ntfy.sh/…",
    ]
    shown = result.stdout + result.stderr
    assert [name for name, secret in SECRETS.items() if secret in shown] == []
    assert "AAHdqTcv" not in shown and "rocketTOKEN" not in shown and "monitor_secret_topic" not in shown
