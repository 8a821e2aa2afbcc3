from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.filing import Filing
from monitor.ingest.article import ParsedArticle
from monitor.observe.metrics import Metrics
from monitor.ruleset import Ruleset
from monitor.settings.config import load_settings
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage, Tx

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SETTINGS = '[database]\nurl = "sqlite:///x.db"\n[seeds]\nenabled = false\n[[rules]]\nname = "nato"\nquery = "NATO"\n'
WIRE = (
    "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
    "output, to send more air defence systems to Ukraine before winter, officials said after the first day."
)
Batch = tuple[list[ParsedArticle], Callable[[Tx], None]]


@pytest.fixture
def filing(tmp_path: Path, database_url: str) -> Iterator[tuple[Filing, list[int]]]:
    """Yield a filing step on an empty database, and the list that counts its write transactions."""
    (tmp_path / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml", {"MONITOR_DATABASE_URL": database_url})
    storage = Storage.open(settings.database.url)
    active = Ruleset.build(settings)
    transactions: list[int] = []
    opened = storage.transaction

    def counted() -> AbstractContextManager[Tx]:
        transactions.append(1)
        return opened()

    storage.transaction = counted  # type: ignore[method-assign]
    yield Filing(storage, Metrics(), lambda: NOW, lambda: active, lambda _alert: None), transactions
    storage.close()


def feed(name: str, *titles: str, fail: bool = False) -> Batch:
    """Return a feed's articles, and what its transaction records: its success, or an error."""
    articles = [
        ParsedArticle(f"{name}:{n}", name, title, WIRE if "NATO" in title else title) for n, title in enumerate(titles)
    ]

    def success(tx: Tx) -> None:
        if fail:
            raise RuntimeError(f"feed '{name}': refused")
        tx.record_feed_success(name, f"https://{name}.test/rss", f'"{name}"', None, 200, NOW)

    return articles, success


def store_together(filing: Filing, batches: list[Batch]) -> list[list[AlertMessage] | Exception]:
    """Store each batch from a thread of its own, all waiting for the lock at once; return each outcome."""
    outcomes: list[list[AlertMessage] | Exception] = [[] for _ in batches]

    def run(number: int, articles: list[ParsedArticle], also: Callable[[Tx], None]) -> None:
        try:
            outcomes[number] = filing.store(articles, also)
        except Exception as exc:
            outcomes[number] = exc

    threads = [threading.Thread(target=run, args=(n, *batch)) for n, batch in enumerate(batches)]
    with filing._stories_lock:  # held until every batch waits: the first to take it stores them all
        for thread in threads:
            thread.start()
        while len(filing._waiting) < len(batches):
            time.sleep(0.005)
    for thread in threads:
        thread.join()
    return outcomes


def rows(storage: Storage, query: str) -> list[tuple[object, ...]]:
    with storage.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def test_feeds_waiting_together_are_stored_in_one_transaction_each_as_if_alone(
    filing: tuple[Filing, list[int]],
) -> None:
    step, transactions = filing
    batches = [
        feed("wire", "NATO summit opens", "Rates on hold"),
        feed("paper", "NATO summit: talks"),
        feed("radio", "Storm on the coast"),
    ]
    outcomes = store_together(step, batches)
    assert len(transactions) == 1
    # The paper's copy and the wire's are one story, on which the rule alerts once (for whichever came first).
    alerted = [alert.article for found in outcomes if isinstance(found, list) for alert in found]
    assert len(alerted) == 1 and alerted[0].source in {"wire", "paper"}
    ids = dict(rows(step.storage, "SELECT content_key, id FROM articles"))
    stories = dict(rows(step.storage, "SELECT content_key, story_id FROM articles"))
    assert stories["paper:0"] == stories["wire:0"] == ids[f"{alerted[0].source}:0"] != stories["radio:0"]
    assert len(stories) == 4
    for name in ("wire", "paper", "radio"):
        assert step.storage.feed_state(name, f"https://{name}.test/rss").etag == f'"{name}"'  # each feed's success
    assert rows(step.storage, "SELECT count(*) FROM alerts") == [(1,)]


def test_one_feed_that_fails_the_shared_transaction_fails_alone(filing: tuple[Filing, list[int]]) -> None:
    step, transactions = filing
    batches = [feed("wire", "NATO summit opens"), feed("bad", "Rates on hold", fail=True), feed("radio", "Storm")]
    outcomes = store_together(step, batches)
    assert len(transactions) == 1 + 3  # the shared one, rolled back, then one each
    assert isinstance(outcomes[1], RuntimeError) and str(outcomes[1]) == "feed 'bad': refused"
    assert [len(found) for found in outcomes if isinstance(found, list)] == [1, 0]
    keys = {key for (key,) in rows(step.storage, "SELECT content_key FROM articles")}
    assert keys == {"wire:0", "radio:0"}
    assert step.storage.feed_state("bad", "https://bad.test/rss").etag is None
    assert step.storage.feed_state("radio", "https://radio.test/rss").etag == '"radio"'
    # The story index, dropped with the failed transaction, is rebuilt: a later copy still joins its story.
    (alerts,) = store_together(step, [feed("late", "NATO summit: day two")])
    stories = dict(rows(step.storage, "SELECT content_key, story_id FROM articles"))
    assert stories["late:0"] == stories["wire:0"] and alerts == []
