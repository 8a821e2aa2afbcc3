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

import httpx
import pytest

from monitor.ingest import fetcher
from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store.storage import Storage
from tests.conftest import LoopbackServer
from tests.daemon import kill, monitor, start, stop, wait_for
from tests.db import rows

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
        # The timeline starts once the daemons are up and polling (a loaded machine takes a while to start three).
        assert wait_for(lambda: len(feeds.polls) == FEEDS, 60)
        time.sleep(4)
        kill(daemons[0])  # SIGKILL, mid-way: its leases run out and the others take over
        killed_at = time.monotonic()
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
    titles = Counter(r.json()["article"]["title"] for r in received)
    assert len(set(titles)) == expected  # every alert arrived
    # None twice, but for the one request the killed daemon may have had in flight: it goes again, same id.
    first_seen: dict[str, float] = {}
    for request in received:
        first_seen.setdefault(request.headers["webhook-id"], request.at)
    again = Counter(r.headers["webhook-id"] for r in received) - Counter(first_seen)
    assert sum(again.values()) <= 1, again
    assert all(first_seen[webhook_id] <= killed_at for webhook_id in again)
    assert len(titles) == len(first_seen)  # one webhook-id per alert
    assert len(feeds.polls) == FEEDS and min(map(len, feeds.polls.values())) >= 2  # they did poll, all along
    for name, times in feeds.polls.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps and min(gaps) >= INTERVAL * 0.75, (name, gaps)  # one poll per interval, never two at once


WIRE = (
    "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
    "output, to send more air defence systems to Ukraine before winter and to open a new training mission in "
    "Poland, officials said after the first day of talks at the NATO summit, which ends on Wednesday with a joint "
    "statement on the war and on the alliance's plans for its eastern flank over the next ten years."
)


def wire_copy(n: int) -> bytes:
    """Return a feed of one item: the wire story as outlet ``n`` ran it, under its own link and headline."""
    item = (
        f"<item><title>Outlet {n}: NATO summit agrees on spending</title><guid>outlet{n}-wire</guid>"
        f"<link>http://127.0.0.1/outlet{n}/nato-summit</link><description>{WIRE} Reported for outlet {n}."
        "</description></item>"
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>o{n}</title>{item}</channel></rss>'.encode()


def local_news(n: int) -> bytes:
    """Return a feed of one unrelated item."""
    item = f"<item><title>Local news {n}</title><guid>local{n}</guid><description>Roadworks.</description></item>"
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>l{n}</title>{item}</channel></rss>'.encode()


def test_a_story_filed_by_two_instances_at_once_is_one_story_with_one_alert(
    tmp_path: Path, loopback: LoopbackServer, postgres_url: str
) -> None:
    outlets = 20
    rss = {"Content-Type": "application/rss+xml"}
    for n in range(outlets):
        loopback.routes[f"/outlet{n}.xml"] = lambda _h, n=n: (200, rss, wire_copy(n))
    for n in range(2):
        loopback.routes[f"/local{n}.xml"] = lambda _h, n=n: (200, rss, local_news(n))
    paths = [f"/outlet{n}.xml" for n in range(outlets)] + ["/local0.xml", "/local1.xml"]
    feeds = "".join(f'[[feeds]]\nname = "{p[1:-4]}"\nurl = "{loopback.url(p)}"\n\n' for p in paths)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[database]\nurl = "{postgres_url}"\n[seeds]\nenabled = false\n\n{feeds}'
        '[[rules]]\nname = "NATO summit"\nquery = \'"NATO summit"\'\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    instances = [Storage.open(postgres_url) for _ in range(2)]
    gate = threading.Barrier(2)
    alerts: list[list[str]] = [[], []]

    def poll(number: int) -> None:
        with httpx.Client() as client, fetcher.feed_client() as feed_client:
            pipeline = Pipeline(settings, instances[number], client, lambda _alert: None)
            # Each instance has stored something before the story breaks: its story index is built by then.
            pipeline.refresh_feed(settings.feeds[outlets + number], feed_client)
            gate.wait()
            # The two take turns over the same moments: each polls every other outlet.
            for feed in settings.feeds[number:outlets:2]:
                alerts[number] += [alert.rule for alert in pipeline.refresh_feed(feed, feed_client)]
            pipeline.close()

    try:
        threads = [threading.Thread(target=poll, args=(number,)) for number in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stories = rows(postgres_url, "SELECT story_id FROM articles WHERE source LIKE 'outlet%'")
    finally:
        for storage in instances:
            storage.close()
    assert len(stories) == outlets
    assert len({story for (story,) in stories}) == 1  # one story, whichever instance filed each copy
    assert sum(len(found) for found in alerts) == 1


def news_item(n: int) -> bytes:
    """Return a feed of one item of its own that the rule matches."""
    item = (
        f"<item><title>NATO summit, report {n}</title><guid>report{n}</guid><description>Allies.</description></item>"
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>r{n}</title>{item}</channel></rss>'.encode()


@pytest.mark.timeout(420)
def test_paced_and_slow_webhooks_outlasting_the_lease_get_each_alert_once_across_a_kill(
    tmp_path: Path, loopback: LoopbackServer, postgres_url: str
) -> None:
    reports, outlets = 20, 20
    rss = {"Content-Type": "application/rss+xml"}
    for n in range(reports):
        loopback.routes[f"/report{n}.xml"] = lambda _h, n=n: (200, rss, news_item(n))
    for n in range(outlets):
        loopback.routes[f"/outlet{n}.xml"] = lambda _h, n=n: (200, rss, wire_copy(n))
    loopback.routes["/slack"] = lambda _h: (200, {"Content-Type": "text/plain"}, b"ok")

    def slow(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(2)
        return 200, {}, b"ok"

    loopback.routes["/slow"] = slow
    paths = [f"/report{n}.xml" for n in range(reports)] + [f"/outlet{n}.xml" for n in range(outlets)]
    feeds = "".join(f'[[feeds]]\nname = "{p[1:-4]}"\nurl = "{loopback.url(p)}"\n\n' for p in paths)
    # A request's deadline of 5 s makes a lease of 15 s: 21 alerts paced at 1 a second, or 2 s each, outlast it.
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{postgres_url}"
[scheduler]
poll_interval = "1h"
delivery_interval = "1s"
[seeds]
enabled = false
[delivery]
timeout = "5s"
retry_delays = ["1s"]
{feeds}
[webhooks.slack]
url = "{loopback.url("/slack")}"
format = "slack"
[webhooks.slow]
url = "{loopback.url("/slow")}"
format = "generic"
[[rules]]
name = "NATO summit"
query = '"NATO summit"'
""",
        encoding="utf-8",
    )
    assert monitor("--config", str(config), "db", "upgrade").returncode == 0
    expected = reports + 1  # the wire story alerts once
    daemons = [start(config) for _ in range(2)]

    def ids(path: str) -> set[str]:
        return {r.headers["webhook-id"] for r in loopback.received_on(path)}

    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and len(ids("/slow")) < 8:
            time.sleep(0.2)
        kill(daemons[0])  # in the middle of both queues: its leases run out and the other takes over
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and min(len(ids("/slack")), len(ids("/slow"))) < expected:
            time.sleep(0.5)
        time.sleep(3)  # anything sent twice would arrive by now
    finally:
        errors = [stop(process) for process in daemons if process.poll() is None]
    assert daemons[1].returncode == 0, errors

    for path in ("/slack", "/slow"):
        received = loopback.received_on(path)
        sent = Counter(r.headers["webhook-id"] for r in received)
        assert len(sent) == expected, path
        # A repeat only for a request in flight when its sender was killed, under the same id.
        assert sum(count - 1 for count in sent.values()) <= 1, (path, sent.most_common(3))
        titles = Counter(r.json()["article"]["title"] if path == "/slow" else r.json()["text"] for r in received)
        wire = [title for title in titles if "Outlet" in title]
        assert len(wire) == 1, wire  # one story from 20 outlets polled by two instances: one alert
    slack = sorted(r.at for r in loopback.received_on("/slack"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(slack)]
    assert min(gaps) >= 0.8, gaps  # one a second to the URL, across both instances and the takeover
