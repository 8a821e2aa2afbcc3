"""Where a webhook posts: what shares a platform's limit, which destination it is, what ``monitor check`` says."""

from __future__ import annotations

import pytest

from monitor.delivery import destination
from monitor.settings.config import WebhookSettings

TOKEN = "syt_c2VjcmV0_tokenTOKENtoken"
BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def hook(**keys: str) -> WebhookSettings:
    return WebhookSettings.model_validate(keys)


MATRIX = {"format": "matrix", "url": "https://matrix.example.org/", "room": "!abc:example.org", "token": TOKEN}


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        (MATRIX, "https://matrix.example.org/… room !abc:example.org"),
        ({"format": "telegram", "token": BOT, "chat_id": "-100123"}, "https://api.telegram.org/… chat -100123"),
        (
            {"format": "zulip", "url": "https://zulip.example.org", "stream": "news", "topic": "Donbass"}
            | {"bot_email": "bot@zulip.example.org", "token": "k" * 32},
            "https://zulip.example.org/… stream news, topic Donbass (as bot@zulip.example.org)",
        ),
        (
            {"format": "zulip", "url": "https://zulip.example.org/api/v1/external/slack_incoming?api_key=SECRETKEY"},
            "https://zulip.example.org/… the URL's stream (through an incoming webhook)",
        ),
        ({"format": "ntfy", "url": "https://ntfy.sh/SECRETtopic", "token": "tk_SECRET"}, "https://ntfy.sh/…"),
        ({"format": "rocketchat", "url": "https://chat.example.org/hooks/SECRET/SECRET"}, "https://chat.example.org/…"),
        ({"format": "slack", "url": "https://hooks.slack.com/services/T0/B0/SECRET"}, "https://hooks.slack.com/…"),
    ],
)
def test_describe_hides_every_secret(keys: dict[str, str], line: str) -> None:
    shown = destination.describe(hook(**keys))
    assert shown == line
    assert "SECRET" not in shown and TOKEN not in shown and BOT.split(":")[1] not in shown


def test_two_rooms_of_one_bot_share_a_pace_and_are_two_destinations() -> None:
    first, second = hook(**MATRIX), hook(**(MATRIX | {"room": "!other:example.org"}))
    another_bot = hook(**(MATRIX | {"token": "syt_another_bot"}))
    assert destination.pace_key(first) == destination.pace_key(second) != destination.pace_key(another_bot)
    assert destination.identity(first) != destination.identity(second)


def test_a_webhook_url_is_all_three() -> None:
    slack = hook(format="slack", url="https://hooks.slack.com/services/T0/B0/x")
    assert destination.pace_key(slack) == destination.identity(slack) == "https://hooks.slack.com/services/T0/B0/x"
