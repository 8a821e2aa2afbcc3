"""The parse pool gives what ``parse_feed`` and ``analysis.analyze`` give, errors included, from its workers."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from monitor.analysis import analyze, recent, with_plausible_dates
from monitor.errors import FeedParseError
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.matching import Matcher
from monitor.matching.query import parse
from tests.conftest import FIXTURES


def test_the_pool_parses_like_parse_feed() -> None:
    pool = ParsePool(workers=1)
    try:
        for name in ("rss2.xml", "atom.xml"):
            content = (FIXTURES / "feeds" / name).read_bytes()
            assert pool.parse(content, name, {}, "http://feeds.test/") == parse_feed(
                content, name, {}, "http://feeds.test/"
            )
        with pytest.raises(NotAFeedError) as raised:
            pool.parse((FIXTURES / "feeds" / "not-a-feed.html").read_bytes(), "page", {"content-type": "text/html"})
        assert isinstance(raised.value, FeedParseError) and "feed 'page': not a feed" in str(raised.value)
    finally:
        pool.close()
    pool.close()  # closing twice is harmless


def test_started_workers_analyze_with_the_pool_rules_like_the_calling_thread() -> None:
    rules = {"otan": parse("otan NEAR/3 sommet"), "absent": parse("volcan")}
    articles = parse_feed((FIXTURES / "feeds" / "rss2.xml").read_bytes(), "rss2").articles
    seed = ParsedArticle("seed:1", "seeds/x", "Le sommet de l'Otan", "Les ministres au sommet de l'Otan à Bruxelles.")
    articles = [*articles, seed]
    wanted = {seed.content_key, articles[0].content_key}
    pool = ParsePool(workers=2, rules=rules)
    try:
        pool.start()
        found = pool.analyze(articles, wanted)
    finally:
        pool.close()
    assert found == analyze(Matcher(rules), articles, wanted)
    assert set(found.sketches) == {a.content_key for a in articles} and set(found.hits) == wanted
    assert [hit.rule for hit in found.hits[seed.content_key]] == ["otan"]
    assert all(len(sketch) == 512 for sketch in found.sketches.values())


def test_a_first_poll_is_parsed_and_analyzed_in_one_trip_like_in_two_steps() -> None:
    rules = {"otan": parse("otan OR sommet"), "every": parse("NOT volcan")}
    items = [
        ("Sommet de l'Otan à Madrid", "Mon, 20 Jun 2022 08:00:00 GMT"),  # too old to alert
        ("L'Otan se réunit", "Tue, 28 Jun 2022 08:00:00 GMT"),  # in the future when fetched: dated then
        ("Sommet sans date", None),
    ]
    entries = "".join(
        f"<item><title>{title}</title><link>http://feeds.test/{n}</link>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + "</item>"
        for n, (title, date) in enumerate(items)
    )
    content = (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'
    )
    fetched = datetime(2022, 6, 25, tzinfo=UTC)
    alert_since = fetched - timedelta(days=1)
    pool = ParsePool(workers=1, rules=rules)
    try:
        got_feed, got = pool.parse_and_analyze(content.encode(), "t", {}, "http://feeds.test/", fetched, alert_since)
    finally:
        pool.close()
    parsed = parse_feed(content.encode(), "t", {}, "http://feeds.test/")
    articles = with_plausible_dates(parsed.articles, fetched)
    assert [a.published for a in articles] == [datetime(2022, 6, 20, 8, tzinfo=UTC), fetched, None]
    assert got_feed.articles == articles and got_feed.ttl == parsed.ttl
    assert got == analyze(Matcher(rules), articles, recent(articles, alert_since))
    assert set(got.sketches) == {a.content_key for a in articles}
    assert set(got.hits) == {articles[1].content_key, articles[2].content_key}


CHILD = """
import sys
import threading
from monitor.ingest.parsepool import ParsePool
pool = ParsePool(workers=2)
pool.parse(open(sys.argv[1], "rb").read(), "rss2", {}, "http://feeds.test/")
pool.start()
print(*(process.pid for process in pool._executor._processes.values()), flush=True)
sys.stdin.read()
"""


def _running(pid: int) -> bool:
    """Return whether pid is a live process (not gone, nor a zombie no one reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.integration
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the workers' state in /proc (Linux)")
def test_workers_end_when_their_daemon_is_killed() -> None:
    feed = FIXTURES / "feeds" / "rss2.xml"
    command = [sys.executable, "-c", CHILD, str(feed)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            workers = [int(pid) for pid in child.stdout.readline().split()]
            assert len(workers) == 2 and all(_running(pid) for pid in workers)
        finally:
            child.kill()
    deadline = time.monotonic() + 15
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)]


FORKED = """
import gc, sys
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import parse_feed
content = open(sys.argv[1], "rb").read()
pool = ParsePool(workers=1)
before = pool.start_method
same = pool.parse(content, "rss2", {}, "http://feeds.test/") == parse_feed(content, "rss2", {}, "http://feeds.test/")
during = (pool.start_method, gc.get_freeze_count() > 0)
pool.close()
print(before, same, *during, gc.get_freeze_count())
"""


def test_workers_are_forked_from_a_lone_thread_with_the_collector_frozen_until_the_pool_closes() -> None:
    # In a fresh interpreter: threads that other tests leave running here would make the pool spawn.
    command = [sys.executable, "-c", FORKED, str(FIXTURES / "feeds" / "rss2.xml")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    # Parsed as in this thread, by a forked worker, while the objects it shares are kept from the collector.
    assert done.stdout.split() == ["None", "True", "fork", "True", "0"]


def test_workers_are_spawned_while_another_thread_runs() -> None:
    content = (FIXTURES / "feeds" / "atom.xml").read_bytes()
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    pool = ParsePool(workers=1)
    try:
        assert pool.parse(content, "atom", {}, "http://feeds.test/") == parse_feed(
            content, "atom", {}, "http://feeds.test/"
        )
        assert pool.start_method == "spawn"
        assert gc.get_freeze_count() == 0
    finally:
        release.set()
        pool.close()
        other.join()
