"""Fetch feed documents over HTTP: conditional GET, a total deadline, a body cap, classified failures.

``fetch`` follows at most MAX_REDIRECTS redirects itself, over http and https only, each hop under the address
policy of ``netguard`` (a redirect from a public address must lead to a public one). The body is decompressed
here, a bounded piece at a time, so the cap counts decompressed bytes and a gzip bomb is cut off at the cap.
``FetchError.kind`` classifies a failure: ``dns``, ``connect``, ``timeout``, ``http`` (an error status, raised
as ``StatusError``), ``too_large``, ``redirect`` (too many, or to another scheme), ``blocked`` (a redirect to a
non-public address), ``decode`` (a body that does not decompress) and ``type`` (a Content-Type the caller did not
ask for, refused before the body is read). Article pages are fetched with the same function (``ingest.pages``):
their requests start from the address policy of their feed (``allow_private``) and accept only ``types``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import httpx

from monitor import USER_AGENT
from monitor.errors import FetchError
from monitor.ingest import netguard

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")
CHUNK = 64 * 1024
KEEPALIVE_CONNECTIONS = 20


@dataclass(frozen=True)
class FetchResult:
    """What a fetch brought back: the body (None on 304) and the validators for the next request."""

    status: int
    content: bytes | None
    etag: str | None
    last_modified: str | None
    headers: dict[str, str]
    url: str
    from_public: bool = True  # whether the answer came from a public address (or one not known to be private)

    @property
    def not_modified(self) -> bool:
        """Return whether the server answered 304 Not Modified."""
        return self.status == 304


class StatusError(FetchError):
    """Raised when the server answers with an error status; ``retry_after`` is its Retry-After header, if any."""

    def __init__(self, message: str, status: int, retry_after: str | None) -> None:
        super().__init__(message, "http", status)
        self.retry_after = retry_after


def make_client(timeout: float) -> httpx.Client:
    """Return the HTTP client shared by the deliveries."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )


def feed_client() -> httpx.Client:
    """Return a client for feeds: connections through ``netguard``, redirects left to ``fetch``, no proxy.

    The pool itself is unbounded: the poller decides how many fetches run at once. Proxies from the
    environment are not used, since the address policy must judge the address a request actually reaches.
    """
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS)
    return httpx.Client(
        transport=netguard.GuardedTransport(limits),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
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
    accept: str = ACCEPT,
    label: str | None = None,
    allow_private: bool = True,
    types: tuple[str, ...] | None = None,
) -> FetchResult:
    """Return the feed at ``url``, asking only for changes since ``etag``/``last_modified``; raise FetchError.

    Errors start with ``label`` (``feed 'NAME'`` by default). ``allow_private`` says whether the first request
    may reach a non-public address (the operator's own URL may); with ``types``, an answer whose Content-Type is
    none of them is refused (kind ``type``) before its body is read.
    """
    headers = {"Accept": accept, "Accept-Encoding": ACCEPT_ENCODING}
    prefix = label or f"feed '{name}'"
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    expires = time.monotonic() + deadline
    target = httpx.URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        host = target.host
        if target.scheme not in SCHEMES:
            raise FetchError(f"{prefix}: redirect to a {target.scheme}: URL refused", "redirect")
        with netguard.hop(allow_private, expires), _classified(prefix, host, deadline):
            request = client.build_request("GET", target, headers=headers, timeout=max(expires - time.monotonic(), 0))
            response = _send(client, request, prefix)
            try:
                address = netguard.peer(response)
                from_public = address is None or address.public  # not known to be private: judged as public
                if response.next_request is None:
                    _check_type(response, prefix, host, types)
                    result = _result(response, prefix, host, etag, last_modified, max_bytes, expires, deadline)
                    return replace(result, from_public=from_public)
                allow_private = allow_private and not from_public
                target = response.next_request.url
            finally:
                response.close()
    raise FetchError(f"{prefix}: more than {MAX_REDIRECTS} redirects from {httpx.URL(url).host}", "redirect")


def _send(client: httpx.Client, request: httpx.Request, prefix: str) -> httpx.Response:
    """Return the response to one request (one hop), its body not read yet."""
    try:
        return client.send(request, stream=True, follow_redirects=False)
    except FetchError as exc:  # netguard's: a name that does not resolve, an address refused
        raise FetchError(f"{prefix}: {exc}", exc.kind) from None


def _check_type(response: httpx.Response, prefix: str, host: str, types: tuple[str, ...] | None) -> None:
    """Raise FetchError (``type``) if a successful answer has a Content-Type other than ``types`` (when given)."""
    if types is None or not 200 <= response.status_code < 300:
        return
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in types:
        raise FetchError(f"{prefix}: {host} sent {kind[:100]}, not {' or '.join(types)}", "type")


@contextmanager
def _classified(prefix: str, host: str, deadline: float) -> Iterator[None]:
    """Turn the httpx exceptions raised inside the block into FetchError with a kind."""
    try:
        yield
    except httpx.TimeoutException:
        raise FetchError(f"{prefix}: {host} did not answer within {deadline:g} s", "timeout") from None
    except httpx.ConnectError as exc:
        failure = "dns" if _is_dns_error(exc) else "connect"
        raise FetchError(f"{prefix}: cannot connect to {host}: {exc}", failure) from None
    except httpx.HTTPError as exc:
        failure = "connect" if isinstance(exc, httpx.NetworkError) else "http"
        raise FetchError(f"{prefix}: request to {host} failed: {type(exc).__name__}: {exc}", failure) from None


def _result(
    response: httpx.Response,
    prefix: str,
    host: str,
    etag: str | None,
    modified: str | None,
    max_bytes: int,
    expires: float,
    deadline: float,
) -> FetchResult:
    """Return the result of a final (not redirected) answer, reading its body; raise FetchError on an error."""
    status = response.status_code
    if not (200 <= status < 300 or status == 304):
        raise StatusError(f"{prefix}: HTTP {status} from {host}", status, response.headers.get("retry-after"))
    content = None
    if status != 304:
        content = _read_body(response, prefix, host, max_bytes, expires, deadline)
    return FetchResult(
        status=status,
        content=content,
        etag=response.headers.get("etag") or etag,
        last_modified=response.headers.get("last-modified") or modified,
        headers={k.lower(): v for k, v in response.headers.items()},
        url=str(response.url),
    )


def _read_body(
    response: httpx.Response, prefix: str, host: str, max_bytes: int, expires: float, deadline: float
) -> bytes:
    """Return the decompressed body, cut off with FetchError past ``max_bytes`` or past the deadline."""
    too_large = FetchError(f"{prefix}: response from {host} exceeds {max_bytes} bytes", "too_large")
    encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
    decoder = _Decoder.of(encoding)
    if decoder is None:
        raise FetchError(f"{prefix}: {host} sent an unsupported Content-Encoding {encoding!r}", "decode")
    length = response.headers.get("content-length", "")
    if encoding == "identity" and length.isdigit() and int(length) > max_bytes:
        raise too_large
    body = bytearray()
    chunks: Iterable[bytes] = response.iter_raw(CHUNK)
    if response.is_stream_consumed:  # built whole in memory (a test transport), so already decoded
        chunks, decoder = [response.content], _Decoder(None)
    try:
        for raw in chunks:
            for piece in decoder.feed(raw):
                body += piece
                if len(body) > max_bytes:
                    raise too_large
            if time.monotonic() > expires:
                raise FetchError(f"{prefix}: {host} did not answer within {deadline:g} s", "timeout")
        body += decoder.flush()
    except zlib.error as exc:
        raise FetchError(f"{prefix}: cannot decompress the {encoding} body from {host}: {exc}", "decode") from None
    if len(body) > max_bytes:
        raise too_large
    return bytes(body)


class _Decoder:
    """Undo a Content-Encoding a bounded piece at a time, so that memory stays flat whatever the ratio."""

    def __init__(self, wbits: int | None) -> None:
        self._inflate = zlib.decompressobj(wbits) if wbits is not None else None

    @classmethod
    def of(cls, encoding: str) -> _Decoder | None:
        """Return the decoder of a Content-Encoding, or None if it is not one we asked for."""
        wbits = {"identity": None, "gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}
        # "deflate" should be zlib-wrapped; 32 + MAX_WBITS also accepts a gzip header, as some servers send.
        wbits["deflate"] = 32 + zlib.MAX_WBITS
        return cls(wbits[encoding]) if encoding in wbits else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded bytes of ``data``, at most CHUNK at a time."""
        if self._inflate is None:
            yield data
            return
        while data and not self._inflate.eof:
            yield self._inflate.decompress(data, CHUNK)
            data = self._inflate.unconsumed_tail

    def flush(self) -> bytes:
        """Return what the decoder still holds; raise zlib.error if the compressed stream stopped short."""
        inflate = self._inflate
        if inflate is None or inflate.eof:
            return b""
        rest = inflate.flush(CHUNK)
        if not self._ended():
            raise zlib.error("the compressed stream is cut short")
        return rest

    def _ended(self) -> bool:
        return self._inflate is None or self._inflate.eof


def _is_dns_error(exc: httpx.ConnectError) -> bool:
    text = str(exc).lower()
    return "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text
