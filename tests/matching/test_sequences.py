"""The articles' words in order: where a term and a NEAR of two lie, within one field, whatever the chunks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching import sequences
from monitor.matching.sequences import Sequences, Spelling

WORDS = 6  # word numbers 0..5
CODES = 3  # language codes 0..2


def spelled(*numbers: int, languages: tuple[int, ...] | None = None) -> Spelling:
    return sequences.spelled({None if languages is None else frozenset(languages): numbers}, WORDS, CODES)


def held(articles: list[tuple[list[int], list[int]]]) -> Sequences:
    found = Sequences()
    for title, text in articles:
        found.add(title, text)
    return found


ARTICLES = [([0, 1], [2, 3, 4]), ([1], [0, 1, 2]), ([], [4, 0, 5, 5, 1]), ([2, 3], [])]
EVERY = np.arange(len(ARTICLES), dtype=np.int64)
CODED = np.array([1, 2, 0, 1], np.uint8)


@pytest.mark.parametrize(
    ("term", "field", "expected"),
    [
        ([spelled(0), spelled(1)], None, [0, 1]),
        ([spelled(0), spelled(1)], "title", [0]),
        ([spelled(0), spelled(1)], "text", [1]),
        ([spelled(1), spelled(2)], None, [1]),  # not across the title and the text of article 0
        ([spelled(2), spelled(3)], None, [0, 3]),
        ([spelled(4), spelled(1)], None, []),  # not across articles 0 and 1
        ([spelled(0, 4), spelled(0, 5)], "text", [2]),
        ([spelled(5)], None, [2]),
        ([spelled(2, languages=(2,))], None, [1]),  # only where the article is in language 2
        ([spelled(2, languages=(0, 1)), spelled(3)], None, [0, 3]),
        ([spelled(2), spelled(3), spelled(4)], "text", [0]),
    ],
)
def test_where_a_term_lies(term: list[Spelling], field: str | None, expected: list[int]) -> None:
    found = held(ARTICLES).holding(EVERY, field, term, CODED)
    assert np.flatnonzero(found).tolist() == expected


@pytest.mark.parametrize(
    ("left", "right", "distance", "field", "expected"),
    [
        ([spelled(0)], [spelled(5)], 0, None, [2]),  # 4 0 5: adjacent
        ([spelled(5)], [spelled(0)], 0, None, [2]),  # either order
        ([spelled(4)], [spelled(1)], 2, None, []),  # 4 0 5 5 1: three words between them
        ([spelled(4)], [spelled(1)], 3, None, [2]),
        ([spelled(5)], [spelled(5)], 0, None, [2]),  # two occurrences, side by side
        ([spelled(1)], [spelled(1)], 5, None, []),  # in article 1, one in the title and one in the text
        ([spelled(0), spelled(1)], [spelled(1)], 0, None, []),  # overlapping is not near
        ([spelled(0)], [spelled(2), spelled(3)], 0, "text", []),
        ([spelled(0)], [spelled(2), spelled(3)], 1, None, []),  # 0 1 | 2 3 4: not in one field
        ([spelled(1)], [spelled(2)], 0, None, [1]),
        ([spelled(2)], [spelled(0)], 1, None, [1]),
        ([spelled(2)], [spelled(0)], 1, "title", []),
    ],
)
def test_where_two_terms_lie_near(
    left: list[Spelling], right: list[Spelling], distance: int, field: str | None, expected: list[int]
) -> None:
    found = held(ARTICLES).near(EVERY, field, (left, right), distance, CODED)
    assert np.flatnonzero(found).tolist() == expected


def test_only_the_articles_asked_about_are_looked_at() -> None:
    index = held(ARTICLES)
    asked = np.array([1, 3], np.int64)
    assert index.holding(asked, None, [spelled(2), spelled(3)], CODED).tolist() == [False, True]


def starts(words: list[int], term: list[set[int]]) -> list[int]:
    """Return where a term begins among a field's words, the plain way."""
    return [
        at
        for at in range(len(words) - len(term) + 1)
        if all(words[at + offset] in allowed for offset, allowed in enumerate(term))
    ]


def near(words: list[int], left: list[set[int]], right: list[set[int]], distance: int) -> bool:
    return any(
        (r + len(right) <= le and le - (r + len(right)) <= distance)
        or (r >= le + len(left) and r - (le + len(left)) <= distance)
        for le in starts(words, left)
        for r in starts(words, right)
    )


fields = st.lists(st.integers(0, WORDS - 1), max_size=9)
terms = st.lists(st.sets(st.integers(0, WORDS - 1), min_size=1, max_size=3), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    articles=st.lists(st.tuples(fields, fields), min_size=1, max_size=8),
    left=terms,
    right=terms,
    distance=st.integers(0, 4),
    field=st.sampled_from([None, "title", "text"]),
    chunk=st.integers(1, 12),
)
def test_whatever_the_chunks_the_plain_way_finds_the_same(
    articles: list[tuple[list[int], list[int]]],
    left: list[set[int]],
    right: list[set[int]],
    distance: int,
    field: str | None,
    chunk: int,
) -> None:
    index = held(articles)
    every = np.arange(len(articles), dtype=np.int64)
    codes = np.zeros(len(articles), np.uint8)
    scopes = {None: (0, 1), "title": (0,), "text": (1,)}[field]
    pair = ([spelled(*words) for words in left], [spelled(*words) for words in right])
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(sequences, "CHUNK", chunk)  # a chunk of a few words: many chunks, long segments alone
        holding = index.holding(every, field, pair[0], codes)
        close = index.near(every, field, pair, distance, codes)
    for n, article in enumerate(articles):
        assert holding[n] == any(starts(article[at], left) for at in scopes), (n, article)
        assert close[n] == any(near(article[at], left, right, distance) for at in scopes), (n, article)
