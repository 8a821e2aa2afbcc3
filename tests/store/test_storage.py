from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event

from monitor.errors import StorageError
from monitor.ingest import stories
from monitor.ingest.article import ParsedArticle
from monitor.store.alerts import NewAlert
from monitor.store.engine import redact_url
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def article(key: str, title: str = "Title") -> ParsedArticle:
    return ParsedArticle(content_key=key, source="feed", title=title, text="text", published=NOW)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    store = Storage.open(database_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Iterator[Storage]:
    store = Storage.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield store
    store.close()


def test_sqlite_is_in_wal_mode(sqlite_storage: Storage, tmp_path: Path) -> None:
    with sqlite_storage.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert (tmp_path / "monitor.db").exists()


def test_save_new_articles_returns_only_new_ones(storage: Storage) -> None:
    with storage.transaction() as tx:
        first = tx.save_new_articles([article("a"), article("b"), article("a")], NOW)
    assert [s.article.content_key for s in first] == ["a", "b"]
    with storage.transaction() as tx:
        second = tx.save_new_articles([article("b"), article("c")], NOW)
    assert [s.article.content_key for s in second] == ["c"]
    assert len({s.id for s in first + second}) == 3


def test_alerts_are_unique_per_rule_and_article(storage: Storage) -> None:
    with storage.transaction() as tx:
        (stored,) = tx.save_new_articles([article("a")], NOW)
        hit = NewAlert(stored, "rule", "query", ("word",), "text", "… **word** …", ("hook1", "hook2"))
        first = tx.record_alerts([hit], NOW)
        again = tx.record_alerts([hit], NOW)
    assert len(first) == 1 and again == []
    assert first[0].article.published == NOW
    assert Outbox(storage).counts() == {"pending": 2}


def test_transaction_rolls_back_everything_on_error(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.transaction() as tx:
        (stored,) = tx.save_new_articles([article("a")], NOW)
        tx.record_alerts([NewAlert(stored, "r", "q", (), "text", "", ("hook",))], NOW)
        raise RuntimeError("crash in the middle")
    with storage.transaction() as tx:
        assert [s.article.content_key for s in tx.save_new_articles([article("a")], NOW)] == ["a"]
    assert Outbox(storage).counts() == {}


def test_concurrent_writers_do_not_fail(storage: Storage) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(30):
                with storage.transaction() as tx:
                    tx.save_new_articles([article(f"{worker}-{i}")], NOW)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with storage.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM articles").scalar() == 120


def test_times_are_stored_in_utc(sqlite_storage: Storage, tmp_path: Path) -> None:
    with sqlite_storage.transaction() as tx:
        tx.save_new_articles([article("a")], NOW.astimezone(timezone(timedelta(hours=2))))
    raw = sqlite3.connect(tmp_path / "monitor.db").execute("SELECT fetched_at FROM articles").fetchone()[0]
    assert raw.startswith("2026-01-01 12:00:00")


def test_times_come_back_in_utc(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.save_new_articles([article("a")], NOW)
    (saved,) = list(storage.articles_since(NOW - timedelta(days=1)))
    assert saved.fetched == NOW and saved.fetched.tzinfo is not None and saved.published == NOW


def test_unusable_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="database"):
        Storage.open(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")


def test_redact_url() -> None:
    assert redact_url("postgresql+psycopg://user:hunter2@db/monitor") == "postgresql+psycopg://user:***@db/monitor"


def stored_at(storage: Storage, fetched: dict[str, int], published: dict[str, int | None]) -> None:
    """Store one article per key, fetched and published the given number of days before NOW."""
    for key, days in fetched.items():
        ago = published.get(key)
        item = ParsedArticle(
            content_key=key,
            source="feed",
            title=key,
            text="text",
            published=None if ago is None else NOW - timedelta(days=ago),
        )
        with storage.transaction() as tx:
            tx.save_new_articles([item], NOW - timedelta(days=days))


@pytest.mark.parametrize(
    ("fetched", "published", "days", "batch", "expected"),
    [
        ({"a": 1, "b": 2, "c": 3}, {}, 7, 500, ["c", "b", "a"]),
        ({"a": 10, "b": 2, "c": 3}, {}, 7, 500, ["c", "b"]),
        ({"a": 10, "b": 2}, {"a": 1}, 7, 500, ["b", "a"]),
        ({"a": 10, "b": 20}, {"a": 30, "b": None}, 7, 500, []),
        ({f"k{i}": 1 for i in range(7)}, {}, 7, 2, [f"k{i}" for i in reversed(range(7))]),
        ({f"k{i}": i for i in range(7)}, {}, 3, 2, ["k3", "k2", "k1", "k0"]),
        ({f"k{i}": 1 for i in range(4)}, {}, 7, 4, ["k3", "k2", "k1", "k0"]),
        ({}, {}, 7, 500, []),
    ],
)
def test_articles_since_streams_recent_articles_newest_first(
    storage: Storage,
    fetched: dict[str, int],
    published: dict[str, int | None],
    days: int,
    batch: int,
    expected: list[str],
) -> None:
    stored_at(storage, fetched, published)
    found = list(storage.articles_since(NOW - timedelta(days=days), batch=batch))
    assert [a.title for a in found] == expected
    assert all(a.fetched.tzinfo is not None and a.text == "text" for a in found)


def test_articles_since_reads_in_batches(storage: Storage) -> None:
    stored_at(storage, {f"k{i}": 1 for i in range(5)}, {})
    statements: list[str] = []
    event.listen(storage.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    stream = storage.articles_since(NOW - timedelta(days=7), batch=2)
    assert [a.title for a in itertools.islice(stream, 3)] == ["k4", "k3", "k2"]
    assert sum("FROM articles" in s for s in statements) == 2  # the third batch is not read yet


class CountedHit:
    """What explains a hit, counting how often it is read."""

    def __init__(self, word: str) -> None:
        self.word, self.reads = word, 0

    @property
    def matched(self) -> tuple[str, ...]:
        self.reads += 1
        return (self.word,)

    @property
    def field(self) -> str:
        return "text"

    @property
    def snippet(self) -> str:
        return f"a {self.word} here"

    @property
    def highlights(self) -> tuple[tuple[int, int], ...]:
        return ((2, 2 + len(self.word)),)


def test_only_the_alerts_recorded_work_out_their_hits(storage: Storage) -> None:
    # Two copies of one story, one rule alerting once per story: the copy's hit is never explained.
    first_hit, copy_hit = CountedHit("flood"), CountedHit("Flood")
    with storage.transaction() as tx:
        first, copy = tx.save_new_articles([article("a"), article("b")], NOW)
        alerts = [
            NewAlert(item, "rule", "q", (), "", "", ("hook",), story_id=7, story_window=timedelta(days=1), hit=hit)
            for item, hit in ((first, first_hit), (copy, copy_hit))
        ]
        (recorded,) = tx.record_alerts(alerts, NOW, lone_stories={7})
    assert (recorded.matched, recorded.field, recorded.snippet, recorded.highlights) == (
        ("flood",),
        "text",
        "a flood here",
        ((2, 7),),
    )
    assert first_hit.reads == 1 and copy_hit.reads == 0


def test_a_batch_is_filed_in_stories_with_one_read_of_its_candidates(storage: Storage) -> None:
    wire = (
        "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
        "output, to send more air defence systems to Ukraine before winter and to open a new training mission in "
        "Poland, officials said after the first day of talks."
    )
    storm = (
        "A storm hit the northern coast overnight, cutting power to thousands of homes and closing two ports, "
        "while rail services between the three largest towns were suspended until the tracks are cleared."
    )
    rates = (
        "Central banks held rates on Thursday as inflation slowed for the third month in a row, they said, and "
        "markets now expect the first cut before the summer, once wages have stopped rising as fast as prices."
    )
    first = [ParsedArticle("w1", "wire", "NATO", wire), ParsedArticle("r1", "wire", "Rates", rates)]
    later = [
        ParsedArticle("w2", "paper", "NATO summit", wire.replace("Leaders of the alliance", "Alliance leaders")),
        ParsedArticle("s1", "paper", "Storm", storm),
        ParsedArticle("s2", "radio", "Storm hits", storm.replace("are cleared", "can be cleared")),
        ParsedArticle("r2", "radio", "Rates on hold", rates),
    ]
    signatures = {a.content_key: stories.signature(a.title, a.text) for a in [*first, *later]}
    index = stories.StoryIndex()
    with storage.transaction() as tx:
        older = tx.file_in_stories(tx.save_new_articles(first, NOW, signatures), index, NOW, signatures, 1)
    statements: list[str] = []
    event.listen(storage.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with storage.transaction() as tx:
        stored = tx.save_new_articles(later, NOW, signatures)
        filed = tx.file_in_stories(stored, index, NOW, signatures, 2)
    ids = {item.article.content_key: item.id for item in stored}
    wire_story, rates_story = older.values()
    assert [filed[ids[key]] for key in ("w2", "s1", "s2", "r2")] == [wire_story, ids["s1"], ids["s1"], rates_story]
    assert sum("signature" in s and s.lstrip().startswith("SELECT") for s in statements) == 1
    with storage.transaction() as tx:  # what was written is what the next batch reads back
        assert {row: story for row, (story, _) in tx.story_sketches(list(ids.values())).items()} == filed


def test_feed_vitals_give_each_feed_its_recent_times_and_newest_health_event(storage: Storage) -> None:
    # Feed "a:b" has a name that holds the separator, so its events' keys start with feed "a"'s prefix too.
    feeds = [
        ("a", "http://a.test/"),
        ("a:b", "http://ab.test/"),
        ("quiet", "http://q.test/"),
        ("new", "http://n.test/"),
    ]
    for name, url in feeds[:3]:
        with storage.transaction() as tx:
            tx.record_feed_success(name, url, None, None, 200, NOW)
    for day, (source, key) in enumerate(
        [
            ("a", "a1"),
            ("monitor/health", "health:a:failing:1"),
            ("a", "a2"),
            ("monitor/health", "health:a:b:failing:2"),
            ("a:b", "ab1"),
            ("monitor/health", "health:a:b:back:3"),
            ("elsewhere", "health:quiet:failing:4"),  # not a health event: another source
        ]
    ):
        item = ParsedArticle(content_key=key, source=source, title=key, text="text", published=None)
        with storage.transaction() as tx:
            tx.save_new_articles([item], NOW + timedelta(days=day))
    vitals = {v.name: v for v in storage.feed_vitals(feeds, 1, "monitor/health", lambda name: f"health:{name}:")}
    assert sorted(vitals) == ["a", "a:b", "quiet"]  # "new" was never polled
    assert vitals["a"].article_times == [NOW + timedelta(days=2)]  # its newest one only: a rhythm of 1
    assert vitals["a:b"].article_times == [NOW + timedelta(days=4)]
    assert vitals["quiet"].article_times == []
    # The newest event whose key starts with the feed's prefix, as a prefix search finds it.
    assert vitals["a"].last_event_key == "health:a:b:back:3"
    assert vitals["a:b"].last_event_key == "health:a:b:back:3"
    assert vitals["quiet"].last_event_key is None
