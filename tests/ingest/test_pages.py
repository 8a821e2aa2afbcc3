"""The page fetcher: HTML only, once per page, two at a time per host, a wait, robots.txt, the address policy."""

from __future__ import annotations

import itertools
import threading
import time
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


def test_a_page_is_read_and_handed_to_its_caller_to_store(pages: PageFetcher, recorded: list[Page]) -> None:
    [page] = pages.fetch([request("https://zeitung.example/a")], POLICY, extract, 10)
    assert page.ok and "vierten Röhre des Elbtunnels" in page.text and "Impressum" not in page.text
    assert recorded == []  # the caller stores it, with the article it was read for


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


def test_two_requests_to_one_host_start_at_least_the_gap_apart(recorded: list[Page]) -> None:
    starts: list[float] = []

    def answer(_request: httpx.Request) -> httpx.Response:
        starts.append(time.monotonic())
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    fetcher = fetcher_for(Site(answer), recorded)
    policy = Policy(5, 1024 * 1024, 200_000, gap=0.3, robots=False, max_connections=20)
    try:
        pages = fetcher.fetch([request(f"https://zeitung.example/{n}") for n in range(3)], policy, extract, 30)
    finally:
        fetcher.close()
    assert all(page.ok for page in pages)
    # However fast or slow the machine, never closer than the gap (a slow one only spreads them further).
    assert all(later - earlier >= 0.3 - 0.01 for earlier, later in itertools.pairwise(starts))


def test_hosts_take_turns_so_a_feed_with_many_pages_holds_back_no_other(recorded: list[Page]) -> None:
    site = Site()
    fetcher = fetcher_for(site, recorded)
    one_at_a_time = Policy(5, 1024 * 1024, 200_000, gap=0.0, robots=False, max_connections=1)  # no gap to wait
    busy = [request(f"https://busy.example/{n}") for n in range(4)]
    quiet = [request("https://quiet.example/1")]
    try:
        first = fetcher.submit(busy, one_at_a_time, extract, 30)  # queued first, and more of them
        second = fetcher.submit(quiet, one_at_a_time, extract, 30)
        pages = fetcher.collect(first) + fetcher.collect(second)
    finally:
        fetcher.close()
    assert all(page.ok for page in pages)
    assert site.requests.index("https://quiet.example/1") <= 1  # the second request at the latest, not the fifth


def test_robots_txt_is_read_in_a_turn_of_its_own_holding_no_connection_through_the_gap(
    recorded: list[Page],
) -> None:
    def answer(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    site = Site(answer)
    fetcher = fetcher_for(site, recorded)
    # One connection in all, and a gap long enough for the other host's robots.txt to come first.
    polite = Policy(5, 1024 * 1024, 200_000, gap=1.0, robots=True, max_connections=1)
    links = [request("https://a.example/1"), request("https://b.example/1")]
    try:
        pages = fetcher.fetch(links, polite, extract, 30)
    finally:
        fetcher.close()
    assert all(page.ok for page in pages)
    # Each host's page waits its gap after that host's robots.txt, while the next host's robots.txt is read.
    assert site.requests == [
        "https://a.example/robots.txt",
        "https://b.example/robots.txt",
        "https://a.example/1",
        "https://b.example/1",
    ]


class Clock:
    """A clock the test moves: a wait measured on it is over when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_counts_from_when_the_pages_were_asked_for(recorded: list[Page]) -> None:
    release = threading.Event()

    def stuck(_request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200, headers=HTML, content=ARTICLE)

    clock = Clock()
    site = Site(stuck)
    fetcher = PageFetcher(recorded.append, lambda: httpx.Client(transport=httpx.MockTransport(site)), clock)
    one_at_a_time = Policy(5, 1024 * 1024, 200_000, gap=0.1, robots=False, max_connections=1)
    try:
        ticket = fetcher.submit([request(f"https://zeitung.example/{n}") for n in range(2)], one_at_a_time, extract, 30)
        clock.now += 31  # the feed waited its turn to be stored for longer than its wait: it waits no more
        pages = fetcher.collect(ticket)
        release.set()
    finally:
        fetcher.close()
    assert [page.outcome for page in pages] == ["late", "late"]
    assert site.requests == ["https://zeitung.example/0"]  # the other was never started
    assert [page.outcome for page in recorded] == ["late"]  # the one under way, finished with no one waiting


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
    assert recorded == []


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
    # Two were under way: finished, and recorded as late by the fetcher, since no one waits for them any more;
    # the third was never requested (its caller stores it as late).
    assert len(site.requests) == 2
    assert [page.outcome for page in recorded] == ["late"] * 2


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
