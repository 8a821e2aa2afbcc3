"""Fetch the pages of new articles, politely, once per canonical URL, and extract their main text.

``PageFetcher.submit`` queues the pages a feed's new articles link to, as soon as the feed is read, and
``collect`` returns what each gave by the end of the wait the caller was given: its text, or the kind of its
failure (``Page.outcome``). The rules are the feed fetcher's and a polite crawler's:

- each request goes through ``fetcher.fetch`` with the settings' deadline and body cap, under the address
  policy of its feed (``allow_private``: a feed read from a public address leads only to public pages, on every
  hop), and only an HTML or XHTML answer is read (a PDF is refused on its headers);
- at most PER_HOST requests run at a time per host, and ``page_gap`` (or the host's robots.txt Crawl-delay, if
  longer) separates the starts of two requests to one host, robots.txt's own included; at most
  ``[http] max_connections`` run at once, the hosts taking turns, so that a feed with many new articles does
  not hold back the pages of the others;
- robots.txt is honoured unless the settings say not to (``ingest.robots``): a host's file is read, in a turn
  of its own, before its first page;
- a page is fetched once: a page being fetched for one feed is shared by another that links to it, a page
  fetched lately is remembered here, and the caller leaves out those its database knows.

A page not done when the wait ends is reported ``late``: one not started is never fetched, one under way is
finished and handed to ``record`` as ``late`` once no caller waits for it. The caller stores the outcomes it
collects (with its articles, so that a page whose article was never stored is read again after a crash).
Extraction (``extract.main_text``) runs through the ``extract`` function the caller gives: a worker process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field, replace

import httpx

from monitor.errors import FetchError
from monitor.ingest import fetcher, robots
from monitor.ingest.extract import HTML_TYPES, NotHtmlError, page_markup

log = logging.getLogger(__name__)
PER_HOST = 2
ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
REMEMBERED = 10_000  # pages done lately, kept in memory until the database surely has them
# What each fetch error kind is called as a page's outcome.
_KINDS = {"type": "not_html", "dns": "connect"}

# extract(markup, url, max_text) -> the main text ("" when none is found)
Extract = Callable[[str, str, int], str]


@dataclass(frozen=True)
class Policy:
    """The settings a page request follows, read when it is asked for."""

    deadline: float
    max_bytes: int
    max_text: int
    gap: float
    robots: bool
    max_connections: int


@dataclass(frozen=True)
class PageRequest:
    """One article page to fetch: the feed that links to it, its URL and its key, its address policy."""

    feed: str
    url: str
    key: str
    allow_private: bool


@dataclass(frozen=True)
class Page:
    """What one page gave: ``outcome`` is ``ok`` (with its text) or the kind of its failure (with the error)."""

    feed: str
    url: str
    key: str
    outcome: str
    text: str = ""
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether the page was fetched and text was found in it."""
        return self.outcome == "ok"


@dataclass(eq=False)
class _Job:
    request: PageRequest
    policy: Policy
    extract: Extract
    host: str
    future: Future[Page] = field(default_factory=Future)
    waiting: int = 1  # callers still waiting for it; at 0 its outcome is recorded as late


@dataclass(frozen=True)
class Ticket:
    """The pages one caller asked for, and until when (``PageFetcher``'s clock) it waits for them."""

    jobs: tuple[_Job, ...]
    until: float
    within: float


class PageFetcher:
    """Fetch article pages on threads of their own, within the limits of ``Policy`` and robots.txt."""

    def __init__(
        self,
        record: Callable[[Page], None],
        make_client: Callable[[], httpx.Client] = fetcher.feed_client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record
        self._make_client = make_client
        self._clock = clock
        self._robots = robots.Robots(clock)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._lines: dict[str, deque[_Job]] = {}  # by host, the least lately served first
        self._running: dict[str, int] = {}
        self._reading: set[str] = set()  # hosts whose robots.txt is being read
        self._next_at: dict[str, float] = {}
        self._jobs: dict[str, _Job] = {}  # by page key, queued or running
        self._done: OrderedDict[str, None] = OrderedDict()
        self._threads: set[threading.Thread] = set()
        self._timer: threading.Timer | None = None
        self._timer_at: float | None = None
        self._closed = False

    def fetch(self, requests: Sequence[PageRequest], policy: Policy, extract: Extract, within: float) -> list[Page]:
        """Return what each requested page gave within ``within`` seconds (``submit``, then ``collect``)."""
        return self.collect(self.submit(requests, policy, extract, within))

    def submit(self, requests: Sequence[PageRequest], policy: Policy, extract: Extract, within: float) -> Ticket:
        """Queue the requested pages and return the ticket to collect them with, ``within`` seconds from now.

        A page fetched lately by this fetcher is left out, as is a second request for the same key; a page queued
        or being fetched for another caller is shared with it.
        """
        jobs: list[_Job] = []
        arriving: dict[str, deque[_Job]] = {}  # hosts that were not waiting: they take the first turns
        with self._lock:
            until = self._clock() + within
            if self._closed:
                return Ticket((), until, within)
            for request in {r.key: r for r in requests}.values():
                if request.key in self._done:
                    continue
                job = self._jobs.get(request.key)
                if job is not None:
                    job.waiting += 1
                else:
                    job = self._jobs[request.key] = _Job(request, policy, extract, _host(request.url))
                    (self._lines if job.host in self._lines else arriving).setdefault(job.host, deque()).append(job)
                jobs.append(job)
            if arriving:
                self._lines = arriving | self._lines
            self._start_what_fits()
        return Ticket(tuple(jobs), until, within)

    def collect(self, ticket: Ticket) -> list[Page]:
        """Return what each page of the ticket gave, waiting for them until its time; the rest are ``late``."""
        wait([job.future for job in ticket.jobs], timeout=max(ticket.until - self._clock(), 0.0))
        pages: list[Page] = []
        with self._lock:
            for job in ticket.jobs:
                if job.future.done() and not job.future.cancelled():
                    pages.append(job.future.result())
                    continue
                job.waiting -= 1
                if job.waiting == 0 and job.future.cancel():  # not started: never will be
                    self._forget(job)
                    line = self._lines.get(job.host, deque())
                    if job in line:
                        line.remove(job)
                    self._remember(job.request.key)
                pages.append(_late(job.request, ticket.within))
        return pages

    def close(self) -> None:
        """Drop the pages still queued, wait for those under way, and close the client."""
        with self._lock:
            self._closed = True
            for line in self._lines.values():
                for job in line:
                    job.future.cancel()
                    self._jobs.pop(job.request.key, None)
            self._lines.clear()
            threads = list(self._threads)
            if self._timer is not None:
                self._timer.cancel()
                self._timer, self._timer_at = None, None
        for thread in threads:
            thread.join()
        with self._lock:
            client, self._client = self._client, None
            self._closed = False
        if client is not None:
            client.close()

    def _start_what_fits(self) -> None:
        """Start what the limits and the hosts' gaps allow, one request per host in turn; wake up later for the
        others (called with the lock held)."""
        now = self._clock()
        soonest: float | None = None
        for host, line in list(self._lines.items()):
            if not line:
                del self._lines[host]
                continue
            job = line[0]
            if len(self._threads) >= max(1, job.policy.max_connections):
                break  # a request that ends starts the next
            if self._running.get(host, 0) >= PER_HOST or host in self._reading:
                continue
            ready_at = self._next_at.get(host, 0.0)
            if ready_at > now:
                soonest = ready_at if soonest is None else min(soonest, ready_at)
                continue
            self._next_at[host] = now + job.policy.gap
            if job.policy.robots and not self._robots.known(job.request.url):
                self._reading.add(host)  # its pages wait for the verdict
                self._start(host, self._read_robots, job)
                continue
            line.popleft()
            if job.future.set_running_or_notify_cancel():
                self._start(host, self._run, job)
            del self._lines[host]  # to the back of the turn
            if line:
                self._lines[host] = line
                soonest = self._next_at[host] if soonest is None else min(soonest, self._next_at[host])
        if soonest is not None and not self._closed and (self._timer_at is None or soonest < self._timer_at):
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = threading.Timer(max(soonest - now, 0.0), self._wake), soonest
            self._timer.daemon = True
            self._timer.start()

    def _start(self, host: str, target: Callable[[_Job, httpx.Client], None], job: _Job) -> None:
        self._running[host] = self._running.get(host, 0) + 1
        if self._client is None:
            self._client = self._make_client()
        thread = threading.Thread(target=target, args=(job, self._client), name="page", daemon=True)
        self._threads.add(thread)
        thread.start()

    def _wake(self) -> None:
        with self._lock:
            if threading.current_thread() is self._timer:
                self._timer, self._timer_at = None, None
            if not self._closed:
                self._start_what_fits()

    def _release(self, host: str) -> None:
        """Count a request to ``host`` as ended and start what it let through (called with the lock held)."""
        self._running[host] -= 1
        if not self._running[host]:
            del self._running[host]
        self._threads.discard(threading.current_thread())
        if not self._closed:
            self._start_what_fits()

    def _read_robots(self, job: _Job, client: httpx.Client) -> None:
        """Read the robots.txt of the job's host, then let its pages go after the gap or its Crawl-delay."""
        delay = 0.0
        try:
            delay = self._robots.check(job.request.url, self._robots_fetch(job, client))[0].delay
        except Exception:  # its pages are judged when they are fetched
            log.exception("robots.txt for %s: failed", job.request.url, extra={"feed": job.request.feed})
        with self._lock:
            self._reading.discard(job.host)
            self._next_at[job.host] = self._clock() + max(job.policy.gap, delay)
            self._release(job.host)

    def _run(self, job: _Job, client: httpx.Client) -> None:
        try:
            page = self._page(job, client)
        except Exception as exc:  # one page never stops the others
            log.exception("page %s: failed", job.request.url, extra={"feed": job.request.feed})
            page = _failed(job.request, "error", f"{type(exc).__name__}: {exc}")
        with self._lock:
            late = job.waiting == 0
        try:
            if late:  # no caller is left to store it
                page = replace(page, outcome="late", text="")
                self._record(page)
        except Exception:  # the database is down: the page is remembered here all the same
            log.exception("page %s: cannot be recorded", job.request.url, extra={"feed": job.request.feed})
        finally:
            with self._lock:
                self._forget(job)
                self._remember(job.request.key)
                self._release(job.host)
            job.future.set_result(page)

    def _robots_fetch(self, job: _Job, client: httpx.Client) -> robots.Fetch:
        request, policy = job.request, job.policy

        def robots_txt(url: str, etag: str | None, modified: str | None) -> fetcher.FetchResult:
            return fetcher.fetch(
                client,
                request.feed,
                url,
                etag=etag,
                last_modified=modified,
                deadline=policy.deadline,
                max_bytes=min(policy.max_bytes, robots.MAX_BYTES),
                accept="text/plain",
                label=f"robots.txt for feed '{request.feed}'",
                allow_private=request.allow_private,
            )

        return robots_txt

    def _page(self, job: _Job, client: httpx.Client) -> Page:
        """Return what fetching and reading one page gave."""
        request, policy = job.request, job.policy
        label = f"page of feed '{request.feed}'"
        if policy.robots:
            # Read in a turn of its own just before (``_read_robots``); read here only if it expired meanwhile.
            verdict, _ = self._robots.check(request.url, self._robots_fetch(job, client))
            if verdict.delay > policy.gap:
                with self._lock:
                    self._next_at[job.host] = max(self._next_at.get(job.host, 0.0), self._clock() + verdict.delay)
            if not verdict.allowed:
                return _failed(request, verdict.kind, f"{label}: {request.url} refused: {verdict.reason}")
        try:
            result = fetcher.fetch(
                client,
                request.feed,
                request.url,
                deadline=policy.deadline,
                max_bytes=policy.max_bytes,
                accept=ACCEPT,
                label=label,
                allow_private=request.allow_private,
                types=HTML_TYPES,
            )
        except FetchError as exc:
            return _failed(request, _KINDS.get(exc.kind, exc.kind), str(exc), exc.status)
        try:
            markup = page_markup(result.content or b"", result.headers.get("content-type"))
        except NotHtmlError as exc:
            return _failed(request, "not_html", f"{label}: {request.url}: {exc}", result.status)
        text = job.extract(markup, result.url, policy.max_text)
        if not text:
            return _failed(request, "empty", f"{label}: no article text found in {request.url}", result.status)
        return Page(
            request.feed, request.url, request.key, "ok", text, result.status, result.etag, result.last_modified
        )

    def _forget(self, job: _Job) -> None:
        if self._jobs.get(job.request.key) is job:
            del self._jobs[job.request.key]

    def _remember(self, key: str) -> None:
        self._done[key] = None
        self._done.move_to_end(key)
        while len(self._done) > REMEMBERED:
            self._done.popitem(last=False)


def _failed(request: PageRequest, kind: str, error: str, status: int | None = None) -> Page:
    return Page(request.feed, request.url, request.key, kind, status=status, error=error)


def _late(request: PageRequest, within: float) -> Page:
    return _failed(request, "late", f"page of feed '{request.feed}': {request.url} not read within {within:g} s")


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host.lower()
    except httpx.InvalidURL:
        return url
