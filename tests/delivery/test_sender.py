"""``send``: one request to one webhook, and what of the answer may reach the logs and the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import SecretStr

from monitor.delivery.sender import ANSWER_BYTES, ERROR_DETAIL, send
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
