from __future__ import annotations

import json
import re
from types import ModuleType

import httpx
import pytest

import monitor.delivery.notify
from monitor.delivery.notify import (
    FORMATS,
    REGISTRY,
    discord,
    generic,
    googlechat,
    matrix,
    mattermost,
    ntfy,
    render,
    rocketchat,
    slack,
    teams,
    telegram,
    zulip,
)
from monitor.delivery.notify.body import encode, size

from .alerts import HOSTILE, NORMAL, RTL_OVERRIDE, broken_text, live_mentions, strings
from .limits import violations

CHAT_FORMATS = sorted(set(FORMATS) - {"generic"})
ALERTS = pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])


@pytest.mark.parametrize(
    ("name", "module", "query", "max_bytes"),
    [
        ("generic", generic, {}, generic.MAX_BYTES),
        ("slack", slack, {}, slack.MAX_BYTES),
        ("mattermost", mattermost, {}, mattermost.MAX_BYTES),
        ("discord", discord, {"wait": "true"}, None),
        ("teams", teams, {}, teams.MAX_BYTES),
        ("googlechat", googlechat, {}, googlechat.MAX_BYTES),
        ("matrix", matrix, {}, matrix.MAX_BYTES),
        ("telegram", telegram, {}, None),
        ("zulip", zulip, {}, None),
        ("rocketchat", rocketchat, {}, None),
        ("ntfy", ntfy, {}, None),
    ],
)
def test_registry(name: str, module: ModuleType, query: dict[str, str], max_bytes: int | None) -> None:
    spec = monitor.delivery.notify.get(name)
    assert spec is REGISTRY[name]
    assert spec.render is module.render is FORMATS[name]
    assert spec.render_digest is module.render_digest
    assert dict(spec.query_params) == query
    assert spec.max_bytes == max_bytes
    assert {200, 202, 204} <= spec.success_statuses and spec.success_statuses <= set(range(200, 300))
    assert render(name, NORMAL) == spec.render(NORMAL)


def test_registry_names_every_format_once() -> None:
    assert sorted(REGISTRY) == [
        *("discord", "generic", "googlechat", "matrix", "mattermost", "ntfy", "rocketchat", "slack", "teams"),
        *("telegram", "zulip"),
    ]
    assert list(FORMATS) == list(REGISTRY)
    assert discord.DISCORD_QUERY == {"wait": "true"}


@pytest.mark.parametrize("name", ["msteams", "", "Slack", "generic ", "google-chat"])
def test_render_unknown_format(name: str) -> None:
    names = "discord, generic, googlechat, matrix, mattermost, ntfy, rocketchat, slack, teams, telegram, zulip"
    known = rf"\(known: {names}\)"
    with pytest.raises(KeyError, match=rf"notify: unknown format .* {known}"):
        render(name, NORMAL)
    with pytest.raises(KeyError, match=known):
        monitor.delivery.notify.render_digest(name, [NORMAL], "Otan", "1h")


@pytest.mark.parametrize("name", sorted(FORMATS))
@ALERTS
def test_every_format_is_json_and_clean(name: str, alert: monitor.delivery.notify.AlertMessage) -> None:
    payload = render(name, alert)
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    for text in strings(payload):
        assert RTL_OVERRIDE not in text
        assert not any(c in text for c in "\x00\x07\x1b\x7f\x85\u2060\ufeff\u202c\u2066")
        assert broken_text(text) == ""


@pytest.mark.parametrize("name", sorted(FORMATS))
@ALERTS
def test_every_format_within_limits(name: str, alert: monitor.delivery.notify.AlertMessage) -> None:
    payload = render(name, alert)
    assert violations(name, payload) == []
    spec = REGISTRY[name]
    assert spec.max_bytes is None or size(payload) <= spec.max_bytes


@pytest.mark.parametrize("name", CHAT_FORMATS)
def test_hostile_cut_with_an_ellipsis(name: str) -> None:
    # The 5,000-character title and 10,000-character snippet cannot fit any chat platform whole.
    texts = strings(render(name, HOSTILE))
    assert not any(len(text) >= 5_000 and "kcattax" in text for text in texts)
    assert any("…" in text and "kcattax" in text for text in texts)


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        # Slack syntax, which Mattermost also reads in webhook text.
        ("slack", ["<!channel>", "<!here>", "<@U123>", "<http://evil"]),
        ("mattermost", ["<!channel>", "<!here>", "<@U123>", "<http://evil", "<"]),
        # Discord's own user mention; its Markdown texts escape "<" with a backslash, removed below.
        ("discord", ["<@U123>"]),
        # Neither reads Slack syntax; their own mention forms (<at>, <users/all>) need what no alert sends.
        ("teams", []),
        ("googlechat", []),
    ],
)
def test_no_mention_survives(name: str, tokens: list[str]) -> None:
    for text in strings(render(name, HOSTILE)):
        if name == "discord":
            text = re.sub(r"\\.", "", text)
        assert live_mentions(text) == [], text[:300]
        assert [token for token in tokens if token in text] == [], text[:300]


@pytest.mark.parametrize("name", sorted(FORMATS))
@ALERTS
def test_body_is_what_httpx_posts(name: str, alert: monitor.delivery.notify.AlertMessage) -> None:
    payload = render(name, alert)
    request = httpx.Request("POST", "https://hooks.example/x", json=payload)
    assert request.content == encode(payload)
    assert json.loads(encode(payload)) == payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, b"{}"),
        ({"a": [1, "é"], "b": None}, '{"a":[1,"é"],"b":null}'.encode()),
        ({"e": "👍🏽"}, '{"e":"👍🏽"}'.encode()),
    ],
)
def test_encode(payload: object, expected: bytes) -> None:
    assert encode(payload) == expected
    assert size(payload) == len(expected)


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode({"x": float("nan")})
