"""One alert per story, through real sockets: feeds and a generic webhook served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.ingest import fetcher
from monitor.pipeline import Pipeline
from monitor.settings.config import FeedSettings, load_settings
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage
from tests.conftest import LoopbackServer

pytestmark = pytest.mark.integration

WIRE = (
    "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
    "output, to send more air defence systems to Ukraine before winter and to open a new training mission in "
    "Poland, officials said after the first day of talks at the NATO summit, which ends on Wednesday with a joint "
    "statement on the war and on the alliance's plans for its eastern flank over the next ten years."
)
REWRITTEN = (
    "Alliance leaders met in Vilnius on Tuesday and agreed to raise defence spending to two percent of output, "
    "to send more air defence systems to Ukraine before winter and to open a new training mission in Poland, "
    "officials said after the first day of talks at the NATO summit, which ends on Wednesday with a joint "
    "statement on the war and on the alliance's plans for its eastern flank over the next decade."
)
OTHER = (
    "Central banks held rates on Thursday as inflation slowed for the third month in a row; markets rose, and the "
    "NATO summit barely moved the price of oil, traders said, while the euro gained against the dollar."
)


def item(title: str, link: str, guid: str, text: str, published: datetime) -> str:
    return (
        f"<item><title>{title}</title><link>{link.replace('&', '&amp;')}</link>"
        f'<guid isPermaLink="false">{guid}</guid><description>{text}</description>'
        f"<pubDate>{format_datetime(published)}</pubDate></item>"
    )


def rss(*items: str) -> bytes:
    body = "".join(items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def serve(server: LoopbackServer, path: str, answers: list[bytes]) -> None:
    """Serve the answers in turn, then the last one again."""

    def answer(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        return 200, {"Content-Type": "application/rss+xml"}, body

    server.routes[path] = answer


def accept(_handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, b"ok"


@pytest.fixture
def run(tmp_path: Path, loopback: LoopbackServer, database_url: str) -> Iterator[Any]:
    """Yield a function that writes settings for the given feed paths, polls each feed in turn and delivers."""
    loopback.routes["/hook"] = accept
    opened: list[Storage] = []

    def cycle(feeds: list[str], polls: list[str], rule_extra: str = "") -> tuple[list[AlertMessage], list[Any]]:
        tables = "".join(f'[[feeds]]\nname = "{p.strip("/")}"\nurl = "{loopback.url(p)}"\n\n' for p in feeds)
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[database]\nurl = "{database_url}"\n[seeds]\nenabled = false\n\n{tables}'
            f'[webhooks.hook]\nurl = "{loopback.url("/hook")}"\nformat = "generic"\n\n'
            f'[[rules]]\nname = "NATO"\nquery = "NATO summit"\n{rule_extra}\n'
            '[[rules]]\nname = "Vilnius"\nquery = "Vilnius"\n',
            encoding="utf-8",
        )
        settings = load_settings(config, {})
        storage = Storage.open(settings.database.url)
        opened.append(storage)
        alerts: list[AlertMessage] = []
        with httpx.Client() as client, fetcher.feed_client() as feed_client:
            pipeline = Pipeline(settings, storage, client, lambda _alert: None)
            by_name = {feed.name: feed for feed in settings.feeds}
            for path in polls:
                feed: FeedSettings = by_name[path.strip("/")]
                alerts += pipeline.refresh_feed(feed, feed_client)
            pipeline.deliver()
            pipeline.close()
        return alerts, [r.json() for r in loopback.received_on("/hook")]

    yield cycle
    for storage in opened:
        storage.close()


NOW = datetime.now(UTC).replace(microsecond=0)


def test_two_feeds_with_the_same_item_alert_once(run: Any, loopback: LoopbackServer) -> None:
    link = "https://news.example/nato-summit"
    serve(loopback, "/a.xml", [rss(item("NATO summit opens", link, "a-1", WIRE, NOW))])
    serve(loopback, "/b.xml", [rss(item("NATO summit opens", link + "#top", "b-77", WIRE, NOW))])
    alerts, sent = run(["/a.xml", "/b.xml"], ["/a.xml", "/b.xml"])
    assert sorted(a.rule for a in alerts) == ["NATO", "Vilnius"]
    assert {a.article.source for a in alerts} == {"a.xml"}
    assert len(sent) == 2


def test_a_refetch_with_tracking_parameters_and_a_new_guid_is_the_same_article(
    run: Any, loopback: LoopbackServer
) -> None:
    first = item("NATO summit opens", "https://news.example/nato?id=3", "guid-1", WIRE, NOW)
    again = item(
        "NATO Summit Opens!", "https://NEWS.example:443/nato?utm_source=rss&id=3&fbclid=x", "guid-2", WIRE, NOW
    )
    serve(loopback, "/a.xml", [rss(first), rss(again)])
    alerts, sent = run(["/a.xml"], ["/a.xml", "/a.xml"])
    assert len(alerts) == 2 and len(sent) == 2  # the two rules, on the first fetch only


def test_a_rewritten_wire_story_alerts_once_and_lists_the_other_outlet(run: Any, loopback: LoopbackServer) -> None:
    serve(loopback, "/wire.xml", [rss(item("NATO summit agrees spending", "https://wire.example/1", "w1", WIRE, NOW))])
    later = NOW + timedelta(minutes=5)
    copy = item("Alliance agrees to spend more at NATO summit", "https://paper.example/2", "p2", REWRITTEN, later)
    other = item("Rates on hold", "https://paper.example/3", "p3", OTHER, later)
    serve(loopback, "/paper.xml", [rss(copy, other)])
    alerts, sent = run(["/wire.xml", "/paper.xml"], ["/wire.xml", "/paper.xml"])
    assert sorted((a.rule, a.article.source) for a in alerts) == [
        ("NATO", "paper.xml"),  # the unrelated story with the same words alerts on its own
        ("NATO", "wire.xml"),
        ("Vilnius", "wire.xml"),
    ]
    assert len(sent) == 3
    wire = [p for p in sent if p["article"]["source"] == "wire.xml"]
    assert all(
        p["also_in"]
        == [
            {
                "title": "Alliance agrees to spend more at NATO summit",
                "url": "https://paper.example/2",
                "source": "paper.xml",
                "published": later.isoformat().replace("+00:00", "Z"),
            }
        ]
        for p in wire
    )
    assert next(p for p in sent if p["article"]["source"] == "paper.xml")["also_in"] == []


def test_a_rule_may_alert_every_copy_of_a_story(run: Any, loopback: LoopbackServer) -> None:
    serve(loopback, "/wire.xml", [rss(item("NATO summit agrees spending", "https://wire.example/1", "w1", WIRE, NOW))])
    copy = item("Alliance agrees to spend more at NATO summit", "https://paper.example/2", "p2", REWRITTEN, NOW)
    serve(loopback, "/paper.xml", [rss(copy)])
    alerts, _ = run(["/wire.xml", "/paper.xml"], ["/wire.xml", "/paper.xml"], "once_per_story = false")
    assert sorted((a.rule, a.article.source) for a in alerts) == [
        ("NATO", "paper.xml"),
        ("NATO", "wire.xml"),
        ("Vilnius", "wire.xml"),
    ]


def test_the_first_poll_alerts_only_on_recent_items(run: Any, loopback: LoopbackServer) -> None:
    old = item(
        "NATO summit of old", "https://news.example/old", "o", "NATO summit in 2019 " + OTHER, NOW - timedelta(days=3)
    )
    undated = item("NATO summit undated", "https://news.example/u", "u", "Undated NATO summit news.", NOW)
    undated = undated.replace(f"<pubDate>{format_datetime(NOW)}</pubDate>", "")
    future = item(
        "NATO summit ahead", "https://news.example/f", "f", "A NATO summit from the future.", NOW + timedelta(days=30)
    )
    serve(loopback, "/a.xml", [rss(old, undated, future)])
    alerts, _ = run(["/a.xml"], ["/a.xml"])
    by_title = {a.article.title: a for a in alerts if a.rule == "NATO"}
    assert set(by_title) == {"NATO summit undated", "NATO summit ahead"}
    ahead = by_title["NATO summit ahead"].article.published
    assert ahead is not None and ahead - NOW < timedelta(hours=1)  # stored with the fetch time
