"""The web pages' queries, on both databases: alerts paged and filtered with deliveries and story copies, stories,
counts per day and health events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.ingest import stories
from monitor.ingest.article import ParsedArticle
from monitor.ingest.stories import StoryIndex
from monitor.observe.health import SOURCE
from monitor.store.alerts import NewAlert
from monitor.store.browse import Browse, days
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage

NOW = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    opened = Storage.open(database_url)
    yield opened
    opened.close()


def record(
    storage: Storage, key: str, rule: str, when: datetime, source: str = "world", webhooks: tuple[str, ...] = ("hook",)
) -> int:
    """Store an article and one alert of ``rule`` on it; return the alert's id."""
    with storage.transaction() as tx:
        (stored,) = tx.save_new_articles(
            [ParsedArticle(key, source, f"Title {key}", "text", url=f"https://x/{key}")], when
        )
        (message,) = tx.record_alerts(
            [NewAlert(stored, rule, "q", ("NATO",), "text", "the NATO summit", webhooks, highlights=((4, 8),))], when
        )
    return message.id


def test_alerts_newest_first_paged_and_by_rule_with_their_deliveries(storage: Storage) -> None:
    ids = [record(storage, f"a{n}", "even" if n % 2 == 0 else "odd", NOW + timedelta(minutes=n)) for n in range(7)]
    browse = Browse(storage.reader)
    first = browse.alerts(limit=3)
    assert [a.id for a in first] == ids[::-1][:3]
    assert [a.id for a in browse.alerts(before=first[-1].id, limit=3)] == ids[::-1][3:6]
    assert [a.id for a in browse.alerts("even", limit=10)] == [ids[6], ids[4], ids[2], ids[0]]
    assert [a.id for a in browse.alerts("even", before=ids[4], limit=10)] == [ids[2], ids[0]]
    assert browse.alerts("none") == []
    newest = first[0]
    assert (newest.rule, newest.snippet, newest.highlights, newest.matched) == (
        "even",
        "the NATO summit",
        ((4, 8),),
        ("NATO",),
    )
    assert (newest.article.title, newest.article.url, newest.article.source) == ("Title a6", "https://x/a6", "world")
    assert [(d.webhook, d.status) for d in newest.deliveries] == [("hook", "pending")]
    Outbox(storage).mark_sent([1], 200, NOW, "hook", "https://hook")
    assert [d.status for d in browse.alerts(before=ids[1], limit=1)[0].deliveries] == ["sent"]
    assert browse.alert_rules() == ["even", "odd"]


def test_an_alert_lists_the_other_articles_of_its_story_and_the_story_lists_them_all(storage: Storage) -> None:
    index = StoryIndex()
    copies = [
        ParsedArticle(f"k{n}", source, "NATO summit opens in Vilnius with talks on air defence", "Leaders meet today.")
        for n, source in enumerate(["wire", "paper", "radio"])
    ]
    with storage.transaction() as tx:
        stored = tx.save_new_articles(copies, NOW)
        signatures = {c.content_key: stories.signature(c.title, c.text) for c in copies}
        filed = tx.file_in_stories(stored, index, NOW, signatures)
        tx.record_alerts([NewAlert(stored[0], "r", "q", ("NATO",), "title", "NATO summit", ())], NOW)
    story = set(filed.values())
    assert len(story) == 1
    (alert,) = Browse(storage.reader).alerts()
    assert alert.story_id == story.pop()
    assert [ref.source for ref in alert.also_in] == ["paper", "radio"]
    assert alert.deliveries == ()
    articles = Browse(storage.reader).story(alert.story_id)
    assert [a.source for a in articles] == ["wire", "paper", "radio"]
    assert all(a.fetched == NOW for a in articles)
    assert Browse(storage.reader).story(10**9) == []


def test_counts_per_day_of_articles_by_feed_and_of_alerts_by_rule(storage: Storage) -> None:
    for n, (source, age) in enumerate([("world", 0), ("world", 0), ("world", 2), ("local", 1), ("world", 20)]):
        record(storage, f"c{n}", f"rule-{source}", NOW - timedelta(days=age), source=source)
    browse = Browse(storage.reader)
    since = NOW - timedelta(days=13)
    today, yesterday, before = NOW.date(), NOW.date() - timedelta(days=1), NOW.date() - timedelta(days=2)
    assert browse.articles_per_day(["world", "local", "quiet"], since) == {
        "world": {today: 2, before: 1},
        "local": {yesterday: 1},
    }
    assert browse.alerts_per_day(since) == {"rule-world": {today: 2, before: 1}, "rule-local": {yesterday: 1}}
    last = browse.last_alerts(["rule-world", "nothing"], 2)
    assert [title for _, _, title in last["rule-world"]] == ["Title c1", "Title c0"]
    assert last["nothing"] == []


def test_health_events_name_their_feed_even_with_a_colon_in_it(storage: Storage) -> None:
    events = [
        ParsedArticle(f"health:{feed}:failing:{n}", SOURCE, f"Feed '{feed}' failing for 6 h", "")
        for n, feed in enumerate(["world", "a:b"])
    ]
    with storage.transaction() as tx:
        tx.save_new_articles(events, NOW)
    found = Browse(storage.reader).health_events(SOURCE, 10)
    assert [(e.feed, e.title) for e in found] == [
        ("a:b", "Feed 'a:b' failing for 6 h"),
        ("world", "Feed 'world' failing for 6 h"),
    ]


def test_days_end_with_the_given_day() -> None:
    assert days(date(2026, 3, 2), 3) == [date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
