"""The workbench's word index: the same results as replaying every article, built in the background, kept current,
dropped when idle; over articles in memory and over a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import backtest
from monitor.ingest.article import ParsedArticle
from monitor.matching import Matcher, compile_rule
from monitor.store.storage import SavedArticle, Storage
from monitor.web.articleindex import RENEWED, ArticleIndex, Indexed
from monitor.web.workbench import Form, Workbench
from tests.matching.test_wordindex import LANGUAGES, entries, queries, texts

NOW = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)


class Memory:
    """Articles in memory, read as ``Storage`` reads them."""

    def __init__(self, articles: Sequence[SavedArticle] = ()) -> None:
        self.rows = {article.id: article for article in articles}

    def articles_since(self, since: datetime, batch: int = 500) -> Iterator[SavedArticle]:
        for article_id in sorted(self.rows, reverse=True):
            article = self.rows[article_id]
            if article.fetched >= since or (article.published is not None and article.published >= since):
                yield article

    def article_ids_since(self, after: int, fetched_since: datetime) -> list[int]:
        return [i for i, article in self.rows.items() if i > after or article.fetched >= fetched_since]

    def articles_by_ids(self, ids: Sequence[int]) -> list[SavedArticle]:
        return sorted((self.rows[i] for i in ids if i in self.rows), key=lambda article: -article.id)


def saved(
    article_id: int, title: str, text: str, language: str | None = "en", hours: float = 0, full_text: str | None = None
) -> SavedArticle:
    fetched = NOW - timedelta(hours=hours)
    published = fetched - timedelta(hours=1) if article_id % 3 else None
    return SavedArticle(
        article_id, title, text, f"https://x/{article_id}", "world", published, fetched, full_text, language
    )


def built(store: Memory, now: datetime = NOW) -> tuple[ArticleIndex, Indexed]:
    index = ArticleIndex(store)
    assert index.ready(now) is None and index.wait(30)
    ready = index.ready(now)
    assert ready is not None
    return index, ready


def same(found: backtest.Report, expected: backtest.Report) -> None:
    assert (found.scanned, found.matched, found.complete) == (expected.scanned, expected.matched, expected.complete)
    assert found.matches == expected.matches


timed_articles = st.lists(
    st.tuples(texts, texts, st.sampled_from(LANGUAGES), st.integers(0, 400), st.booleans()), min_size=1, max_size=14
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stored=timed_articles,
    query=st.one_of(st.none(), queries),
    any=entries,
    exclude=entries,
    since=st.integers(1, 300),
    limit=st.integers(1, 4),
)
def test_a_search_through_the_index_gives_what_replaying_every_article_gives(
    stored: list[tuple[str, str, str | None, int, bool]],
    query: str | None,
    any: list[str],
    exclude: list[str],
    since: int,
    limit: int,
) -> None:
    if query is None and not any and not exclude:
        query = "Донбасс"
    articles = [
        saved(n + 1, title, text, language, hours, full_text=text + " full" if full else None)
        for n, (title, text, language, hours, full) in enumerate(stored)
    ]
    store = Memory(articles)
    tree = compile_rule(query, any, exclude)
    matcher = Matcher({"rule": tree})
    start = NOW - timedelta(hours=since)
    expected = backtest.replay(matcher, store.articles_since(start), limit)
    index, ready = built(store)
    try:
        same(index.search(ready, Matcher({"rule": tree}), tree, start, limit, None), expected)
    finally:
        index.close()


@pytest.mark.parametrize(
    ("form", "ids"),
    [
        (Form(query="Донбасс"), [8, 2]),
        (Form(query="=Донбасс"), [8]),
        (Form(query="summit"), [6, 1]),
        (Form(query='"NATO summit"'), [6, 1]),
        (Form(query="title:nato"), [6, 1]),
        (Form(query="secur*"), [7, 5]),
        (Form(query="sommet NEAR/2 Otan"), [5]),
        (Form(query="NOT nato"), [8, 7, 5, 4, 3, 2]),
        (Form(any=("Donbass", "Donbas", "Донбасс"), exclude=("football",)), [8, 4, 2]),
        (Form(query="北约"), [7]),
        (Form(query="attack"), [7]),
        (Form(query="Донбасс", since="3h"), [2]),  # 8 is older
    ],
)
def test_the_workbench_finds_through_the_index_what_it_finds_without(form: Form, ids: list[int]) -> None:
    store = Memory(
        [
            saved(1, "NATO summit opens in Vilnius", "Leaders meet."),
            saved(2, "Бои в Донбассе продолжаются", "Обстрелы не прекращаются.", "ru"),
            saved(3, "Football: Donbass derby", "A match report."),
            saved(4, "Weather", "Sunny in the Donbas region today."),
            saved(5, "Les sommets de l'OTAN", "La sécurité européenne.", "fr"),
            saved(6, "Two NATO summits", "Then talks.", None),
            saved(7, "北约峰会", "The convoy was attacked. Securities fell.", None),
            saved(8, "Донбасс", "Без изменений.", "ru", hours=5),
        ]
    )
    plain = Workbench(store.articles_since).run(form, NOW)
    index = ArticleIndex(store)
    bench = Workbench(store.articles_since, index)
    try:
        first = bench.run(form, NOW)
        assert first.indexing and not first.indexed  # the index is being built: every article is replayed
        assert index.wait(30)
        through = bench.run(form, NOW)
    finally:
        index.close()
    assert through.indexed and not through.indexing
    assert plain.report is not None and first.report is not None and through.report is not None
    assert [m.article.id for m in through.report.matches] == ids
    same(through.report, plain.report)
    same(first.report, plain.report)


@pytest.mark.parametrize("query", ["donbass", '"donbass derby"', "donbass NEAR/2 derby", "NOT football"])
def test_an_article_that_no_longer_says_what_was_indexed_has_the_window_replayed(query: str) -> None:
    store = Memory([saved(n, "Donbass derby" if n in (3, 6) else "other", "", hours=10 - n) for n in range(1, 10)])
    index, ready = built(store)
    store.rows[6] = saved(6, "Football", "", hours=4)  # not what the index holds
    tree = compile_rule(query)
    expected = backtest.replay(Matcher({"r": tree}), store.articles_since(NOW - timedelta(days=1)), 50)
    try:
        found = index.search(ready, Matcher({"r": tree}), tree, NOW - timedelta(days=1), 50, None)
    finally:
        index.close()
    same(found, expected)


def test_out_of_time_the_replay_of_the_window_says_how_many_of_the_newest_articles_it_covered() -> None:
    store = Memory([saved(n, "Donbass" if n in (3, 6) else "other", "", hours=10 - n) for n in range(1, 10)])
    index, ready = built(store)
    store.rows[6] = saved(6, "Other", "", hours=4)
    tree = compile_rule("donbass")
    try:
        hurried = index.search(ready, Matcher({"r": tree}), tree, NOW - timedelta(days=1), 50, until=-1.0)
    finally:
        index.close()
    # It stopped before matching article 9, the newest it read: no article is decided.
    assert (hurried.scanned, hurried.matched, hurried.complete) == (0, 0, False)


def test_a_rule_the_index_decides_alone_reads_only_the_articles_it_lists() -> None:
    read: list[int] = []

    class Counted(Memory):
        def articles_by_ids(self, ids: Sequence[int]) -> list[SavedArticle]:
            read.extend(ids)
            return super().articles_by_ids(ids)

    store = Counted([saved(n, "Donbass" if n % 2 else "other", "", hours=10 - n) for n in range(1, 10)])
    index, ready = built(store)
    tree = compile_rule(None, ["Donbass", "Донбасс"], ["football"])
    try:
        report = index.search(ready, Matcher({"r": tree}), tree, NOW - timedelta(days=1), 2, until=None)
    finally:
        index.close()
    assert (report.scanned, report.matched, report.complete) == (9, 5, True)
    assert [m.article.id for m in report.matches] == read == [9, 7]


def test_articles_stored_since_and_those_committed_late_are_found_next_time() -> None:
    store = Memory([saved(10, "Donbass", ""), saved(11, "other", "")])
    index, ready = built(store)
    tree = compile_rule("donbass")
    try:
        store.rows[12] = saved(12, "Donbass again", "")
        store.rows[7] = saved(7, "Donbass late", "")  # a lower id committed after the build, fetched just now
        store.rows[5] = saved(5, "Donbass long ago", "", hours=2)  # fetched before the margin: never read again
        later = index.ready(NOW + timedelta(minutes=1))
        assert later is ready
        report = index.search(ready, Matcher({"r": tree}), tree, NOW - timedelta(days=1), 50, None)
        assert [m.article.id for m in report.matches] == [12, 10, 7]
        assert report.scanned == 4 and len(ready.index) == 4
        index.ready(NOW + timedelta(minutes=2))  # nothing new: nothing indexed twice
        assert len(ready.index) == 4
    finally:
        index.close()


def test_an_idle_index_is_dropped_and_built_again_on_next_use() -> None:
    store = Memory([saved(1, "Donbass", "")])
    index = ArticleIndex(store, idle=0.05)
    try:
        assert index.ready(NOW) is None and index.wait(30)
        deadline = time.monotonic() + 30
        while index.ready(NOW) is not None:  # each use keeps it a little longer
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert index.building or index.wait(30)
    finally:
        index.close()


def test_an_index_in_constant_use_is_built_afresh_while_it_still_answers() -> None:
    store = Memory([saved(1, "Donbass", "")])
    index = ArticleIndex(store, horizon=timedelta(hours=1))
    try:
        assert index.ready(NOW) is None and index.wait(30)
        first = index.ready(NOW)
        later = NOW + timedelta(hours=1) + RENEWED + timedelta(minutes=1)
        assert index.ready(later) is first  # still answering while the fresh one is built
        assert index.wait(30)
        fresh = index.ready(later)
        assert fresh is not None and fresh is not first and fresh.covers == later - timedelta(hours=1)
    finally:
        index.close()


def test_a_window_older_than_the_index_replays_every_article() -> None:
    store = Memory([saved(1, "Donbass", "", hours=24 * 40), saved(2, "Donbass", "")])
    index = ArticleIndex(store)
    bench = Workbench(store.articles_since, index)
    try:
        bench.run(Form(query="donbass"), NOW)
        assert index.wait(30)
        outcome = bench.run(Form(query="donbass", since="60d"), NOW)
    finally:
        index.close()
    assert not outcome.indexed and outcome.report is not None and outcome.report.matched == 2


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    opened = Storage.open(database_url)
    yield opened
    opened.close()


def store_articles(storage: Storage, articles: Sequence[ParsedArticle], when: datetime) -> None:
    with storage.transaction() as tx:
        tx.save_new_articles(articles, when)


def test_the_store_reads_ids_since_and_articles_by_id(storage: Storage) -> None:
    store_articles(storage, [ParsedArticle(f"k{n}", "world", f"Title {n}", "text") for n in range(5)], NOW)
    store_articles(storage, [ParsedArticle("late", "world", "Late", "text")], NOW + timedelta(minutes=30))
    assert sorted(storage.article_ids_since(4, NOW + timedelta(minutes=1))) == [5, 6]
    assert sorted(storage.article_ids_since(6, NOW + timedelta(minutes=20))) == [6]
    found = storage.articles_by_ids([2, 6, 4, 99])
    assert [a.id for a in found] == [6, 4, 2] and found[0].title == "Late"
