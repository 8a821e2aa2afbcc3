"""The request a format makes of a payload: where it goes, how it is encoded, and how to read a platform's answer.

A webhook URL is all the Slack-like formats need: the payload is posted to it as JSON (``post_json``). The chat
platforms reached through an API need more of the settings (a room, a chat, a token), handed over as a
``Target``, and each builds its own ``Request`` from the target, the delivery's stable id and the payload: the
method, the URL, the headers and the body bytes. ``Lookup`` is a request whose answer completes the target
before the first send (a Matrix room alias resolved to the room's id), ``wait_in`` reads the wait a platform
asked for from a JSON answer (``retry_after``, ``parameters.retry_after``, ``retry_after_ms``).

Everything here is pure: no I/O, no clock. A target holds secrets (tokens): it is never logged, and neither is
the URL of a request built from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias
from urllib.parse import urlencode

from monitor.delivery.notify.body import encode

JSON = "application/json"


@dataclass(frozen=True)
class Target:
    """Where one webhook posts: its URL and, for the API formats, the settings that address and sign a request."""

    url: str
    room: str | None = None
    token: str | None = None
    chat_id: str | None = None
    stream: str | None = None
    topic: str | None = None
    bot_email: str | None = None


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to send."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes


Builder: TypeAlias = Callable[[Target, str, dict[str, Any]], Request]
WaitReader: TypeAlias = Callable[[str], float | None]


@dataclass(frozen=True)
class Lookup:
    """A request made once per process before the first send, whose answer completes the target."""

    # The request to make for a target, or None when the target is complete as it is.
    request: Callable[[Target], Request | None]
    # The completed target read from a successful answer's text, or None when the answer says nothing usable.
    apply: Callable[[Target, str], Target | None]


def post_json(target: Target, _message_id: str, payload: dict[str, Any]) -> Request:
    """Return the request that posts payload as JSON to the webhook URL."""
    return Request("POST", target.url, MappingProxyType({"Content-Type": JSON}), encode(payload))


def json_request(method: str, url: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None) -> Request:
    """Return a request with payload as its JSON body."""
    return Request(method, url, MappingProxyType({"Content-Type": JSON, **(headers or {})}), encode(payload))


def form_request(url: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Request:
    """Return a POST request with fields as its form-encoded body (UTF-8)."""
    content = urlencode(dict(fields)).encode("ascii")
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    return Request("POST", url, MappingProxyType({**kind, **(headers or {})}), content)


def base(url: str) -> str:
    """Return a server URL without the slashes that end it, so that API paths can follow it."""
    return url.rstrip("/")


def json_field(text: str, *path: str) -> object:
    """Return the value at path in the JSON object text holds, or None when text is no such object."""
    try:
        value: object = json.loads(text)
    except (ValueError, RecursionError):
        return None
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def wait_in(*path: str, scale: float = 1.0, when: tuple[str, str] | None = None) -> WaitReader:
    """Return a reader of the seconds a JSON answer asks to wait: the number at path times scale.

    ``when`` is a (key, value) pair the answer must also hold (Matrix: ``errcode`` ``M_LIMIT_EXCEEDED``).
    """

    def read(text: str) -> float | None:
        if when is not None and json_field(text, when[0]) != when[1]:
            return None
        value = json_field(text, *path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) * scale

    return read
