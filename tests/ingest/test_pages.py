"""The page fetcher: HTML only, once per page, two at a time per host, a wait, robots.txt, the address policy."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from monitor.ingest import netguard
from monitor.ingest.netguard import Address
from monitor.ingest.pages import Page, PageFetcher, PageRequest, Policy
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer, redirect, reply, serve_file

PAGES = FIXTURES / "pages"
POLICY = Policy(deadline=5, max_bytes=1024 * 1024, max_text=200_000, gap=0.1, robots=False, max_connections=20)
HTML = {"Content-Type": "text/html; charset=utf-8"}
ARTICLE = (PAGES / "de-news.html").read_bytes()


def extract(markup: str, url: str, max_text: int) -> str:
    """Extract in this process: the tests need no worker."""
    from monitor.ingest.extract import main_text

    return main_text(markup, url, max_text)


def request(url: str, allow_private: bool = True, feed: str = "zeitung") -> PageRequest:
    return PageRequest(feed, url, "url:" + url, allow_private)


class Site:
    """A mock transport: answers by path, counts requests, and the most run at once per host."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.answer = answer or (lambda _r: httpx.Response(200, headers=HTML, content=ARTICLE))
        self.requests: list[str] = []
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        host = req.url.host
        with self.lock:
            self.requests.append(str(req.url))
            self.running[host] = self.running.get(host, 0) + 1
            self.most[host] = max(self.most.get(host, 0), self.running[host])
        try:
            return self.answer(req)
        finally:
            with self.lock:
                self.running[host] -= 1


@pytest.fixture
def recorded() -> list[Page]:
    return []


def fetcher_for(site: Site, recorded: list[Page]) -> PageFetcher:
    return PageFetcher(recorded.append, lambda: httpx.Client(transport=httpx.MockTransport(site)))


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def pages(site: Site, recorded: list[Page]) -> Iterator[PageFetcher]:
    fetcher = fetcher_for(site, recorded)
    yield fetcher
    fetcher.close()


def test_a_page_is_read_and_recorded(pages: PageFetcher, recorded: list[Page]) -> None:
    [page] = pages.fetch([request("https://zeitung.example/a")], POLICY, extract, 10)
    assert page.ok and "vierten Röhre des Elbtunnels" in page.text and "Impressum" not in page.text
    assert recorded == [page]


def test_a_page_is_fetched_once(pages: PageFetcher, site: Site) -> None:
    twice = [request("https://zeitung.example/a"), request("https://zeitung.example/a", feed="andere")]
    assert len(pages.fetch(twice, POLICY, extract, 10)) == 1
    again = pages.fetch([request("https://zeitung.example/a")], POLICY, extract, 10)
    assert again == [] and site.requests == ["https://zeitung.example/a"]


def test_at_most_two_requests_at_a_time_per_host(recorded: list[Page]) -> None:
    release = threading.Event()

    def slow(_request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    site = Site(slow)
    fetcher = fetcher_for(site, recorded)
    policy = Policy(5, 1024 * 1024, 200_000, gap=0.1, robots=False, max_connections=20)
    many = [request(f"https://{host}.example/{n}") for host in ("a", "b") for n in range(5)]
    threading.Timer(1.5, release.set).start()
    try:
        pages = fetcher.fetch(many, policy, extract, 30)
    finally:
        fetcher.close()
    assert all(page.ok for page in pages) and len(pages) == 10
    assert site.most == {"a.example": 2, "b.example": 2}


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        (httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=b"%PDF-1.4"), "not_html"),
        (httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"%PDF-1.4\n\x00\x01"), "not_html"),
        (httpx.Response(200, headers=HTML, content=b"<html><body><script>app()</script></body></html>"), "empty"),
        (httpx.Response(200, headers=HTML, content=b"<p>x</p>" * 200_000), "too_large"),
        (httpx.Response(404, headers=HTML, content=b"gone"), "http"),
    ],
)
def test_a_page_that_fails_says_how(response: httpx.Response, outcome: str, recorded: list[Page]) -> None:
    fetcher = fetcher_for(Site(lambda _r: response), recorded)
    try:
        [page] = fetcher.fetch([request("https://zeitung.example/a")], POLICY, extract, 10)
    finally:
        fetcher.close()
    assert page.outcome == outcome and page.text == "" and page.error and page.error.startswith("page of feed")
    assert recorded == [page]


def test_a_page_not_read_in_time_is_late(recorded: list[Page]) -> None:
    release = threading.Event()

    def stuck(_request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    site = Site(stuck)
    fetcher = fetcher_for(site, recorded)
    links = [request(f"https://zeitung.example/{n}") for n in range(3)]
    try:
        pages = fetcher.fetch(links, POLICY, extract, 0.5)
        release.set()
    finally:
        fetcher.close()
    assert [page.outcome for page in pages] == ["late"] * 3
    # Two were under way: finished, and recorded as late; the third was never requested.
    assert len(site.requests) == 2
    assert sorted(page.outcome for page in recorded) == ["late"] * 3


def test_robots_txt_is_honoured_when_asked(recorded: list[Page]) -> None:
    def answer(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/robots.txt":
            return httpx.Response(200, content=b"User-agent: *\nDisallow: /intern/\n")
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    site = Site(answer)
    fetcher = fetcher_for(site, recorded)
    polite = Policy(5, 1024 * 1024, 200_000, gap=0.1, robots=True, max_connections=20)
    links = [request("https://zeitung.example/intern/a"), request("https://zeitung.example/b")]
    try:
        pages = {page.url: page for page in fetcher.fetch(links, polite, extract, 10)}
        rude = fetcher.fetch([request("https://zeitung.example/intern/c")], POLICY, extract, 10)
    finally:
        fetcher.close()
    assert pages["https://zeitung.example/intern/a"].outcome == "robots"
    assert pages["https://zeitung.example/b"].ok and rude[0].ok  # robots = false: not asked
    assert site.requests.count("https://zeitung.example/robots.txt") == 1
    assert "https://zeitung.example/intern/a" not in site.requests


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.routes["/article"] = serve_file(PAGES / "de-news.html", HTML["Content-Type"])
        yield running


def test_a_public_feed_leads_only_to_public_pages(
    server: FeedServer, recorded: list[Page], monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolve(host: str, port: int) -> list[Address]:
        return [Address("127.0.0.1", host == "public.test")]

    monkeypatch.setattr(netguard, "resolve", resolve)
    server.routes["/moved"] = redirect(server.url("/article"))
    fetcher = PageFetcher(recorded.append)
    try:
        private = fetcher.fetch([request(server.url("/article"), allow_private=False)], POLICY, extract, 10)
        moved = fetcher.fetch(
            [request(server.url("/moved", host="public.test"), allow_private=False)], POLICY, extract, 10
        )
        trusted = fetcher.fetch([request(server.url("/article", host="intranet.test"))], POLICY, extract, 10)
    finally:
        fetcher.close()
    assert private[0].outcome == "blocked" and moved[0].outcome == "blocked"
    assert "not a public address" in (moved[0].error or "")
    assert trusted[0].ok  # the feed itself was on a private address: so may its pages be
    assert server.hits("/article") == 1 and server.hits("/moved") == 1


def test_a_page_over_real_sockets_gives_its_validators(server: FeedServer, recorded: list[Page]) -> None:
    server.routes["/tagged"] = reply(200, ARTICLE, {**HTML, "ETag": '"v7"', "Last-Modified": "Tue, 01 Dec 2026"})
    fetcher = PageFetcher(recorded.append)
    try:
        [page] = fetcher.fetch([request(server.url("/tagged"))], POLICY, extract, 10)
    finally:
        fetcher.close()
    assert page.ok and (page.status, page.etag, page.last_modified) == (200, '"v7"', "Tue, 01 Dec 2026")
