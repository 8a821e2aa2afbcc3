"""Full text through real sockets: a feed of bare titles, its article pages and robots.txt on a page server, a
webhook receiver, and ``monitor run --once`` as a subprocess, twice; then the daemon, ``monitor run``.

The article whose page mentions the rule's word in its body alerts once, with a snippet of that body; the page
where only the navigation, an aside and the footer mention it does not; a PDF, a page past the body cap, a page
robots.txt forbids, one that redirects and one that never ends do no harm. The second run fetches no page again;
nor does the daemon's next poll, nor the daemon started again after being killed. A page read for an article
that a kill kept from being stored is read again, so that its alert is not lost.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from monitor import USER_AGENT
from tests.conftest import FIXTURES, LoopbackServer, starred
from tests.daemon import Daemon, monitor, peak_rss_mb
from tests.db import rows, scalar
from tests.feedserver import MB, FeedServer, Route, drip, redirect, reply, serve_file

pytestmark = pytest.mark.integration
PAGES = FIXTURES / "pages"
HTML = "text/html; charset=utf-8"
ITEMS = {
    "news": "Économie : la forme 10 rouvre",  # fr-news.html: Marioupol in its body (and in its nav and aside)
    "sport": "Tour de France : la dixième étape",  # fr-aside-only.html: Marioupol in nav, aside and footer only
    "report": "Le rapport annuel",  # a PDF
    "huge": "Dossier complet",  # 40 MB of HTML, past the 15 MB cap
    "moved": "Verkehr in Hamburg",  # a redirect to de-news.html: "Elbtunnels" in its body
    "private": "Réservé aux abonnés",  # robots.txt disallows /private/
    "slow": "En direct",  # a page that drips a byte at a time: past the deadline
    "archive": "Archives : Marioupol en 2020",  # the backlog of a first poll: stored, its page never fetched
}
DATED = {"archive": "Mon, 06 Jan 2020 08:00:00 GMT"}
PATHS = {"private": "/private/article", "report": "/report.pdf"}
# The daemon's feed grows: a page of 14 MB of links (under the body cap: read, cut, extracted), then a brief.
LATER = {"links": "Tous les liens", "brief": "En bref : le tram de Séville"}  # es-divs.html


def feed(server: FeedServer, names: list[str]) -> bytes:
    """Return an RSS feed of title-only items, each linking to its page on ``server``."""
    titles = ITEMS | LATER
    items = "".join(
        f"<item><title>{titles[name]}</title><link>{server.url(PATHS.get(name, '/' + name))}</link>"
        + (f"<pubDate>{DATED[name]}</pubDate>" if name in DATED else "")
        + "</item>"
        for name in names
    )
    channel = f"<channel><title>Gazette</title>{items}</channel>"
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channel}</rss>'.encode()


def endless_html(size: int) -> Route:
    """Answer 200 with ``size`` bytes of HTML links, sent 1 MB at a time without a length, until the client hangs up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", HTML)
        handler.send_header("Connection", "close")
        handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(b"<!DOCTYPE html><html><body><p>Marioupol</p>")
        chunk = b'<a href="/x">Marioupol</a> ' * (MB // 27)
        for _ in range(size // len(chunk)):
            handler.wfile.write(chunk)

    return answer


def serve(server: FeedServer) -> None:
    """Serve the feeds, the article pages and robots.txt."""
    server.routes["/feed.xml"] = reply(200, feed(server, list(ITEMS)), {"Content-Type": "application/rss+xml"})
    # Another feed links to the same article page under another title: the page is fetched once all the same.
    server.routes["/other.xml"] = reply(200, feed(server, ["news"]).replace(b"forme 10", b"forme dix"), {})
    server.routes["/news"] = serve_file(PAGES / "fr-news.html", HTML)
    server.routes["/sport"] = serve_file(PAGES / "fr-aside-only.html", HTML)
    server.routes["/report.pdf"] = reply(200, b"%PDF-1.7\n" + b"\x00" * 4096, {"Content-Type": "application/pdf"})
    server.routes["/huge"] = endless_html(40 * MB)
    server.routes["/moved"] = redirect("/de", 301)
    server.routes["/de"] = serve_file(PAGES / "de-news.html", HTML)
    server.routes["/private/article"] = serve_file(PAGES / "fr-news.html", HTML)
    server.routes["/slow"] = drip(in_headers=True, seconds=8)
    server.routes["/archive"] = serve_file(PAGES / "fr-news.html", HTML)
    server.routes["/robots.txt"] = reply(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"})


def settings(tmp_path: Path, server: FeedServer, hook: str, database_url: str) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[seeds]
enabled = false

[http]
timeout = "5s"

[ingest]
full_text_wait = "4s"
page_gap = "100ms"

[[feeds]]
name = "gazette"
url = "{server.url("/feed.xml")}"
full_text = true

[[feeds]]
name = "other"
url = "{server.url("/other.xml")}"
full_text = true

[webhooks.newsroom]
url = "{hook}"
format = "generic"

[[rules]]
name = "marioupol"
query = "Marioupol"

[[rules]]
name = "elbe"
query = "text:Elbtunnels"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        serve(running)
        yield running


def test_title_only_items_alert_on_the_body_of_their_pages(
    tmp_path: Path, server: FeedServer, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.routes["/hook"] = lambda _handler: (200, {}, b"ok")
    config = settings(tmp_path, server, loopback.url("/hook"), database_url)

    first = monitor("--config", str(config), "run", "--once", timeout=90)
    assert first.returncode == 0, first.stderr

    alerts = [r.json() for r in loopback.received_on("/hook")]
    by_rule = {alert["rule"]["name"]: alert for alert in alerts}
    assert sorted(by_rule) == ["elbe", "marioupol"] and len(alerts) == 2
    marioupol = by_rule["marioupol"]
    assert marioupol["article"]["title"] in (ITEMS["news"], ITEMS["news"].replace("forme 10", "forme dix"))
    # The body, not the menu nor "À lire aussi"; the other reached through a redirect.
    assert "au large de **Marioupol**" in starred(marioupol["snippet"], marioupol["highlights"])
    elbe = by_rule["elbe"]
    assert "Die Oströhre des **Elbtunnels** wird" in starred(elbe["snippet"], elbe["highlights"])

    # One request per page, the page two feeds link to included; none for what robots.txt forbids.
    for path in ("/news", "/sport", "/report.pdf", "/huge", "/moved", "/de", "/slow"):
        assert server.hits(path) == 1, path
    assert server.hits("/private/article") == 0 and server.hits("/robots.txt") == 1
    assert server.hits("/archive") == 0  # the backlog: stored without its page, alerting on nothing
    assert {headers["user-agent"] for _, headers in server.requests} == {USER_AGENT}  # feeds, pages and robots.txt
    outcomes = dict(rows(database_url, "SELECT url_key, outcome FROM pages"))
    assert {key.rsplit("/", 1)[-1]: outcome for key, outcome in outcomes.items()} == {
        "news": "ok",
        "sport": "ok",
        "report.pdf": "not_html",
        "huge": "too_large",
        "moved": "ok",
        "article": "robots",
        "slow": "late",
    }
    stored = dict(rows(database_url, "SELECT title, full_text FROM articles"))
    news = stored.get(ITEMS["news"]) or stored.get(ITEMS["news"].replace("forme 10", "forme dix"))
    assert "Dans la forme de radoub numéro 10" in (news or "") and "Jean_du_13" not in (news or "")
    assert stored[ITEMS["report"]] is None and stored[ITEMS["slow"]] is None and stored[ITEMS["archive"]] is None
    assert "Dossier Marioupol" not in (stored[ITEMS["sport"]] or "")

    # The failures are the feed's page failures, never its own errors.
    shown = json.loads(monitor("--config", str(config), "feeds", "--json").stdout)
    gazette = next(f for f in shown if f["name"] == "gazette")
    assert gazette["status"] == "ok" and gazette["last_error"] is None
    assert gazette["page_failures_24h"] == {"not_html": 1, "too_large": 1, "robots": 1, "late": 1}
    table = monitor("--config", str(config), "feeds").stdout
    assert "PAGES FAILED" in table.splitlines()[0]

    # A rule replayed over the stored articles reads the full text too.
    replayed = monitor("--config", str(config), "rules", "backtest", "elbe", "--json")
    assert [m["title"] for m in json.loads(replayed.stdout)] == [ITEMS["moved"]]

    # A second run, a new process: nothing new to alert, no page fetched again.
    requests = len(server.requests)
    second = monitor("--config", str(config), "run", "--once", timeout=90)
    assert second.returncode == 0, second.stderr
    assert sorted(path for path, _ in server.requests[requests:]) == ["/feed.xml", "/other.xml"]
    assert len(loopback.received_on("/hook")) == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def daemon_settings(
    tmp_path: Path, server: FeedServer, hook: str, database_url: str, wait: str = "20s", port: int = 1
) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[server]
listen = "127.0.0.1:{port}"

[scheduler]
poll_interval = "2s"
allow_fast_polling = true  # the feed server is the test's own
delivery_interval = "1s"

[seeds]
enabled = false

[http]
timeout = "5s"

[ingest]
full_text_wait = "{wait}"
page_gap = "100ms"

[[feeds]]
name = "gazette"
url = "{server.url("/daemon.xml")}"
full_text = true

[webhooks.newsroom]
url = "{hook}"
format = "generic"

[[rules]]
name = "marioupol"
query = "Marioupol"
""",
        encoding="utf-8",
    )
    return config


def growing(server: FeedServer, names: list[str]) -> Callable[[BaseHTTPRequestHandler], None]:
    """Answer with the feed of ``names`` as the list is when asked."""
    return lambda handler: reply(200, feed(server, names), {"Content-Type": "application/rss+xml"})(handler)


def polled(database_url: str) -> object:
    """Return when the feed's last poll was stored."""
    return scalar(database_url, "SELECT last_checked_at FROM feeds WHERE name = 'gazette'")


def test_the_daemon_alerts_on_a_page_body_once_and_reads_no_page_twice_across_polls_and_a_kill(
    tmp_path: Path, server: FeedServer, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.routes["/hook"] = lambda _handler: (200, {}, b"ok")
    names = ["news", "sport", "report", "huge", "links"]
    server.routes["/daemon.xml"] = growing(server, names)
    links = b"<html><body>" + b'<a href="/x">un lien</a> ' * (14 * MB // 25)
    server.routes["/links"] = reply(200, links, {"Content-Type": HTML})
    port = free_port()
    config = daemon_settings(tmp_path, server, loopback.url("/hook"), database_url, port=port)
    pages = ["/news", "/sport", "/report.pdf", "/huge", "/links"]

    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: loopback.received_on("/hook") and polled(database_url) is not None, 60)
        [alert] = [r.json() for r in loopback.received_on("/hook")]
        assert alert["rule"]["name"] == "marioupol" and alert["article"]["title"] == ITEMS["news"]
        assert "au large de **Marioupol**" in starred(alert["snippet"], alert["highlights"])
        outcomes = dict(rows(database_url, "SELECT url_key, outcome FROM pages"))
        assert sorted(outcomes.values()) == ["not_html", "ok", "ok", "ok", "too_large"]
        assert [server.hits(path) for path in pages] == [1] * 5
        # The PDF and the pages of 14 and 40 MB did no harm: the daemon and its workers stayed small.
        assert peak_rss_mb(daemon.process.pid) < 450  # each process's own peak, added up
        # Its failed pages are counted by kind, never as the feed's failures.
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'monitor_full_text_pages_total{feed="gazette"} 3.0' in metrics
        for kind in ("not_html", "too_large"):
            assert f'monitor_full_text_failures_total{{feed="gazette",kind="{kind}"}} 1.0' in metrics
        assert 'monitor_feed_polls_total{feed="gazette",outcome="ok"}' in metrics

        # The next polls: the new item's page is read, none of the others again.
        names.append("brief")
        server.routes["/brief"] = serve_file(PAGES / "es-divs.html", HTML)
        daemon.wait_for(lambda: server.hits("/brief") == 1, 30)
        seen = server.hits("/daemon.xml")
        daemon.wait_for(lambda: server.hits("/daemon.xml") >= seen + 2, 30)  # one more poll, stored: its lease freed
        assert [server.hits(path) for path in pages] == [1] * 5 and server.hits("/brief") == 1

        # Killed just after a poll was stored, started again: its polls read no page again, alert nothing again.
        stored = polled(database_url)
        daemon.wait_for(lambda: polled(database_url) != stored, 30)
        daemon.kill()
        seen = server.hits("/daemon.xml")
        daemon = Daemon(config)
        daemon.wait_for(lambda: server.hits("/daemon.xml") >= seen + 2, 60)
    finally:
        daemon.stop()
    assert [server.hits(path) for path in pages] == [1] * 5 and server.hits("/brief") == 1
    assert len(loopback.received_on("/hook")) == 1
    assert scalar(database_url, "SELECT count(*) FROM alerts") == 1


def test_a_page_whose_article_a_kill_kept_from_being_stored_is_read_again(
    tmp_path: Path, server: FeedServer, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.routes["/hook"] = lambda _handler: (200, {}, b"ok")
    server.routes["/daemon.xml"] = growing(server, ["news", "slow"])
    answers = [drip(in_headers=True, seconds=5), serve_file(PAGES / "fr-aside-only.html", HTML)]
    server.routes["/slow"] = lambda handler: answers[min(server.hits("/slow"), 2) - 1](handler)
    config = daemon_settings(tmp_path, server, loopback.url("/hook"), database_url, wait="5s")

    daemon = Daemon(config)
    try:
        # The news page is read while the feed waits for the slow one: killed then, the article is not stored.
        daemon.wait_for(lambda: server.hits("/news") == 1 and server.hits("/slow") == 1, 30)
        daemon.kill()
        assert scalar(database_url, "SELECT count(*) FROM articles") == 0
        assert scalar(database_url, "SELECT count(*) FROM pages") == 0
        daemon = Daemon(config)  # it polls the feed once the dead one's lease has run out
        daemon.wait_for(lambda: len(loopback.received_on("/hook")) == 1, 60)
        seen = server.hits("/daemon.xml")
        daemon.wait_for(lambda: server.hits("/daemon.xml") >= seen + 2, 30)
    finally:
        daemon.stop()
    [alert] = [r.json() for r in loopback.received_on("/hook")]
    assert "au large de **Marioupol**" in starred(alert["snippet"], alert["highlights"])
    assert server.hits("/news") == 2 and server.hits("/slow") == 2  # once more each, then never again
    assert sorted(outcome for (outcome,) in rows(database_url, "SELECT outcome FROM pages")) == ["ok", "ok"]
