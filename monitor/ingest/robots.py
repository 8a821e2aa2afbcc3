"""What each site's robots.txt lets the daemon fetch, read once per host and kept in memory.

The rules of the group for the ``monitor`` product token (else ``*``) apply, ``Crawl-delay`` included. As RFC 9309
says: a robots.txt that is not there (a 4xx answer) allows everything; one that cannot be reached (a 5xx or 429
answer, a timeout, a refused connection) forbids everything until it is read again. A file read is kept
KEEP (a day), a failure RETRY (an hour); when a kept file is read again, its ETag and Last-Modified make the
request conditional, and a 304 keeps it. One host's file is fetched by one thread at a time, the others wait
for its answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import httpx

from monitor.errors import FetchError
from monitor.ingest.fetcher import FetchResult, StatusError

AGENT = "monitor"  # the product token of the User-Agent, which robots.txt groups name
KEEP = 24 * 3600.0
RETRY = 3600.0
MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
MAX_CRAWL_DELAY = 60.0  # a longer Crawl-delay is read as this

# fetch(robots URL, etag, last modified) -> the answer, or FetchError; the caller applies its address policy.
Fetch = Callable[[str, "str | None", "str | None"], FetchResult]


@dataclass(frozen=True)
class Verdict:
    """Whether a URL may be fetched, the Crawl-delay its host asks for, and why not when it may not."""

    allowed: bool
    delay: float = 0.0
    reason: str = ""
    kind: str = "robots"  # the failure kind when not allowed: ``robots``, or ``blocked`` by the address policy


@dataclass
class _Entry:
    rules: RobotFileParser
    expires: float
    etag: str | None = None
    last_modified: str | None = None
    reason: str = ""
    kind: str = "robots"


def rules_of(text: str) -> RobotFileParser:
    """Return the rules of a robots.txt file's text."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def _everything(allowed: bool) -> RobotFileParser:
    """Return rules that allow every URL, or none."""
    return rules_of("" if allowed else "User-agent: *\nDisallow: /\n")


def robots_url(url: str) -> tuple[str, str]:
    """Return the host key (scheme, host and port) of a URL and the address of its robots.txt."""
    target = httpx.URL(url)
    origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
    return origin, f"{origin}/robots.txt"


class Robots:
    """The robots.txt rules of every host met, fetched on first need with ``fetch``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def known(self, url: str) -> bool:
        """Return whether the rules of ``url``'s host are at hand, so that ``check`` would ask the host nothing."""
        try:
            origin, _ = robots_url(url)
        except (httpx.InvalidURL, ValueError):
            return True  # ``check`` tells what is wrong with it
        with self._lock:
            entry = self._entries.get(origin)
        return entry is not None and entry.expires > self._clock()

    def check(self, url: str, fetch: Fetch) -> tuple[Verdict, bool]:
        """Return the verdict on ``url`` and whether robots.txt was requested to give it (a request to its host)."""
        origin, address = robots_url(url)
        with self._lock:
            host_lock = self._locks.setdefault(origin, threading.Lock())
        with host_lock:
            entry = self._entries.get(origin)
            asked = entry is None or entry.expires <= self._clock()
            if asked:
                entry = self._entries[origin] = self._read(address, entry, fetch)
        assert entry is not None
        delay = min(float(entry.rules.crawl_delay(AGENT) or 0), MAX_CRAWL_DELAY)
        if entry.rules.can_fetch(AGENT, url):
            return Verdict(True, delay), asked
        reason = entry.reason or f"{address} disallows it"
        return Verdict(False, delay, reason, entry.kind), asked

    def _read(self, address: str, previous: _Entry | None, fetch: Fetch) -> _Entry:
        """Return the entry of a host's robots.txt, fetched now (conditionally when a file was read before)."""
        now = self._clock()
        read_before = previous is not None and not previous.reason
        etag = previous.etag if previous is not None and read_before else None
        modified = previous.last_modified if previous is not None and read_before else None
        try:
            result = fetch(address, etag, modified)
        except StatusError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return _Entry(_everything(True), now + KEEP)  # no robots.txt: nothing is forbidden
            return _Entry(_everything(False), now + RETRY, reason=f"{address} cannot be read: {exc}")
        except FetchError as exc:
            kind = "blocked" if exc.kind == "blocked" else "robots"
            return _Entry(_everything(False), now + RETRY, reason=f"{address} cannot be read: {exc}", kind=kind)
        if result.not_modified and previous is not None:
            return _Entry(previous.rules, now + KEEP, previous.etag, previous.last_modified)
        text = (result.content or b"").decode("utf-8", errors="replace")
        return _Entry(rules_of(text), now + KEEP, result.etag, result.last_modified)
