"""Who may read the pages: the token as a bearer token or a basic-auth password, loopback hosts without one."""

from __future__ import annotations

import base64

import pytest
from starlette.datastructures import Headers

from monitor.web.access import presented, verdict

TOKEN = "s3cret-token-0123456789"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"bearer   {TOKEN} ", TOKEN),
        (basic("anyone", TOKEN), TOKEN),
        (basic("", TOKEN), TOKEN),
        (basic("me", "pa:ss"), "pa:ss"),
        ("Basic " + base64.b64encode(b"no colon").decode(), None),
        ("Basic not*base64", None),
        ("Bearer ", None),
        ("Digest x", None),
        ("", None),
    ],
)
def test_presented(authorization: str, expected: str | None) -> None:
    assert presented(authorization) == expected


@pytest.mark.parametrize(
    ("headers", "token", "refused", "status"),
    [
        ({"host": "127.0.0.1:9108"}, None, None, None),
        ({"host": "localhost:9108"}, None, None, None),
        ({"host": "[::1]:9108"}, None, None, None),
        ({"host": "127.0.0.1"}, None, None, None),
        ({"host": "evil.example:9108"}, None, None, 403),  # a name of another site pointed at 127.0.0.1
        ({"host": "192.168.1.5:9108"}, None, None, 403),
        ({}, None, None, 403),
        ({"host": "evil.example", "authorization": f"Bearer {TOKEN}"}, TOKEN, None, None),
        ({"host": "127.0.0.1", "authorization": basic("x", TOKEN)}, TOKEN, None, None),
        ({"host": "127.0.0.1"}, TOKEN, None, 401),
        ({"host": "127.0.0.1", "authorization": f"Bearer {TOKEN}x"}, TOKEN, None, 401),
        ({"host": "127.0.0.1", "authorization": f"Bearer {TOKEN[:-1]}"}, TOKEN, None, 401),
        ({"host": "127.0.0.1", "authorization": basic(TOKEN, "wrong")}, TOKEN, None, 401),
        ({"host": "127.0.0.1"}, None, "the web pages are off", 403),
        ({"host": "127.0.0.1", "authorization": f"Bearer {TOKEN}"}, None, "the web pages are off", 403),
    ],
)
def test_verdict(headers: dict[str, str], token: str | None, refused: str | None, status: int | None) -> None:
    found = verdict(Headers(headers), token, refused)
    assert (found.status if found else None) == status
    if status == 403 and refused:
        assert "[server] token" in found.message  # type: ignore[union-attr]
    if found is not None:
        assert TOKEN not in found.message
