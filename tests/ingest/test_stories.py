from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.ingest.stories import PERMUTATIONS, StoryIndex, signature

WIRE = (
    "Leaders of the alliance met in Vilnius on Tuesday and agreed to raise defence spending to two percent of "
    "output, to send more air defence systems to Ukraine before winter and to open a new training mission in "
    "Poland, officials said after the first day of talks."
)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


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
    index = StoryIndex()
    index.add(1, 10, signature("NATO summit agrees spending", WIRE), NOW)
    assert index.find(signature(title, text)) == (10 if same else None)


def test_signatures_are_stable_and_sized() -> None:
    sig = signature("t", WIRE)
    assert len(sig) == 4 * PERMUTATIONS and sig == signature("t", WIRE)
    assert signature("", "") and signature("short", "")  # shorter than a shingle: still a signature


def test_old_entries_are_evicted_and_rolled_back_ones_discarded() -> None:
    index = StoryIndex()
    index.add(1, 10, signature("a", WIRE), NOW - timedelta(days=3))
    index.add(2, 20, signature("b", WIRE + " More."), NOW)
    index.add(2, 99, signature("b", WIRE), NOW)  # already indexed: ignored
    assert len(index) == 2 and index.find(signature("c", WIRE)) == 10
    assert index.evict(NOW - timedelta(days=2)) == 1
    assert len(index) == 1 and index.find(signature("c", WIRE)) == 20
    index.discard([2])
    assert len(index) == 0 and index.find(signature("c", WIRE)) is None


def test_articles_stay_found_across_merges_of_the_sorted_keys() -> None:
    # Enough articles that the band keys are merged from the dictionary into the sorted arrays several times.
    rng = np.random.default_rng(3)
    index = StoryIndex()
    index.add(1, 10, signature("NATO summit agrees spending", WIRE), NOW - timedelta(days=3))
    others = [rng.integers(0, 2**32, PERMUTATIONS).astype("<u4").tobytes() for _ in range(3000)]
    for number, sig in enumerate(others, start=100):
        assert index.file(number, sig, NOW) == number  # unrelated: each opens its own story
    assert len(index) == 3001
    assert index.find(signature("Alliance agrees", WIRE.replace("Leaders of the alliance", "Alliance leaders"))) == 10
    assert index.find(others[1234]) == 1234 + 100
    assert index.file(5000, others[1234], NOW) == 1234 + 100  # a copy joins the story
    assert index.evict(NOW - timedelta(days=2)) == 1
    assert index.find(signature("c", WIRE)) is None
    index.discard(range(100, 3100))
    assert len(index) == 1 and index.find(others[0]) is None
    assert index.find(others[1234]) == 1234 + 100  # the copy is still indexed, in its story
