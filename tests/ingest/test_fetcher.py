"""The fetcher through real loopback sockets: validators, caps, deadlines, redirects and the address policy."""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from monitor.errors import FetchError
from monitor.ingest import fetcher, netguard
from monitor.ingest.netguard import Address
from tests.conftest import FIXTURES
from tests.feedserver import MB, FeedServer, RawServer, drip, endless, gzip_bomb, gzipped, redirect, reply, serve_file

RSS = (FIXTURES / "feeds" / "rss2.xml").read_bytes()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.routes["/rss.xml"] = serve_file(FIXTURES / "feeds" / "rss2.xml", etag='"v1"')
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with fetcher.feed_client() as feed_client:
        yield feed_client


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve ``public.test`` to 127.0.0.1 counted as public, ``intranet.test`` to 10.0.0.7; record lookups."""
    looked_up: list[str] = []
    fixed = {"public.test": [Address("127.0.0.1", True)], "intranet.test": [Address("10.0.0.7", False)]}

    def resolve(host: str, port: int) -> list[Address]:
        looked_up.append(host)
        if host == "nowhere.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return fixed.get(host) or netguard.system_resolve(host, port)

    monkeypatch.setattr(netguard, "resolve", resolve)
    return looked_up


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the address of every TCP connection opened."""
    opened: list[str] = []
    connect = httpcore.SyncBackend.connect_tcp

    def spy(self: httpcore.SyncBackend, host: str, port: int, *args: object, **kwargs: object) -> object:
        opened.append(host)
        return connect(self, host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
    return opened


def test_conditional_requests(server: FeedServer, client: httpx.Client) -> None:
    first = fetcher.fetch(client, "world", server.url("/rss.xml"))
    assert first.status == 200 and first.content == RSS and first.etag == '"v1"'
    again = fetcher.fetch(client, "world", server.url("/rss.xml"), etag=first.etag, last_modified="Tue, 28 Jun 2022")
    assert again.not_modified and again.content is None and again.etag == '"v1"'
    headers = server.requests[-1][1]
    assert headers["if-none-match"] == '"v1"' and headers["if-modified-since"] == "Tue, 28 Jun 2022"
    assert headers["accept-encoding"] == "gzip, deflate"


def test_gzip_body_is_decompressed(server: FeedServer, client: httpx.Client) -> None:
    server.routes["/gz"] = gzipped(RSS)
    assert fetcher.fetch(client, "gz", server.url("/gz")).content == RSS


@pytest.mark.parametrize(
    ("route", "max_bytes"),
    [
        (endless(50 * MB), 15 * MB),  # a declared length over the cap: refused before reading
        (endless(50 * MB, declare_length=False), 15 * MB),  # no length: cut off at the cap
        (gzip_bomb(1024 * MB), 2 * MB),  # 1 MB on the wire, 1 GB once decompressed
    ],
    ids=["50MB-declared", "50MB-undeclared", "gzip-bomb"],
)
def test_bodies_over_the_cap_are_cut_off_in_flat_memory(
    server: FeedServer, client: httpx.Client, route: fetcher.Any, max_bytes: int
) -> None:
    server.routes["/big"] = route
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=f"exceeds {max_bytes} bytes") as caught:
            fetcher.fetch(client, "big", server.url("/big"), max_bytes=max_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "too_large"
    assert peak < 2 * max_bytes + 4 * MB


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_server_is_cut_off_at_the_deadline(
    server: FeedServer, client: httpx.Client, in_headers: bool
) -> None:
    server.routes["/drip"] = drip(in_headers=in_headers, every=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer within 1 s") as caught:
        fetcher.fetch(client, "drip", server.url("/drip"), deadline=1.0)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (500, {}, None),
        (503, {"Retry-After": "120"}, "120"),
        (429, {"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"}, "Wed, 21 Oct 2037 07:28:00 GMT"),
        (410, {}, None),
        (404, {}, None),
    ],
)
def test_error_statuses(
    server: FeedServer, client: httpx.Client, status: int, headers: dict[str, str], retry_after: str | None
) -> None:
    server.routes["/status"] = reply(status, b"no", headers)
    with pytest.raises(fetcher.StatusError, match=f"feed 'x': HTTP {status} from 127.0.0.1") as caught:
        fetcher.fetch(client, "x", server.url("/status"))
    assert (caught.value.kind, caught.value.status, caught.value.retry_after) == ("http", status, retry_after)


def test_redirects_are_followed_up_to_five(server: FeedServer, client: httpx.Client) -> None:
    for hop in range(5):
        server.routes[f"/hop{hop}"] = redirect(f"/hop{hop + 1}" if hop < 4 else "/rss.xml", 301)
    result = fetcher.fetch(client, "hops", server.url("/hop0"))
    assert result.content == RSS and result.url == server.url("/rss.xml")
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError, match="more than 5 redirects") as caught:
        fetcher.fetch(client, "loop", server.url("/loop"))
    assert caught.value.kind == "redirect"
    assert server.hits("/loop") == 6


@pytest.mark.parametrize(
    ("start", "location", "kind"),
    [
        ("public.test", "http://169.254.169.254/latest/meta-data/", "blocked"),
        ("public.test", "http://127.0.0.1:{port}/rss.xml", "blocked"),
        ("public.test", "http://[::1]:{port}/rss.xml", "blocked"),
        ("public.test", "http://intranet.test:{port}/rss.xml", "blocked"),
        ("public.test", "http://0.0.0.0:{port}/rss.xml", "blocked"),
        ("public.test", "http://public.test:{port}/rss.xml", None),  # public to public
        ("127.0.0.1", "http://127.0.0.1:{port}/rss.xml", None),  # the operator's intranet feed moved
        ("127.0.0.1", "http://public.test:{port}/again", "blocked"),  # public, then back to loopback
        ("public.test", "ftp://public.test/rss.xml", "redirect"),
        ("public.test", "file:///etc/passwd", "redirect"),
    ],
)
def test_redirects_from_public_addresses_stay_public(
    server: FeedServer,
    client: httpx.Client,
    names: list[str],
    connections: list[str],
    start: str,
    location: str,
    kind: str | None,
) -> None:
    server.routes["/moved"] = redirect(location.format(port=server.port))
    server.routes["/again"] = redirect(server.url("/rss.xml"))
    url = server.url("/moved", host=start)
    if kind is None:
        assert fetcher.fetch(client, "moved", url).content == RSS
        return
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(client, "moved", url)
    assert caught.value.kind == kind
    assert str(caught.value).startswith("feed 'moved': ")
    assert set(connections) == {"127.0.0.1"}  # refused before connecting anywhere else
    assert server.hits("/rss.xml") == 0


def test_a_pooled_connection_to_a_private_address_is_refused_too(
    server: FeedServer, client: httpx.Client, names: list[str]
) -> None:
    assert fetcher.fetch(client, "local", server.url("/rss.xml")).content == RSS  # leaves a kept-alive connection
    server.routes["/moved"] = redirect(server.url("/rss.xml"))
    with pytest.raises(FetchError, match="not a public address") as caught:
        fetcher.fetch(client, "moved", server.url("/moved", host="public.test"))
    assert caught.value.kind == "blocked"
    assert server.hits("/rss.xml") == 1  # the redirect's request never reached the server


@pytest.mark.parametrize(
    ("intranet", "refusal"),
    [
        ("127.0.0.1", "redirect to 127.0.0.1 refused: it resolves to 127.0.0.1, not a public address"),
        # A name whose connection was opened to a private address, and which now resolves as a public one.
        ("rebound.test", "redirect refused: its open connection reaches 127.0.0.1, not a public address"),
    ],
)
def test_a_redirect_over_an_open_keep_alive_connection_is_refused_before_a_byte_goes_out(
    monkeypatch: pytest.MonkeyPatch, intranet: str, refusal: str
) -> None:
    answers = {"rebound.test": [Address("127.0.0.1", False)], "public.test": [Address("127.0.0.1", True)]}
    monkeypatch.setattr(netguard, "resolve", lambda host, port: answers.get(host) or netguard.system_resolve(host, 0))
    with RawServer() as raw, fetcher.feed_client() as client:
        raw.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, RSS)
        raw.routes["/moved"] = (302, {"Location": raw.url("/rss.xml", host=intranet)}, b"")
        # The operator's intranet feed, twice: one connection, kept alive and reused.
        for _ in range(2):
            assert fetcher.fetch(client, "intranet", raw.url("/rss.xml", host=intranet)).content == RSS
        assert raw.requests() == [[b"GET /rss.xml HTTP/1.1"] * 2]
        before = bytes(raw.received[0])
        answers["rebound.test"] = [Address("127.0.0.1", True)]
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(client, "moved", raw.url("/moved", host="public.test"))
        assert (caught.value.kind, str(caught.value)) == ("blocked", f"feed 'moved': {refusal}")
    assert raw.ended[0].wait(5)  # the client hung up: everything it sent on the connection has arrived
    assert bytes(raw.received[0]) == before  # not a byte more
    assert raw.requests() == [[b"GET /rss.xml HTTP/1.1"] * 2, [b"GET /moved HTTP/1.1"]]


def test_every_hop_is_checked_before_the_pool_is_asked(
    server: FeedServer, client: httpx.Client, names: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    handle = httpcore.ConnectionPool.handle_request

    def spy(self: httpcore.ConnectionPool, request: httpcore.Request) -> httpcore.Response:
        asked.append(request.url.host.decode())
        return handle(self, request)

    monkeypatch.setattr(httpcore.ConnectionPool, "handle_request", spy)
    server.routes["/moved"] = redirect(server.url("/public", host="public.test"))
    server.routes["/public"] = redirect(server.url("/rss.xml", host="intranet.test"))
    with pytest.raises(FetchError, match=r"redirect to intranet\.test refused: it resolves to 10\.0\.0\.7"):
        fetcher.fetch(client, "moved", server.url("/moved"))
    assert asked == ["127.0.0.1", "public.test"]  # the third hop never reached the pool


def test_failures_are_classified(server: FeedServer, client: httpx.Client, names: list[str]) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    server.routes["/br"] = reply(200, b"...", {"Content-Encoding": "br"})
    server.routes["/broken-gzip"] = reply(200, b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})
    cases = {
        "http://nowhere.test/rss.xml": "dns",
        f"http://127.0.0.1:{port}/rss.xml": "connect",
        server.url("/br"): "decode",
        server.url("/broken-gzip"): "decode",
    }
    for url, kind in cases.items():
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(client, "x", url)
        assert caught.value.kind == kind, url


def test_a_name_lookup_that_hangs_is_cut_off(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netguard, "resolve", lambda host, port: time.sleep(3) or [])
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(client, "slow-dns", "http://slow.test/rss.xml", deadline=0.5)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.5


def test_a_name_lookup_that_hangs_on_a_redirect_is_cut_off(
    client: httpx.Client, server: FeedServer, names: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/moved"] = redirect("http://slow.test/rss.xml")
    lookup = netguard.resolve

    def slow(host: str, port: int) -> list[Address]:
        if host == "slow.test":
            time.sleep(3)
        return lookup(host, port)

    monkeypatch.setattr(netguard, "resolve", slow)
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(client, "slow-dns", server.url("/moved", host="public.test"), deadline=0.5)
    assert caught.value.kind == "timeout"
