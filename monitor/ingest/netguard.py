"""What a feed request may reach and for how long: the address policy, the resolver hook, guarded connections.

A feed's own URL, written by the operator, may point anywhere (an intranet feed is fine). Once a redirect comes
from a public address, every later hop must be public too: a target that resolves to a loopback, private,
link-local, shared (CGNAT) or unique-local address (``NOT_PUBLIC``; cloud metadata services live there) is
refused before any byte of the request is sent. The policy is applied three times, so that no path skips it:

- ``GuardedTransport.handle_request`` resolves the target of every request before the pool is asked for a
  connection, so a redirect to an internal address is refused even when a kept-alive connection to it is open;
- ``GuardedBackend.connect_tcp`` checks the addresses a new connection may go to, and connects to exactly the
  address it checked, so a name that resolves elsewhere a moment later (DNS rebinding) gains nothing;
- ``GuardedStream.write`` refuses to send on a connection whose far end is not public, which covers a pooled
  connection opened earlier, for a URL that was allowed to be private, to a name that now resolves elsewhere.

``fetcher.fetch`` says what the request in progress on its thread may do with ``hop(allow_private, expires)``;
``GuardedBackend`` reads it when it connects and on every read and write, so that no server, not even one that
drips a byte at a time, stretches a request past its deadline. Outside a ``hop`` every address is allowed and
only the usual timeouts apply. ``require_public`` applies the policy to a URL found in a document.

``resolve`` is the one seam for tests: replace it (``monkeypatch.setattr(netguard, "resolve", fake)``) to make a
name such as ``public.test`` lead to 127.0.0.1 and count as public.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any

import httpcore
import httpx

from monitor.errors import FetchError

NOT_PUBLIC = tuple(
    ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches the loopback
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT, some cloud metadata services)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, where cloud metadata services answer
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


@dataclass(frozen=True)
class Address:
    """One resolved address of a host, and whether it counts as public."""

    ip: str
    public: bool


def is_public(ip: str) -> bool:
    """Return whether an IP address is outside the loopback, private, link-local and shared ranges."""
    try:
        address = ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not any(address in network for network in NOT_PUBLIC)


def system_resolve(host: str, port: int) -> list[Address]:
    """Return the addresses the system resolver gives for ``host``, in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    ips = dict.fromkeys(str(info[4][0]) for info in infos)
    return [Address(ip, is_public(ip)) for ip in ips]


resolve: Callable[[str, int], list[Address]] = system_resolve


@dataclass(frozen=True)
class Hop:
    """What the request in progress may do: reach non-public addresses or not, and until when (monotonic)."""

    allow_private: bool
    expires: float | None


_HOP: ContextVar[Hop | None] = ContextVar("monitor_netguard_hop", default=None)


@contextmanager
def hop(allow_private: bool, expires: float | None) -> Iterator[None]:
    """Apply an address policy and a deadline to the requests made on this thread inside the block."""
    token = _HOP.set(Hop(allow_private, expires))
    try:
        yield
    finally:
        _HOP.reset(token)


def peer(response: httpx.Response) -> Address | None:
    """Return the address the response came from, if it came through a guarded connection."""
    stream = response.extensions.get("network_stream")
    return stream.address if isinstance(stream, GuardedStream) else None


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """Return ``timeout`` shortened to what is left of the current hop's deadline; raise ``expired`` if none is."""
    current = _HOP.get()
    if current is None or current.expires is None:
        return timeout
    left = current.expires - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _lookup(host: str, port: int, timeout: float | None) -> list[Address]:
    """Return ``resolve(host, port)``, given up after ``timeout`` seconds (getaddrinfo itself has no timeout)."""
    outcome: list[list[Address] | Exception] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(resolve(host, port))
        except Exception as exc:  # handed to the waiting thread below
            outcome.append(exc)
        finally:
            done.set()

    # A daemon thread, not a pool: a lookup that hangs must never hold up the process's exit.
    threading.Thread(target=work, name="resolve", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"looking up {host} took longer than {timeout:g} s")
    result = outcome[0]
    if isinstance(result, Exception):
        raise FetchError(f"cannot resolve {host}: {result}", "dns")
    if not result:
        raise FetchError(f"cannot resolve {host}: no address", "dns")
    return result


def _refuse_private(host: str, addresses: list[Address]) -> None:
    """Raise FetchError (``blocked``) if one of the addresses a redirect's ``host`` resolves to is not public."""
    for address in addresses:
        if not address.public:
            message = f"redirect to {host} refused: it resolves to {address.ip}, not a public address"
            raise FetchError(message, "blocked")


def require_public(url: str, timeout: float) -> None:
    """Raise FetchError unless every address the host of ``url`` resolves to is public (``blocked`` if not)."""
    try:
        target = httpx.URL(url)
        host, port = target.host, target.port or (443 if target.scheme == "https" else 80)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise FetchError(f"{url!r} is not a valid URL", "blocked") from None
    if not host:
        raise FetchError(f"{url!r} has no host", "blocked")
    try:
        addresses = _lookup(host, port, timeout)
    except httpcore.ConnectTimeout as exc:
        raise FetchError(str(exc), "timeout") from None
    for address in addresses:
        if not address.public:
            raise FetchError(f"{host} resolves to {address.ip}, not a public address", "blocked")


class GuardedStream(httpcore.NetworkStream):
    """A connection that knows the address it reached and keeps every read and write within the hop's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, address: Address) -> None:
        self._stream = stream
        self.address = address

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return the next bytes received, waiting no longer than the deadline allows."""
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send bytes, waiting no longer than the deadline allows; raise FetchError if the hop may not reach us."""
        current = _HOP.get()
        if current is not None and not current.allow_private and not self.address.public:
            # A kept-alive connection opened for a request that was allowed to reach a private address.
            message = f"redirect refused: its open connection reaches {self.address.ip}, not a public address"
            raise FetchError(message, "blocked")
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        """Close the connection."""
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        """Return this connection wrapped in TLS, still guarded."""
        stream = self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout))
        return GuardedStream(stream, self.address)

    def get_extra_info(self, info: str) -> Any:
        """Return what httpcore asks about the underlying connection."""
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Open TCP connections to the addresses ``resolve`` gives, refusing non-public ones when the hop says so."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Return a connection to the first reachable address of ``host``; raise FetchError if it is refused."""
        current = _HOP.get()
        addresses = _lookup(host, port, _time_left(timeout, httpcore.ConnectTimeout))
        if current is not None and not current.allow_private:
            _refuse_private(host, addresses)
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self._backend.connect_tcp(
                    address.ip, port, _time_left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return GuardedStream(stream, address)
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Refuse: feeds are fetched over TCP only."""
        raise httpcore.ConnectError("feeds are fetched over TCP only")

    def sleep(self, seconds: float) -> None:
        """Wait, as httpcore's retries ask."""
        time.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Return the TLS settings shared by every guarded client (building them reads the CA bundle: do it once)."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connections opened by ``GuardedBackend``."""

    def __init__(self, limits: httpx.Limits) -> None:
        context = _ssl_context()
        super().__init__(verify=context, limits=limits, trust_env=False)
        # httpx offers no way to pass a network backend to the pool it builds: build the same pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Return the answer to ``request``, refused before the pool gives it a connection if the hop forbids it."""
        current = _HOP.get()
        if current is not None and not current.allow_private:
            host = request.url.host
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            timeouts = request.extensions.get("timeout", {})
            try:
                addresses = _lookup(host, port, _time_left(timeouts.get("connect"), httpcore.ConnectTimeout))
            except httpcore.ConnectTimeout as exc:
                raise httpx.ConnectTimeout(str(exc), request=request) from None
            _refuse_private(host, addresses)
        return super().handle_request(request)
