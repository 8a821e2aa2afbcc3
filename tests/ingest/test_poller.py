from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from monitor.ingest.poller import FeedPoller
from monitor.settings.config import FeedSettings


class Recorder:
    """A fake refresh: sleeps per host, and records how many run at once, overall and per host."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.peak_total = 0
        self.peak_host: dict[str, int] = {}
        self.done: list[tuple[str, float]] = []
        self.clients: set[int] = set()
        self.started = time.monotonic()

    def __call__(self, feed: FeedSettings, client: httpx.Client) -> None:
        host = httpx.URL(feed.url).host
        with self.lock:
            self.clients.add(id(client))
            self.running[host] = self.running.get(host, 0) + 1
            self.peak_total = max(self.peak_total, sum(self.running.values()))
            self.peak_host[host] = max(self.peak_host.get(host, 0), self.running[host])
        time.sleep(self.delays.get(host, 0.01))
        with self.lock:
            self.running[host] -= 1
            self.done.append((feed.name, time.monotonic() - self.started))


def feeds(host: str, count: int) -> list[FeedSettings]:
    return [FeedSettings(name=f"{host}-{n}", url=f"http://{host}/{n}.xml") for n in range(count)]


@pytest.fixture
def make() -> Iterator[list[FeedPoller]]:
    made: list[FeedPoller] = []
    yield made
    for poller in made:
        poller.close()


def poller_of(made: list[FeedPoller], recorder: Recorder, limit: int) -> FeedPoller:
    poller = FeedPoller(recorder, lambda: limit, make_client=httpx.Client)
    made.append(poller)
    return poller


@pytest.mark.parametrize(
    ("hosts", "limit", "peak_total", "peak_host"),
    [
        ({"a.test": 10}, 20, 2, {"a.test": 2}),
        ({f"h{n}.test": 3 for n in range(10)}, 5, 5, None),
        ({"a.test": 4, "b.test": 4, "c.test": 4}, 20, 6, {"a.test": 2, "b.test": 2, "c.test": 2}),
    ],
)
def test_limits(
    make: list[FeedPoller], hosts: dict[str, int], limit: int, peak_total: int, peak_host: dict[str, int] | None
) -> None:
    recorder = Recorder({host: 0.05 for host in hosts})
    poller = poller_of(make, recorder, limit)
    assert poller.poll([feed for host, count in hosts.items() for feed in feeds(host, count)]) == sum(hosts.values())
    assert poller.wait(timeout=10)
    assert len(recorder.done) == sum(hosts.values())
    assert recorder.peak_total == peak_total
    assert max(recorder.peak_host.values()) <= 2
    if peak_host is not None:
        assert recorder.peak_host == peak_host
    assert len(recorder.clients) == 1  # one shared client


def test_a_slow_host_does_not_hold_the_others(make: list[FeedPoller]) -> None:
    recorder = Recorder({"slow.test": 1.0, "fast.test": 0.01})
    poller = poller_of(make, recorder, 4)
    poller.poll(feeds("slow.test", 6) + feeds("fast.test", 20))
    assert poller.wait(timeout=10)
    finished = dict(recorder.done)
    assert max(finished[f"fast.test-{n}"] for n in range(20)) < 0.9  # all done while the first slow ones run
    assert max(finished.values()) > 2.9  # six slow ones, two at a time


def test_a_feed_is_queued_once(make: list[FeedPoller]) -> None:
    recorder = Recorder({"a.test": 0.2})
    poller = poller_of(make, recorder, 20)
    feed = feeds("a.test", 1)
    assert poller.poll(feed) == 1
    assert poller.poll(feed) == 0  # still being fetched
    assert poller.wait(timeout=5)
    assert poller.poll(feed) == 1  # done: may be queued again
    assert poller.wait(timeout=5)
    assert len(recorder.done) == 2


def test_a_failing_refresh_is_logged_and_the_rest_go_on(
    make: list[FeedPoller], caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []

    def refresh(feed: FeedSettings, _client: httpx.Client) -> None:
        if feed.name.endswith("-0"):
            raise RuntimeError("boom")
        done.append(feed.name)

    poller = FeedPoller(refresh, lambda: 2, make_client=httpx.Client)
    make.append(poller)
    poller.poll(feeds("a.test", 3))
    assert poller.wait(timeout=5)
    assert sorted(done) == ["a.test-1", "a.test-2"]
    assert "feed 'a.test-0': refresh failed" in caplog.text


def test_close_drops_what_waits_and_finishes_what_runs(make: list[FeedPoller]) -> None:
    recorder = Recorder({"a.test": 0.3})
    poller = poller_of(make, recorder, 20)
    poller.poll(feeds("a.test", 6))
    time.sleep(0.05)
    poller.close()
    assert sorted(name for name, _ in recorder.done) == ["a.test-0", "a.test-1"]
    assert poller.wait(timeout=0)


@pytest.mark.parametrize(("idle_seconds", "threads"), [(30.0, 1), (0.0, 4)], ids=["kept-idle", "none-kept"])
def test_a_thread_done_with_a_feed_takes_the_next_one(
    make: list[FeedPoller], idle_seconds: float, threads: int
) -> None:
    # Feeds queued one at a time, as the daemon's feed jobs do: an idle thread is handed each in turn.
    seen: set[threading.Thread] = set()

    def refresh(_feed: FeedSettings, _client: httpx.Client) -> None:
        seen.add(threading.current_thread())  # held: no two threads are confused

    poller = FeedPoller(refresh, lambda: 20, make_client=httpx.Client, idle_seconds=idle_seconds)
    make.append(poller)
    for feed in feeds("a.test", 4):
        assert poller.poll([feed]) == 1
        assert poller.wait(timeout=10)
        time.sleep(0.02)  # the thread is back waiting (or gone)
    assert len(seen) == threads


def test_an_idle_thread_ends_when_the_poller_closes(make: list[FeedPoller]) -> None:
    recorder = Recorder({})
    poller = FeedPoller(recorder, lambda: 20, make_client=httpx.Client, idle_seconds=30)
    poller.poll(feeds("a.test", 2))
    assert poller.wait(timeout=10)
    started = time.monotonic()
    poller.close()  # wakes the idle threads rather than waiting out their 30 s
    assert time.monotonic() - started < 5
    assert not [thread for thread in threading.enumerate() if thread.name == "feed"]
