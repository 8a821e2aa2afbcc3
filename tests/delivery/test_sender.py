"""``send``: one request to one webhook, and what of the answer may reach the logs and the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import SecretStr

from monitor.delivery.sender import ANSWER_BYTES, ERROR_DETAIL, Outcome, forget_lookups, send
from monitor.settings.config import WebhookSettings

TOKEN = "T0K3Nabcdefghijklmnopqrstuvwx"
URL = f"https://hooks.example.test/services/T000/B000/{TOKEN}"
SHORT = "qhzvwk"
SHORT_URL = f"https://hooks.example.test/hooks/{SHORT}"
SIGNING = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="
Handler = Callable[[httpx.Request], httpx.Response]


def hook(url: str = URL, format: str = "generic", secret: str | None = None) -> WebhookSettings:
    return WebhookSettings(url=SecretStr(url), format=format, secret=SecretStr(secret) if secret else None)  # type: ignore[arg-type]


def post(handler: Handler, webhook: WebhookSettings) -> str:
    """Return the error send() makes of the handler's answer to one request."""
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        outcome, _ = send(client, "team", webhook, {"text": "hello"}, "msg_1", 5.0)
    assert not outcome.ok and outcome.error is not None
    return outcome.error


def prefixes(secret: str, shortest: int = 6) -> list[str]:
    """Return every beginning of secret of at least shortest characters (the whole when shorter)."""
    return [secret[:n] for n in range(min(shortest, len(secret)), len(secret) + 1)]


@pytest.mark.parametrize(
    ("url", "secret", "body"),
    [
        # The token past character 180: cut at 200 before redaction, its beginning used to survive.
        (URL, TOKEN, "x" * 185 + f"invalid url {URL}"),
        (URL, TOKEN, "x" * 190 + TOKEN),
        (URL, TOKEN, "y" * 175 + '{"url": "' + URL.replace("/", "\\/") + '"}'),
        (URL, TOKEN, "z" * 180 + URL.replace("/", "%2F").replace(":", "%3A")),
        # A short token without digits, echoed alone.
        (SHORT_URL, SHORT, f"no hook called {SHORT}"),
        (SHORT_URL, SHORT, "w " * 95 + f"'{SHORT}' is not a hook"),
    ],
)
def test_error_bodies_are_redacted_before_they_are_cut(url: str, secret: str, body: str) -> None:
    error = post(lambda _request: httpx.Response(500, text=body), hook(url))
    assert error.startswith("webhook 'team': HTTP 500 from https://hooks.example.test/…: ")
    assert "***" in error
    assert [p for p in prefixes(secret) if p in error] == []
    assert len(error.split(": ", 2)[2]) <= ERROR_DETAIL


def test_the_webhook_name_stays_readable() -> None:
    # The name is in every log line and in /metrics anyway; a path segment equal to it is no secret.
    url = f"https://hooks.example.test/hooks/team/{TOKEN}"
    error = post(lambda _request: httpx.Response(404, text=f"no hook team/{TOKEN}"), hook(url))
    assert error.endswith(": no hook team/***")


def test_the_signing_secret_is_redacted_too() -> None:
    key = SIGNING.removeprefix("whsec_")
    error = post(lambda _request: httpx.Response(401, text=f"bad key {key} for {SIGNING}"), hook(secret=SIGNING))
    assert "HTTP 401" in error and "bad key *** for ***" in error
    assert [p for p in prefixes(key, 8) if p in error] == []


def test_a_long_answer_is_read_no_further_than_needed() -> None:
    served: list[int] = []

    def body() -> Iterator[bytes]:
        for n in range(10_000):  # 10 MB if it were all read
            served.append(n)
            yield b"." * 1000

    error = post(lambda _request: httpx.Response(502, content=body()), hook())
    assert len(served) <= ANSWER_BYTES // 1000 + 2
    assert error.endswith("…")


def test_a_secret_cut_off_at_the_end_of_what_was_read_is_dropped() -> None:
    # A Workflows-style URL with a long signature: redacting every copy shrinks the answer read (4096 bytes) to
    # less than the quoted 200 characters, so the copy cut off at its end comes within the quote.
    signature = "S1g" * 100
    url = f"https://flow.example.test/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sig={signature}"
    error = post(lambda _request: httpx.Response(500, text=f"POST {url} " * 30), hook(url))
    detail = error.split(": ", 2)[2]  # after the webhook's name and host
    assert detail.startswith("POST *** POST ***") and detail.endswith("…")
    # The host may show (it names the receiver, as in the error's head); nothing after it does.
    assert [p for p in prefixes(url.removeprefix("https://flow.example.test")) if p in detail] == []
    assert [p for p in prefixes(signature) if p in error] == []


def test_connection_errors_are_redacted() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url} ({TOKEN})")

    error = post(refuse, hook())
    assert error.startswith("webhook 'team': request to https://hooks.example.test/… failed: ConnectError: ")
    assert [p for p in prefixes(TOKEN) if p in error] == []


BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def api_hook(format: str, **keys: str) -> WebhookSettings:
    return WebhookSettings.model_validate({"format": format, **keys})


def exchange(handler: Handler, webhook: WebhookSettings, body: dict[str, object], message_id: str = "msg_1") -> Outcome:
    """Return what send() made of one delivery to the webhook answered by handler."""
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        outcome, _ = send(client, "chat", webhook, body, message_id, 5.0)
    return outcome


def test_the_telegram_token_in_the_path_never_shows() -> None:
    # The Bot API echoes nothing of the kind, but a proxy in front of it may, in any encoding.
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=f"bad gateway for {request.url} ({request.url.raw_path.decode()})")

    hook = api_hook("telegram", token=BOT_TOKEN, chat_id="-100123")
    outcome = exchange(echo, hook, {"text": "x"})
    assert outcome.error is not None and outcome.error.startswith(
        "webhook 'chat': HTTP 502 from https://api.telegram.org/…"
    )
    assert [p for p in prefixes(BOT_TOKEN.split(":")[1], 8) if p in outcome.error] == []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}")

    failed = exchange(refuse, hook, {"text": "x"})
    assert failed.error is not None and failed.error.endswith("to https://api.telegram.org/bot***/sendMessage")
    assert [p for p in prefixes(BOT_TOKEN.split(":")[1], 8) if p in failed.error] == []


@pytest.mark.parametrize(
    ("format", "keys", "answer", "wait"),
    [
        ("discord", {"url": URL}, {"retry_after": 12.5}, 12.5),
        (
            "matrix",
            {"url": "https://matrix.example.test", "room": "!r:example.test", "token": "syt_x"},
            {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 4200},
            4.2,
        ),
        (
            "telegram",
            {"token": BOT_TOKEN, "chat_id": "42"},
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 9",
                "parameters": {"retry_after": 9},
            },
            9.0,
        ),
        (
            "zulip",
            {
                "url": "https://zulip.example.test",
                "stream": "s",
                "topic": "t",
                "bot_email": "b@z.test",
                "token": "k" * 32,
            },
            {"result": "error", "code": "RATE_LIMIT_HIT", "msg": "API usage exceeded rate limit", "retry-after": 3.5},
            3.5,
        ),
        ("rocketchat", {"url": "https://chat.example.test/hooks/abc/def"}, {"success": False}, None),
    ],
)
def test_a_rate_limited_answer_says_how_long_to_wait(
    format: str, keys: dict[str, str], answer: dict[str, object], wait: float | None
) -> None:
    limited = api_hook(format, **keys)
    outcome = exchange(lambda _request: httpx.Response(429, json=answer), limited, {"text": "x", "content": "x"})
    assert outcome.status == 429 and not outcome.permanent and outcome.retry_after == wait


def test_a_room_alias_is_looked_up_once_per_process() -> None:
    forget_lookups()
    calls: list[tuple[str, str]] = []

    def homeserver(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.raw_path.decode()))
        assert request.headers["authorization"] == "Bearer syt_alias_token"
        if "/directory/room/" in request.url.raw_path.decode():
            return httpx.Response(200, json={"room_id": "!resolved:example.test", "servers": ["example.test"]})
        return httpx.Response(200, json={"event_id": "$e"})

    hook = api_hook("matrix", url="https://matrix.example.test", room="#news:example.test", token="syt_alias_token")
    for number in range(3):
        assert exchange(homeserver, hook, {"body": "x"}, f"msg_{number}").ok
    assert calls == [
        ("GET", "/_matrix/client/v3/directory/room/%23news%3Aexample.test"),
        ("PUT", "/_matrix/client/v3/rooms/%21resolved%3Aexample.test/send/m.room.message/msg_0"),
        ("PUT", "/_matrix/client/v3/rooms/%21resolved%3Aexample.test/send/m.room.message/msg_1"),
        ("PUT", "/_matrix/client/v3/rooms/%21resolved%3Aexample.test/send/m.room.message/msg_2"),
    ]
    forget_lookups()


@pytest.mark.parametrize(
    ("status", "answer", "permanent", "says"),
    [
        (404, {"errcode": "M_NOT_FOUND", "error": "Room alias #gone:example.test not found"}, True, "HTTP 404"),
        (200, {"servers": []}, False, "no usable id"),
        (502, {"error": "bad gateway"}, False, "HTTP 502"),
    ],
)
def test_a_failed_lookup_is_the_outcome_and_nothing_is_sent(
    status: int, answer: dict[str, object], permanent: bool, says: str
) -> None:
    forget_lookups()
    methods: list[str] = []

    def homeserver(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(status, json=answer)

    hook = api_hook("matrix", url="https://matrix.example.test", room="#gone:example.test", token="syt_lookup_token")
    outcome = exchange(homeserver, hook, {"body": "x"})
    assert methods == ["GET"] and not outcome.ok and outcome.permanent is permanent
    assert outcome.error is not None and says in outcome.error and "syt_lookup_token" not in outcome.error
    assert outcome.error.startswith("webhook 'chat': ") and "https://matrix.example.test/…" in outcome.error


def test_each_format_sends_its_own_request_shape() -> None:
    seen: dict[str, httpx.Request] = {}

    def receiver(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request
        return httpx.Response(200, json={"ok": True})

    hooks = {
        "z.test": api_hook(
            "zulip", url="https://z.test", stream="news", topic="alerts", bot_email="bot@z.test", token="k" * 32
        ),
        "n.test": api_hook("ntfy", url="https://n.test/alerts_topic", token="tk_ntfytoken"),
        "r.test": api_hook("rocketchat", url="https://r.test/hooks/abc/def"),
    }
    for hook in hooks.values():
        assert exchange(receiver, hook, {"content": "hi", "title": "t", "message": "m", "text": "x"}).ok
    zulip = seen["z.test"]
    assert zulip.url.path == "/api/v1/messages" and zulip.headers["content-type"] == "application/x-www-form-urlencoded"
    assert zulip.headers["authorization"].startswith("Basic ") and b"content=hi" in zulip.content
    ntfy = seen["n.test"]
    assert ntfy.url.path == "/" and ntfy.headers["authorization"] == "Bearer tk_ntfytoken"
    assert json.loads(ntfy.content)["topic"] == "alerts_topic"
    assert seen["r.test"].url.path == "/hooks/abc/def" and json.loads(seen["r.test"].content)["text"] == "x"
    assert all(request.headers["webhook-id"] == "msg_1" for request in seen.values())


def test_a_room_that_refuses_for_good_is_looked_up_again() -> None:
    forget_lookups()
    rooms = iter(["!old:example.test", "!new:example.test"])
    sends: list[str] = []

    def homeserver(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        if "/directory/room/" in path:
            return httpx.Response(200, json={"room_id": next(rooms)})
        sends.append(path.split("/rooms/")[1].split("/")[0])
        if "old" in path:
            return httpx.Response(403, json={"errcode": "M_FORBIDDEN", "error": "User not in room"})
        return httpx.Response(200, json={"event_id": "$e"})

    hook = api_hook("matrix", url="https://matrix.example.test", room="#moved:example.test", token="syt_moved")
    refused = exchange(homeserver, hook, {"body": "x"}, "msg_1")
    assert refused.status == 403 and refused.permanent
    assert exchange(homeserver, hook, {"body": "x"}, "msg_2").ok
    assert sends == ["%21old%3Aexample.test", "%21new%3Aexample.test"]
    forget_lookups()


@pytest.mark.parametrize(
    ("keys", "secret"),
    [
        (
            {"format": "zulip", "url": "https://z.test", "stream": "s", "topic": "t"}
            | {"bot_email": "bot@z.test", "token": "ZULIPkeySECRET0123"},
            "ZULIPkeySECRET0123",
        ),
        (
            {"format": "matrix", "url": "https://m.test", "room": "!r:m.test", "token": "syt_SECRETtoken"},
            "syt_SECRETtoken",
        ),
        ({"format": "ntfy", "url": "https://n.test/topic_x", "token": "tk_SECRETntfy"}, "tk_SECRETntfy"),
    ],
)
def test_credentials_echoed_in_any_encoding_never_show(keys: dict[str, str], secret: str) -> None:
    # A proxy that quotes the request's headers back: Zulip's are the bot's email and key in base64.
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad request, Authorization: {request.headers['authorization']}")

    outcome = exchange(echo, api_hook(**keys), {"content": "x", "title": "t", "message": "m"})
    assert outcome.error is not None and outcome.error.endswith("Authorization: ***")
    assert secret not in outcome.error and "U0VDUkVU" not in outcome.error  # "SECRET" in base64
