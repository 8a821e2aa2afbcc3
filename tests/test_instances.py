"""Several daemons on one PostgreSQL database: each feed polled once per interval, each alert sent once, and a
daemon killed with SIGKILL taken over by the others."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import kill, monitor, start, stop

pytestmark = pytest.mark.integration
FEEDS = 30
INTERVAL = 3.0
ITEMS_EVERY = 4.0  # each feed gains an item this often, until the test freezes the feeds
MAX_ITEMS = 4


class GrowingFeeds:
    """Feeds that gain one matching item every few seconds, and the times each feed was fetched."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.frozen: int | None = None
        self.polls: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def items(self) -> int:
        grown = 1 + int((time.monotonic() - self.started) // ITEMS_EVERY)
        return min(self.frozen or MAX_ITEMS, grown, MAX_ITEMS)

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        name = handler.path.split("/")[-1].removesuffix(".xml")
        with self.lock:
            self.polls[name].append(time.monotonic())
        entries = "".join(
            f"<item><title>NATO summit: update {n} from {name}</title><guid>{name}-{n}</guid>"
            f"<link>http://127.0.0.1/{name}/{n}</link><description>Allies meet.</description></item>"
            for n in range(self.items())
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{entries}</channel></rss>'
        return 200, {"Content-Type": "application/rss+xml"}, body.encode()


def settings(tmp_path: Path, server: LoopbackServer, database: str) -> Path:
    feeds = "".join(
        f'[[feeds]]\nname = "feed{n:02d}"\nurl = "{server.url(f"/feeds/feed{n:02d}.xml")}"\n\n' for n in range(FEEDS)
    )
    text = f"""
[database]
url = "{database}"

[scheduler]
poll_interval = "{INTERVAL:g}s"
allow_fast_polling = true  # the feed server is the test's own
delivery_interval = "1s"

[seeds]
enabled = false

[http]
timeout = "2s"

[delivery]
timeout = "2s"
retry_delays = ["1s"]

{feeds}
[webhooks.receiver]
url = "{server.url("/hook")}"
format = "generic"

[[rules]]
name = "NATO summit"
query = '"NATO summit"'
"""
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_three_daemons_share_the_work_without_doing_it_twice(
    tmp_path: Path, loopback: LoopbackServer, postgres_url: str
) -> None:
    feeds = GrowingFeeds()
    loopback.routes.update({f"/feeds/feed{n:02d}.xml": feeds.answer for n in range(FEEDS)})
    loopback.routes["/hook"] = lambda _h: (200, {}, b"ok")
    config = settings(tmp_path, loopback, postgres_url)
    created = monitor("--config", str(config), "db", "upgrade")
    assert created.returncode == 0, created.stderr
    daemons = [start(config) for _ in range(3)]
    try:
        time.sleep(7)
        kill(daemons[0])  # SIGKILL, mid-way: its leases run out and the others take over
        time.sleep(9)
        feeds.frozen = feeds.items()
        expected = FEEDS * feeds.frozen
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and len({r.headers["webhook-id"] for r in loopback.received_on("/hook")}) < expected
        ):
            time.sleep(0.2)
        time.sleep(2)
    finally:
        for process in daemons:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # all at once: they stop in parallel
        errors = [stop(process, signalled=True) for process in daemons][1:]
    assert all(process.returncode == 0 for process in daemons[1:]), errors

    received = loopback.received_on("/hook")
    ids = [r.headers["webhook-id"] for r in received]
    titles = Counter(r.json()["article"]["title"] for r in received)
    assert len(set(titles)) == expected  # every alert arrived
    assert len(ids) == len(set(ids))  # none twice
    assert max(titles.values()) == 1
    assert sum(len(times) for times in feeds.polls.values()) >= FEEDS * 4  # they did poll, all along
    for name, times in feeds.polls.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps and min(gaps) >= INTERVAL * 0.75, (name, gaps)  # one poll per interval, never two at once
