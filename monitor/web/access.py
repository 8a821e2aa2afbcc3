"""Who may read the web pages, and the headers every page answer carries.

- With ``[server] token`` set, a request must carry it as a bearer token (``Authorization: Bearer TOKEN``) or as
  the password of basic authentication (any user name): otherwise ``401`` with a basic-auth challenge, so that a
  browser asks for it. The comparison takes the same time wherever the two differ (``hmac.compare_digest``).
- Without a token, the pages are served only on a loopback address, and only to a request whose ``Host`` is a
  loopback name or address (a web page elsewhere cannot reach them by pointing a name of its own at 127.0.0.1).
  On any other address they answer ``403`` naming ``[server] token``; ``/healthz`` and ``/metrics`` (outside
  this wing) stay open either way.
- Every answer forbids scripts, styles and connections from anywhere but the daemon itself (a strict
  Content-Security-Policy), framing, content sniffing, referrers and caching.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.settings.values import is_loopback

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
CHALLENGE = 'Basic realm="monitor", charset="UTF-8"'


@dataclass(frozen=True)
class Verdict:
    """Why a request may not read the pages: its status code and message (none when it may)."""

    status: int
    message: str


def verdict(headers: Headers, token: str | None, refused: str | None) -> Verdict | None:
    """Return why a request with these headers may not read the pages, or None when it may."""
    if refused is not None:
        return Verdict(403, f"{refused}: set [server] token to serve them on this address")
    if token is None:
        host = _host(headers.get("host", ""))
        if not is_loopback(host):
            return Verdict(403, "without [server] token the pages answer only to a loopback host (127.0.0.1, ::1)")
        return None
    given = presented(headers.get("authorization", ""))
    if given is None or not hmac.compare_digest(given.encode(), token.encode()):
        return Verdict(401, "the pages need the [server] token (as a bearer token or a basic-auth password)")
    return None


def presented(authorization: str) -> str | None:
    """Return the token a request's Authorization header presents (bearer, or a basic-auth password)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, colon, password = decoded.partition(":")
        return password if colon else None
    return None


def _host(header: str) -> str:
    """Return the host of a Host header, without its port or the brackets of an IPv6 address."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rpartition(":")[0] if ":" in header else header


class Access:
    """The pages behind their policy: refused, or answered with the safety headers."""

    def __init__(self, app: ASGIApp, token: str | None, refused: str | None) -> None:
        self.app = app
        self.token = token
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(name).lower() for name, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        denied = verdict(Headers(scope=scope), self.token, self.refused)
        if denied is None:
            await self.app(scope, receive, with_headers)
            return
        headers = {"www-authenticate": CHALLENGE} if denied.status == 401 else {}
        answer = Response(f"{denied.message}\n", denied.status, headers, media_type="text/plain")
        await answer(scope, receive, with_headers)
