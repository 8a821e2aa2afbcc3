"""Fetch feed documents over HTTP: conditional GET, a total deadline, a body cap, classified failures."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from monitor import USER_AGENT
from monitor.errors import FetchError

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchResult:
    """What a fetch brought back: the body (None on 304) and the validators for the next request."""

    status: int
    content: bytes | None
    etag: str | None
    last_modified: str | None
    headers: dict[str, str]
    url: str

    @property
    def not_modified(self) -> bool:
        """Return whether the server answered 304 Not Modified."""
        return self.status == 304


def make_client(timeout: float) -> httpx.Client:
    """Return the HTTP client shared by every fetch and delivery."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )


def fetch(
    client: httpx.Client,
    name: str,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    deadline: float = 20.0,
    max_bytes: int = 15 * 1024 * 1024,
) -> FetchResult:
    """Return the feed at ``url``, asking only for changes since ``etag``/``last_modified``."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    host = httpx.URL(url).host
    try:
        with client.stream("GET", url, headers=headers, timeout=deadline) as response:
            if response.status_code == 304:
                return _result(response, None, etag, last_modified)
            if not 200 <= response.status_code < 300:
                raise FetchError(
                    f"feed '{name}': HTTP {response.status_code} from {host}", "http", response.status_code
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"feed '{name}': response from {host} exceeds {max_bytes} bytes", "too_large")
                if time.monotonic() - started > deadline:
                    raise FetchError(f"feed '{name}': {host} did not answer within {deadline:g} s", "timeout")
            return _result(response, bytes(body), etag, last_modified)
    except httpx.TimeoutException:
        raise FetchError(f"feed '{name}': {host} did not answer within {deadline:g} s", "timeout") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"feed '{name}': more than {MAX_REDIRECTS} redirects from {host}", "redirect") from None
    except httpx.ConnectError as exc:
        kind = "dns" if _is_dns_error(exc) else "connect"
        raise FetchError(f"feed '{name}': cannot connect to {host}: {exc}", kind) from None
    except httpx.HTTPError as exc:
        raise FetchError(f"feed '{name}': request to {host} failed: {type(exc).__name__}: {exc}", "http") from None


def _result(response: httpx.Response, content: bytes | None, etag: str | None, modified: str | None) -> FetchResult:
    return FetchResult(
        status=response.status_code,
        content=content,
        etag=response.headers.get("etag") or etag,
        last_modified=response.headers.get("last-modified") or modified,
        headers={k.lower(): v for k, v in response.headers.items()},
        url=str(response.url),
    )


def _is_dns_error(exc: httpx.ConnectError) -> bool:
    text = str(exc).lower()
    return "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text
