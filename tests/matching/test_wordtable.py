from __future__ import annotations

import random
import string

import numpy as np
import pytest

from monitor.matching import wordtable
from monitor.matching.wordtable import BUCKET, WordSpec, WordTable, _buckets


@pytest.fixture(params=["dictionary", "arrays"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Build word tables of either kind: a dictionary (small tables) or hash buckets in arrays (large ones)."""
    if request.param == "arrays":
        monkeypatch.setattr(wordtable, "SMALL", 0)
    return str(request.param)


def test_each_word_is_found_with_what_it_wakes_up(kind: str) -> None:
    table = WordTable(
        {
            "nato": WordSpec((0, 3), (), False),
            "summit": WordSpec((), (("madrid", (1,)),), False),
            "madrid": WordSpec((), (), False),
            "securite": WordSpec((2,), (), True),
        }
    )
    found = table.look_up(["summit", "nato", "otan", "securite"])
    assert found.known == [True, True, False, True]
    assert found.unknown == [False, False, True, False]
    assert found.reached == [False, False, False, True]
    assert sorted(found.rules) == [0, 2, 3]  # "summit" needs "madrid" for rule 1
    assert sorted(table.look_up(["summit", "madrid"]).rules) == [1]
    assert table.look_up([]).rules == []


def test_a_large_table_agrees_with_a_dictionary(kind: str) -> None:
    rng = random.Random(3)
    words = list({"".join(rng.choices(string.ascii_lowercase + "éжσ", k=rng.randint(2, 9))) for _ in range(20_000)})
    vocabulary, others = words[:15_000], words[15_000:]
    specs = {
        word: WordSpec(tuple(rng.sample(range(1000), rng.randint(0, 3))), (), rng.random() < 0.1) for word in vocabulary
    }
    table = WordTable(specs)
    assert len(table) == len(vocabulary)
    for _ in range(50):
        article = rng.sample(vocabulary, 150) + rng.sample(others, 100)
        # Fresh string objects, as an article's words are.
        article = [("x" + word)[1:] for word in article]
        found = table.look_up(article)
        assert found.known == [word in specs for word in article]
        assert found.reached == [word in specs and specs[word].reached for word in article]
        assert sorted(found.rules) == sorted(rule for word in article if word in specs for rule in specs[word].wakes)


def test_buckets_grow_until_none_overflows() -> None:
    # Keys equal in their low 12 bits all fall in one bucket until there are enough buckets to part them.
    keys = [(number << 12) | 5 for number in range(3 * BUCKET)]
    slots, rows, empty = _buckets(keys)
    assert empty not in keys
    filed = {int(key): int(row) for key, row in zip(slots.ravel(), rows.ravel(), strict=True) if row < len(keys)}
    assert filed == {key: row for row, key in enumerate(keys)}
    assert np.all((slots == empty) == (rows == len(keys)))


def test_a_key_equal_to_the_empty_marker_moves_the_marker() -> None:
    _slots, rows, empty = _buckets([0, 1, 2])
    assert empty == 3
    assert sorted(int(row) for row in rows.ravel() if row < 3) == [0, 1, 2]
