"""Hostile feeds beside a good one, through ``monitor`` as users run it: the good feed's alert still reaches the
webhook, the long articles are cut at ``[ingest] max_text``, no entity is expanded.

The feeds and the webhook are on a loopback server; ``bench/hostile.py`` runs the same cycle at full size and
measures it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import LoopbackServer
from tests.daemon import Daemon, monitor
from tests.db import rows

pytestmark = pytest.mark.integration
MB = 1024 * 1024
MAX_TEXT = 50_000
GOOD_TITLE = "Alpha and beta teams meet in Geneva"


def trick_feed(size: int) -> bytes:
    """Return an RSS feed of about ``size`` bytes: a comment holding "<a" in its DOCTYPE, then an entity of 280
    bytes that its one item names again and again (about 93 times the feed, were it expanded)."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n<!-- <a href="/"> -->\n'
        f'<!ENTITY w "{"word " * 56}">\n]>\n<rss version="2.0"><channel><title>trick</title>'
        "<item><title>Entities &w;</title><guid>trick-1</guid><description>"
    )
    tail = "</description></item></channel></rss>"
    return (head + "&w;" * ((size - len(head) - len(tail)) // 3) + tail).encode()


def big_feed(number: int, size: int) -> bytes:
    """Return an RSS feed of about ``size`` bytes: one item of paragraphs in which the rule's words lie close."""
    paragraph = "<p>" + " ".join(f"alpha one beta two gamma{n} delta" for n in range(10)) + "</p>\n"
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>big</title>'
        f"<item><title>Long read {number}</title><guid>big-{number}</guid><description><![CDATA["
    )
    tail = "]]></description></item></channel></rss>"
    return (
        head + f"<p>Issue {number}</p>" + paragraph * ((size - len(head) - len(tail)) // len(paragraph)) + tail
    ).encode()


def good_feed() -> bytes:
    """Return an ordinary feed of one item that the rule matches."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>good</title>'
        f"<item><title>{GOOD_TITLE}</title><guid>good-1</guid><link>http://127.0.0.1/good/1</link>"
        "<description>&lt;p&gt;The alpha team and the beta team met on Monday.&lt;/p&gt;</description>"
        "</item></channel></rss>"
    ).encode()


FEEDS: dict[str, Callable[[], bytes]] = {
    "trick": lambda: trick_feed(2 * MB),
    "big0": lambda: big_feed(0, 3 * MB),
    "big1": lambda: big_feed(1, 3 * MB),
    "good": good_feed,
}


def serve(loopback: LoopbackServer, tmp_path: Path, database_url: str) -> Path:
    """Serve the feeds and the webhook on the loopback server; write the settings and return their path."""
    for name, make in FEEDS.items():
        body = make()
        loopback.routes[f"/{name}.xml"] = lambda _h, body=body: (200, {"Content-Type": "application/rss+xml"}, body)
    loopback.routes["/hook"] = lambda _h: (200, {}, b"")
    feeds = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{loopback.url(f"/{name}.xml")}"\n' for name in FEEDS)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n[seeds]\nenabled = false\n[ingest]\nmax_text = {MAX_TEXT}\n'
        f'[scheduler]\ndelivery_interval = "1s"\n'
        f'[webhooks.hook]\nurl = "{loopback.url("/hook")}"\nformat = "generic"\n'
        f'[[rules]]\nname = "near"\nquery = "alpha NEAR/3 beta"\n{feeds}',
        encoding="utf-8",
    )
    return config


def delivered(loopback: LoopbackServer) -> set[str]:
    return {received.json()["article"]["title"] for received in loopback.received_on("/hook")}


def check_the_cycle(loopback: LoopbackServer, config: Path, database_url: str) -> None:
    """Check what one cycle over the feeds left: every feed ok, texts cut, nothing expanded, the alerts sent."""
    assert GOOD_TITLE in delivered(loopback)
    assert "Long read 0" in delivered(loopback) or "Long read 1" in delivered(loopback)  # one story: one alert
    table = monitor("--config", str(config), "feeds", "--json")
    assert table.returncode == 0, table.stderr
    report = {feed["name"]: feed for feed in json.loads(table.stdout)}
    assert {name: feed["status"] for name, feed in report.items()} == dict.fromkeys(FEEDS, "ok")
    texts = dict(rows(database_url, "SELECT source, text FROM articles"))
    assert all(len(text) <= MAX_TEXT for text in texts.values())
    assert len(texts["big0"]) > MAX_TEXT - 100 and texts["big0"].startswith("Issue 0\nalpha one beta two")
    assert texts["trick"].startswith("&w;&w;") and "word word" not in texts["trick"]
    (title,) = rows(database_url, "SELECT title FROM articles WHERE source = 'trick'")[0]
    assert title == "Entities &w;"


def test_run_once_over_hostile_feeds_delivers_the_good_alert(
    loopback: LoopbackServer, tmp_path: Path, database_url: str
) -> None:
    config = serve(loopback, tmp_path, database_url)
    result = monitor("--config", str(config), "run", "--once", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    check_the_cycle(loopback, config, database_url)


def test_the_daemon_over_hostile_feeds_delivers_the_good_alert(
    loopback: LoopbackServer, tmp_path: Path, database_url: str
) -> None:
    config = serve(loopback, tmp_path, database_url)
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: GOOD_TITLE in delivered(loopback) and len(delivered(loopback)) >= 2, timeout=60)
    finally:
        daemon.stop()
    assert daemon.process.returncode == 0, daemon.log()
    assert "Traceback" not in daemon.log()
    check_the_cycle(loopback, config, database_url)


def test_the_bench_scenario_runs(tmp_path: Path) -> None:
    # bench/hostile.py at a small size: it serves, runs the cycle and says what came through.
    script = Path(__file__).parent.parent / "bench" / "hostile.py"
    result = subprocess.run(
        [sys.executable, str(script), "--trick-mb", "0.2", "--big-feeds", "1", "--big-mb", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "good feed's alert delivered: yes" in result.stdout
