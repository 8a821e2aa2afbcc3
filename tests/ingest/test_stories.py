from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.ingest import stories
from monitor.ingest.stories import PERMUTATIONS, StoryIndex, signature

WIRE = (
    "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
    "output, to send more air defence systems to Ukraine before winter and to open a new training mission in "
    "Poland, officials said after the first day of talks."
)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


class Stored:
    """The database's side of the index: each filed article's story and sketch, and the ids asked for."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[int, bytes]] = {}
        self.asked: list[list[int]] = []

    def load(self, ids: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        self.asked.append(list(ids))
        return {row: self.rows[row] for row in ids if row in self.rows}

    def add(self, index: StoryIndex, article: int, story: int, sig: bytes, at: datetime) -> None:
        self.rows[article] = (story, sig)
        index.add(article, sig, at)

    def file(self, index: StoryIndex, article: int, sig: bytes, at: datetime) -> int:
        story = index.file(article, sig, at, self.load)
        self.rows[article] = (story, sig)
        return story


@pytest.mark.parametrize(
    ("title", "text", "same"),
    [
        ("NATO summit agrees spending", WIRE, True),
        ("Alliance agrees to spend more", WIRE.replace("Leaders of the alliance", "Alliance leaders"), True),
        ("NATO SUMMIT: spending", WIRE.upper().replace("TUESDAY", "Tuesday evening"), True),
        ("Rates on hold", "Central banks held rates on Thursday as inflation slowed for the third month.", False),
        ("NATO summit agrees spending", "Leaders of the alliance met in Vilnius on Tuesday.", False),
    ],
    ids=["same", "reworded-opening", "case-and-an-insert", "unrelated", "shared-opening-only"],
)
def test_find_the_story_of_a_rewritten_copy(title: str, text: str, same: bool) -> None:
    index, stored = StoryIndex(), Stored()
    stored.add(index, 1, 10, signature("NATO summit agrees spending", WIRE), NOW)
    assert index.find(signature(title, text), stored.load) == (10 if same else None)


def test_signatures_are_stable_and_sized() -> None:
    sig = signature("t", WIRE)
    assert len(sig) == 4 * PERMUTATIONS and sig == signature("t", WIRE)
    assert signature("", "") and signature("short", "")  # shorter than a shingle: still a signature


def test_old_entries_are_evicted_and_rolled_back_ones_discarded() -> None:
    index, stored = StoryIndex(), Stored()
    stored.add(index, 1, 10, signature("a", WIRE), NOW - timedelta(days=3))
    stored.add(index, 2, 20, signature("b", WIRE + " More."), NOW)
    index.add(2, signature("b", WIRE), NOW)  # already indexed: ignored
    assert len(index) == 2 and index.find(signature("c", WIRE), stored.load) == 10
    assert index.evict(NOW - timedelta(days=2)) == 1
    assert len(index) == 1 and index.find(signature("c", WIRE), stored.load) == 20
    assert stored.asked[-1] == [2]  # only the live candidate is read back
    index.discard([2])
    assert len(index) == 0 and index.find(signature("c", WIRE), stored.load) is None


def test_articles_stay_found_across_merges_of_the_sorted_keys() -> None:
    # Enough articles that the band keys become sorted runs, merged several times.
    rng = np.random.default_rng(3)
    index, stored = StoryIndex(), Stored()
    stored.add(index, 1, 10, signature("NATO summit agrees spending", WIRE), NOW - timedelta(days=3))
    others = [rng.integers(0, 2**32, PERMUTATIONS).astype("<u4").tobytes() for _ in range(3000)]
    for number, sig in enumerate(others, start=100):
        assert stored.file(index, number, sig, NOW) == number  # unrelated: each opens its own story
    assert len(index) == 3001
    copy = signature("Alliance agrees", WIRE.replace("Leaders of the alliance", "Alliance leaders"))
    assert index.find(copy, stored.load) == 10
    assert index.find(others[1234], stored.load) == 1234 + 100
    assert stored.file(index, 5000, others[1234], NOW) == 1234 + 100  # a copy joins the story
    assert index.evict(NOW - timedelta(days=2)) == 1
    assert index.find(signature("c", WIRE), stored.load) is None
    index.discard(range(100, 3100))
    assert len(index) == 1 and index.find(others[0], stored.load) is None
    assert index.find(others[1234], stored.load) == 1234 + 100  # the copy is still indexed, in its story


@pytest.mark.parametrize("order", [[1, 2, 3], [3, 1, 2], [2, 3, 1]], ids=["ascending", "older-later", "mixed"])
def test_articles_indexed_out_of_order_are_found_and_evicted(order: list[int]) -> None:
    # Another instance's articles arrive after ours, with lower ids.
    index, stored = StoryIndex(), Stored()
    texts = {1: WIRE, 2: "Central banks held rates on Thursday as inflation slowed.", 3: "Storm hits the coast."}
    for article in order:
        stored.add(index, article, article * 10, signature("t", texts[article]), NOW - timedelta(hours=article))
    assert [index.find(signature("t", texts[article]), stored.load) for article in (1, 2, 3)] == [10, 20, 30]
    assert index.evict(NOW - timedelta(hours=2, minutes=30)) == 1  # article 3, indexed 3 hours before
    assert [index.find(signature("t", texts[article]), stored.load) for article in (1, 2, 3)] == [10, 20, None]


def test_an_article_costs_the_index_a_few_hundred_bytes() -> None:
    rng = np.random.default_rng(5)
    index = StoryIndex()
    sigs = [rng.integers(0, 2**32, PERMUTATIONS).astype("<u4").tobytes() for _ in range(20_000)]
    tracemalloc.start()
    try:
        for number, sig in enumerate(sigs, start=1):
            index.add(number, sig, NOW)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held / len(sigs) < 400, held / len(sigs)  # the sketches stay in the database


def test_a_batch_filed_from_its_candidates_read_at_once_files_as_one_by_one() -> None:
    # Stored: two stories and unrelated articles; the batch has copies of them, of each other, and new ones.
    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 2**32, PERMUTATIONS).astype("<u4").tobytes() for _ in range(40)]
    rates = "Central banks held rates on Thursday as inflation slowed for the third month in a row, they said."
    storm = (
        "A storm hit the northern coast overnight, cutting power to thousands of homes and closing two ports, "
        "while rail services between the three largest towns were suspended until the tracks are cleared."
    )
    older = [signature("NATO", WIRE), signature("Rates", rates), *noise[:20]]
    batch = [
        signature("Alliance", WIRE.replace("Leaders of the alliance", "Alliance leaders")),
        signature("Storm", storm),
        noise[3],
        signature("Storm hits", storm.replace("are cleared", "can be cleared")),  # joins the batch's own story
        signature("Rates on hold", rates),
        *noise[20:],
    ]
    one, together = (StoryIndex(), Stored()), (StoryIndex(), Stored())
    for index, stored in (one, together):
        for number, sig in enumerate(older, start=1):
            stored.add(index, number, number * 10, sig, NOW)
    expected = [one[1].file(one[0], number, sig, NOW) for number, sig in enumerate(batch, start=100)]
    index, stored = together
    filed = index.file_many(list(enumerate(batch, start=100)), NOW, stored.load)
    assert filed == expected
    assert filed[:5] == [10, 101, 60, 101, 20]  # copies join stored stories and one opened by the batch
    assert len(stored.asked) == 1  # one read for the whole batch
    assert stored.asked[0] == sorted(set(stored.asked[0])) and set(stored.asked[0]) <= set(stored.rows)
    index.discard([1])
    assert index.file_many([(200, batch[0])], NOW, stored.load) == [200]  # only live articles are candidates
    assert 1 not in stored.asked[-1]


@pytest.mark.parametrize("pending", [8192, 64], ids=["pending-keys", "sorted-runs"])
def test_batches_of_any_size_file_as_one_by_one(pending: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stories, "_PENDING_KEYS", pending)  # small: keys move to sorted runs, merged, as they go
    # Copies of a few stories, lightly reworded, among unrelated articles, filed in batches of random sizes.
    rng = np.random.default_rng(11)
    words = [f"w{n}" for n in range(400)]
    bases = [[str(word) for word in rng.choice(words, 60)] for _ in range(12)]
    sigs = []
    for _ in range(300):
        text = list(bases[int(rng.integers(len(bases)))]) if rng.random() < 0.7 else list(rng.choice(words, 60))
        for _ in range(int(rng.integers(0, 6))):
            text[int(rng.integers(len(text)))] = str(rng.choice(words))
        sigs.append(signature("", " ".join(text)))
    one, stored_one = StoryIndex(), Stored()
    expected = [stored_one.file(one, number, sig, NOW) for number, sig in enumerate(sigs, start=1)]
    many, stored_many = StoryIndex(), Stored()
    filed: list[int] = []
    start = 0
    while start < len(sigs):
        size = int(rng.integers(1, 40))
        batch = list(enumerate(sigs[start : start + size], start=start + 1))
        found = many.file_many(batch, NOW, stored_many.load)
        stored_many.rows.update({number: (story, sig) for (number, sig), story in zip(batch, found, strict=True)})
        filed.extend(found)
        start += size
    assert filed == expected
    assert len(set(expected)) < len(expected) / 2  # most copies joined a story
