"""A webhook's table: the keys each format reads, needs and refuses, and which values are secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import load_settings
from monitor.settings.webhook import TELEGRAM_API, WebhookSettings

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MATRIX_TOKEN = "syt_bW9uaXRvcg_SNyycJFVVJQsXmIEFdQb_1hgWee"
ZULIP_KEY = "0123456789abcdefABCDEF0123456789"


def load(tmp_path: Path, table: str, environ: dict[str, str] | None = None) -> WebhookSettings:
    """Return the webhook 'hook' of a settings file holding only the table's keys."""
    path = tmp_path / "settings.toml"
    path.write_text(f"[seeds]\nenabled = false\n\n[webhooks.hook]\n{table}\n", encoding="utf-8")
    return load_settings(path, environ or {}).webhooks["hook"]


def problems(tmp_path: Path, table: str) -> str:
    """Return the error loading the table makes."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, table)
    return str(caught.value)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            f'format = "matrix"\nurl = "https://m.example.org"\nroom = "!abc:example.org"\ntoken = "{MATRIX_TOKEN}"',
            {"room": "!abc:example.org"},
        ),
        (
            f'format = "matrix"\nurl = "https://m.example.org/"\nroom = "#news:example.org"\ntoken = "{MATRIX_TOKEN}"',
            {"room": "#news:example.org"},
        ),
        (
            f'format = "matrix"\nurl = "https://m.example.org"\nroom = "!opaqueRoomV12"\ntoken = "{MATRIX_TOKEN}"',
            {"room": "!opaqueRoomV12"},
        ),
        (f'format = "telegram"\ntoken = "{BOT_TOKEN}"\nchat_id = -1001234567890', {"chat_id": "-1001234567890"}),
        (f'format = "telegram"\ntoken = "{BOT_TOKEN}"\nchat_id = "@newsroom"', {"chat_id": "@newsroom"}),
        (
            f'format = "telegram"\nurl = "http://127.0.0.1:8081"\ntoken = "{BOT_TOKEN}"\nchat_id = "42"',
            {"chat_id": "42"},
        ),
        (
            f'format = "zulip"\nurl = "https://zulip.example.org"\nstream = "news"\ntopic = "Donbass"\n'
            f'bot_email = "alerts-bot@zulip.example.org"\ntoken = "{ZULIP_KEY}"',
            {"stream": "news", "topic": "Donbass"},
        ),
        (
            'format = "zulip"\nurl = "https://zulip.example.org/api/v1/external/slack_incoming?api_key=abc&stream=x"',
            {"stream": None},
        ),
        ('format = "rocketchat"\nurl = "https://chat.example.org/hooks/abc/def"', {}),
        ('format = "ntfy"\nurl = "https://ntfy.sh/monitor_alerts-7f3a"', {"token": None}),
        ('format = "ntfy"\nurl = "https://ntfy.example.org/alerts"\ntoken = "tk_abcdefghijklmnopqrstuvwxyz012"', {}),
    ],
)
def test_good_tables(tmp_path: Path, table: str, expected: dict[str, object]) -> None:
    webhook = load(tmp_path, table)
    for key, value in expected.items():
        assert getattr(webhook, key) == value


def test_telegram_talks_to_telegram_unless_told(tmp_path: Path) -> None:
    webhook = load(tmp_path, f'format = "telegram"\ntoken = "{BOT_TOKEN}"\nchat_id = 42')
    assert webhook.url.get_secret_value() == TELEGRAM_API and webhook.chat_id == "42"


def test_every_key_may_come_from_the_environment(tmp_path: Path) -> None:
    table = 'format = "matrix"\nurl = "${HS}"\nroom = "${ROOM}"\ntoken = "${TOKEN}"'
    environ = {"HS": "https://matrix.example.org", "ROOM": "#news:example.org", "TOKEN": MATRIX_TOKEN}
    webhook = load(tmp_path, table, environ)
    assert webhook.room == "#news:example.org" and webhook.token is not None
    assert webhook.token.get_secret_value() == MATRIX_TOKEN and MATRIX_TOKEN not in repr(webhook)


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ('format = "matrix"\nurl = "https://m.example.org"', "webhooks.hook.room", "the matrix format needs a room"),
        (
            'format = "matrix"\nurl = "https://m.example.org"\nroom = "!a:b"',
            "webhooks.hook.token",
            "the matrix format needs a token",
        ),
        (
            f'format = "matrix"\nurl = "https://m.example.org"\nroom = "news"\ntoken = "{MATRIX_TOKEN}"',
            "webhooks.hook.room",
            "expected a room id (!abc…) or a room alias (#name:server)",
        ),
        (
            f'format = "matrix"\nurl = "https://m.example.org"\nroom = "#news"\ntoken = "{MATRIX_TOKEN}"',
            "webhooks.hook.room",
            "room alias (#name:server)",
        ),
        (
            'format = "matrix"\nurl = "https://m.example.org"\nroom = "!a:b"\ntoken = "has a space"',
            "webhooks.hook.token",
            "printable ASCII without spaces",
        ),
        ('format = "telegram"\nchat_id = 42', "webhooks.hook.token", "the telegram format needs a token"),
        (
            'format = "telegram"\nchat_id = 42\ntoken = "not-a-bot-token"',
            "webhooks.hook.token",
            "not a bot token",
        ),
        (
            f'format = "telegram"\ntoken = "{BOT_TOKEN}"\nchat_id = "news room"',
            "webhooks.hook.chat_id",
            "expected a chat's number",
        ),
        (f'format = "telegram"\ntoken = "{BOT_TOKEN}"', "webhooks.hook.chat_id", "the telegram format needs a chat_id"),
        (
            'format = "slack"\nurl = "https://hooks.example.org/x"\nroom = "!a:b"',
            "webhooks.hook.room",
            "room applies to the matrix format only, not 'slack'",
        ),
        (
            'format = "slack"\nurl = "https://hooks.example.org/x"\ntoken = "abc"',
            "webhooks.hook.token",
            "token applies to the matrix, telegram, zulip and ntfy formats only, not 'slack'",
        ),
        (
            'format = "rocketchat"\nurl = "https://chat.example.org/hooks/a/b"\nstream = "x"',
            "webhooks.hook.stream",
            "stream applies to the zulip format only",
        ),
        (
            'format = "zulip"\nurl = "https://zulip.example.org"\nstream = "news"\ntopic = "t"',
            "webhooks.hook",
            "a zulip webhook needs bot_email and token (the bot API), or an incoming webhook URL with its api_key",
        ),
        (
            'format = "zulip"\nurl = "https://z.example.org"\nbot_email = "b@z.example.org"\nstream = "s"\ntopic = "t"',
            "webhooks.hook.token",
            "the zulip bot API needs bot_email and token (its API key) together",
        ),
        (
            f'format = "zulip"\nurl = "https://z.example.org"\nbot_email = "bot@z.example.org"\ntoken = "{ZULIP_KEY}"',
            "webhooks.hook.stream",
            "the zulip bot API needs a stream",
        ),
        (
            f'format = "zulip"\nurl = "https://z.example.org"\nbot_email = "bot"\ntoken = "{ZULIP_KEY}"\n'
            'stream = "s"\ntopic = "t"',
            "webhooks.hook.bot_email",
            "expected the bot's email address",
        ),
        (
            f'format = "zulip"\nurl = "https://z.example.org"\nbot_email = "b@z.example.org"\ntoken = "{ZULIP_KEY}"\n'
            f'stream = "s"\ntopic = "{"t" * 61}"',
            "webhooks.hook.topic",
            "a zulip topic name is 1 to 60 printable characters",
        ),
        ('format = "ntfy"\nurl = "https://ntfy.sh/"', "webhooks.hook.url", "an ntfy url is the topic's URL"),
        ('format = "ntfy"\nurl = "https://ntfy.sh/a/b c"', "webhooks.hook.url", "an ntfy url is the topic's URL"),
    ],
)
def test_bad_tables_say_which_key(tmp_path: Path, table: str, key: str, message: str) -> None:
    error = problems(tmp_path, table)
    assert f"{key}: " in error and message in error, error


@pytest.mark.parametrize(
    "table",
    [
        'format = "telegram"\nchat_id = 1\ntoken = "1234:SECRETsecretSECRETsecret but spaced"',
        'format = "matrix"\nurl = "https://m.example.org"\nroom = "!a:b"\ntoken = "SECRETsecret\\tSECRET"',
        'format = "ntfy"\nurl = "https://ntfy.sh/SECRET topic"',
    ],
)
def test_a_bad_secret_is_never_quoted(tmp_path: Path, table: str) -> None:
    assert "SECRET" not in problems(tmp_path, table)


@pytest.mark.parametrize(
    ("keys", "secrets"),
    [
        ({"format": "slack", "url": "https://hooks.example.org/T/B/x"}, ["https://hooks.example.org/T/B/x"]),
        (
            {"format": "matrix", "url": "https://m.example.org", "room": "!a:b", "token": MATRIX_TOKEN},
            [MATRIX_TOKEN],
        ),
        ({"format": "telegram", "token": BOT_TOKEN, "chat_id": "1"}, [BOT_TOKEN]),
        (
            {"format": "zulip", "url": "https://z.example.org", "stream": "s", "topic": "t"}
            | {"bot_email": "b@z.example.org", "token": ZULIP_KEY},
            [ZULIP_KEY],
        ),
        (
            {"format": "zulip", "url": "https://z.example.org/api/v1/external/slack_incoming?api_key=k123"},
            ["https://z.example.org/api/v1/external/slack_incoming?api_key=k123"],
        ),
        (
            {"format": "ntfy", "url": "https://ntfy.sh/topic_x", "token": "tk_abc"},
            ["https://ntfy.sh/topic_x", "tk_abc"],
        ),
    ],
)
def test_secret_values(keys: dict[str, str], secrets: list[str]) -> None:
    assert WebhookSettings.model_validate(keys).secret_values() == secrets
