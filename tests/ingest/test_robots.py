"""robots.txt: read once per host, its groups and Crawl-delay, what a missing or unreachable file means."""

from __future__ import annotations

import pytest

from monitor.errors import FetchError
from monitor.ingest.fetcher import FetchResult, StatusError
from monitor.ingest.robots import KEEP, RETRY, Robots, robots_url

FILE = b"""
User-agent: *
Disallow: /private/
Crawl-delay: 3

User-agent: monitor
Disallow: /archives/
Crawl-delay: 500
"""


class FakeSite:
    """Answers robots.txt requests as told, counting them and the validators they carry."""

    def __init__(self, answer: bytes | Exception, etag: str | None = None) -> None:
        self.answer = answer
        self.etag = etag
        self.asked: list[tuple[str, str | None, str | None]] = []

    def __call__(self, url: str, etag: str | None, modified: str | None) -> FetchResult:
        self.asked.append((url, etag, modified))
        if isinstance(self.answer, Exception):
            raise self.answer
        if etag is not None and etag == self.etag:
            return FetchResult(304, None, etag, None, {}, url)
        return FetchResult(200, self.answer, self.etag, None, {}, url)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://news.example/2026/article", True),
        ("https://news.example/archives/2019", False),  # our own group
        ("https://news.example/private/x", True),  # the * group does not apply: ours does
    ],
)
def test_the_group_of_our_product_token_applies(url: str, allowed: bool) -> None:
    verdict, asked = Robots().check(url, FakeSite(FILE))
    assert verdict.allowed is allowed and asked
    assert verdict.delay == 60  # a Crawl-delay of 500 s is read as a minute
    if not allowed:
        assert verdict.reason == "https://news.example/robots.txt disallows it" and verdict.kind == "robots"


@pytest.mark.parametrize(
    ("answer", "allowed", "kind", "kept"),
    [
        (StatusError("robots.txt: HTTP 404 from news.example", 404, None), True, "robots", KEEP),
        (StatusError("robots.txt: HTTP 403 from news.example", 403, None), True, "robots", KEEP),
        (StatusError("robots.txt: HTTP 503 from news.example", 503, None), False, "robots", RETRY),
        (StatusError("robots.txt: HTTP 429 from news.example", 429, "60"), False, "robots", RETRY),
        (FetchError("robots.txt: news.example did not answer within 5 s", "timeout"), False, "robots", RETRY),
        (FetchError("robots.txt: redirect to 10.0.0.1 refused", "blocked"), False, "blocked", RETRY),
    ],
)
def test_a_missing_file_allows_everything_and_an_unreachable_one_nothing(
    answer: Exception, allowed: bool, kind: str, kept: float
) -> None:
    clock, site = Clock(), FakeSite(answer)
    robots = Robots(clock)
    verdict, _ = robots.check("https://news.example/a", site)
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.kind == kind and str(answer) in verdict.reason
    clock.now += kept - 1
    robots.check("https://news.example/b", site)
    assert len(site.asked) == 1  # kept until then
    clock.now += 2
    robots.check("https://news.example/c", site)
    assert len(site.asked) == 2


def test_one_file_per_host_read_again_conditionally_a_day_later() -> None:
    clock, site = Clock(), FakeSite(FILE, etag='"r1"')
    robots = Robots(clock)
    for path in ("/a", "/b", "/archives/c"):
        robots.check(f"https://news.example{path}", site)
    robots.check("https://other.example/a", site)
    assert [url for url, _, _ in site.asked] == ["https://news.example/robots.txt", "https://other.example/robots.txt"]
    clock.now += KEEP + 1
    verdict, asked = robots.check("https://news.example/archives/d", site)
    assert asked and site.asked[-1] == ("https://news.example/robots.txt", '"r1"', None)
    assert not verdict.allowed  # a 304 keeps the rules read before


def test_a_host_is_known_from_its_first_reading_until_its_file_expires() -> None:
    clock, site = Clock(), FakeSite(FILE)
    robots = Robots(clock)
    assert not robots.known("https://news.example/a")
    robots.check("https://news.example/a", site)
    assert robots.known("https://news.example/b") and not robots.known("https://other.example/a")
    clock.now += KEEP + 1
    assert not robots.known("https://news.example/b")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://News.Example/a/b?c=d", "https://news.example"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("http://[::1]:81/x", "http://[::1]:81"),
    ],
)
def test_robots_txt_lives_at_the_root_of_each_origin(url: str, origin: str) -> None:
    assert robots_url(url) == (origin, f"{origin}/robots.txt")
