"""One cycle over good and hostile feeds, through real sockets: the good ones are stored, each bad one has its
classified error, and the process stays alive and small. Then ``monitor feeds`` shows it all."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.ingest import fetcher, netguard
from monitor.ingest.netguard import Address
from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store.storage import Storage
from tests.conftest import FIXTURES
from tests.daemon import monitor, start, stop
from tests.db import rows
from tests.feedserver import MB, FeedServer, drip, endless, gzip_bomb, redirect, reply, serve_file

pytestmark = pytest.mark.integration
LATIN1 = '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Genève</title>'
LATIN1 += "<item><title>Sécurité à Genève</title><guid>l1</guid></item></channel></rss>"
CP1252 = LATIN1.replace("Sécurité à Genève", "“Réunion” – Bruxelles…").replace("l1", "c1")
GOOD = {
    "world": "Leaders gather for the NATO summit in Madrid",
    "ukraine": "Бої на Донбасі тривають",
    "rdf": "Summit in Vilnius",
    "etag": "Leaders gather for the NATO summit in Madrid",
    "laughs": "Laughs &lol9;",
    "latin1": "Sécurité à Genève",
    "cp1252": "“Réunion” – Bruxelles…",
}
BAD = {
    "big": "too_large",
    "bomb": "too_large",
    "drip": "timeout",
    "loop": "redirect",
    "html": "not_a_feed",
    "error500": "http",
    "busy": "http",
    "gone": "http",
}


def serve_newsroom(server: FeedServer) -> dict[str, str]:
    """Serve every feed of the cycle; return their URLs by name."""
    feeds = FIXTURES / "feeds"
    routes = {
        "world": serve_file(feeds / "rss2.xml"),
        "ukraine": serve_file(feeds / "atom.xml", "application/atom+xml"),
        "rdf": serve_file(feeds / "rss1.xml", "application/rdf+xml"),
        "etag": serve_file(feeds / "rss2.xml", etag='"v1"'),
        "laughs": serve_file(feeds / "billion-laughs.xml"),
        "latin1": reply(200, LATIN1.encode("iso-8859-1"), {"Content-Type": "application/rss+xml"}),
        "cp1252": reply(200, CP1252.encode("cp1252"), {"Content-Type": "text/xml; charset=ISO-8859-1"}),
        "big": endless(50 * MB, declare_length=False),
        "bomb": gzip_bomb(1024 * MB),
        "drip": drip(),
        "loop": redirect("/loop"),
        "html": serve_file(feeds / "not-a-feed.html", "text/html; charset=utf-8"),
        "error500": reply(500, b"oops"),
        "busy": reply(429, b"slow down", {"Retry-After": "3600"}),
        "gone": reply(410, b"gone"),
    }
    for name, route in routes.items():
        server.routes["/loop" if name == "loop" else f"/{name}.xml"] = route
    return {name: server.url("/loop" if name == "loop" else f"/{name}.xml") for name in routes}


def settings_text(urls: dict[str, str], database: str) -> str:
    feeds = "".join(f'\n[[feeds]]\nname = "{name}"\nurl = "{url}"\ninterval = "1h"\n' for name, url in urls.items())
    return f"""
[database]
url = "{database}"

[seeds]
enabled = false

[ingest]
first_poll_window = "10000d"  # the fixture feeds' entries date from 2022

[http]
timeout = "2s"
max_connections = 6
{feeds}"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def test_one_cycle_over_good_and_hostile_feeds(
    tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    urls = serve_newsroom(server)
    server.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    urls["metadata"] = server.url("/meta", host="public.test")

    def resolve(host: str, port: int) -> list[Address]:
        return [Address("127.0.0.1", True)] if host == "public.test" else netguard.system_resolve(host, port)

    monkeypatch.setattr(netguard, "resolve", resolve)
    (tmp_path / "settings.toml").write_text(settings_text(urls, database_url), encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml", {})
    storage = Storage.open(settings.database.url)
    with httpx.Client() as client:
        pipeline = Pipeline(settings, storage, client, lambda _alert: None)
        started = time.monotonic()
        tracemalloc.start()
        try:
            pipeline.refresh_feeds()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - started
        with fetcher.feed_client() as feed_client:  # polled again: a conditional request
            pipeline.refresh_feed(next(feed for feed in settings.feeds if feed.name == "etag"), feed_client)
        pipeline.close()
    storage.close()

    assert elapsed < 20  # the drip's 2 s deadline, not its 30 s of bytes (nor the sum of the feeds)
    assert peak < 64 * MB  # two 15 MB bodies cut at the cap at the same time, at most
    stored = set(rows(database_url, "SELECT source, title FROM articles"))
    for name, title in GOOD.items():
        if name not in ("world", "etag"):
            assert (name, title) in stored, name
    # "world" and "etag" serve the same file: each of its items is stored once, from whichever came first.
    copies = [source for source, title in stored if title == GOOD["world"]]
    assert len(copies) == 1 and copies[0] in ("world", "etag")
    kinds = dict(rows(database_url, "SELECT name, error_kind FROM feeds"))
    assert {name: kinds[name] for name in BAD} == BAD
    assert kinds["metadata"] == "blocked"
    assert all(kinds[name] is None for name in GOOD)
    status = dict(rows(database_url, "SELECT name, status FROM feeds"))
    assert status["etag"] == "not_modified" and status["gone"] == "disabled"
    etag_requests = [headers for path, headers in server.requests if path == "/etag.xml"]
    assert etag_requests[-1]["if-none-match"] == '"v1"'


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_the_daemon_survives_a_hostile_cycle_and_monitor_feeds_reports_it(
    tmp_path: Path, server: FeedServer, database_url: str
) -> None:
    urls = serve_newsroom(server)
    config = tmp_path / "settings.toml"
    config.write_text(settings_text(urls, database_url), encoding="utf-8")
    process = start(config)
    try:
        deadline = time.monotonic() + 20
        report: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            result = monitor("--config", str(config), "feeds", "--json", cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            if all(feed["status"] != "new" for feed in report):
                break
            time.sleep(0.2)
        if process.poll() is not None:  # it must be alive after the whole cycle
            raise AssertionError(f"the daemon exited with {process.returncode}: {process.communicate()[1]}")
        assert peak_memory_mb(process.pid) < 250
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr

    by_name = {feed["name"]: feed for feed in report}
    assert {name: by_name[name]["error_kind"] for name in BAD} == BAD
    for name in GOOD:
        assert by_name[name]["status"] == "ok" and by_name[name]["last_success"], name
    assert by_name["world"]["articles_24h"] == 3
    assert by_name["busy"]["consecutive_failures"] == 1
    assert by_name["busy"]["last_error"] == "feed 'busy': HTTP 429 from 127.0.0.1"
    assert by_name["gone"]["disabled"] is True and by_name["gone"]["next_poll"] is None
    assert set(by_name["drip"]) == {
        "name",
        "url",
        "status",
        "last_success",
        "last_checked",
        "last_error",
        "error_kind",
        "last_status_code",
        "consecutive_failures",
        "next_poll",
        "disabled",
        "disabled_reason",
        "articles_24h",
    }

    table = monitor("--config", str(config), "feeds", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "LAST", "SUCCESS", "FAILURES", "NEXT", "POLL", "24H", "LAST", "ERROR"]
    assert len(lines) == len(urls) + 1
    busy = next(line for line in lines if line.startswith("busy "))
    assert "error (http)" in busy and "never" in busy and "HTTP 429 from 127.0.0.1" in busy
