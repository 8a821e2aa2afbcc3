"""The words of indexed articles in order, as word numbers, and where a phrase or a ``NEAR`` lies among them.

Each article adds two segments to one array of 32-bit word numbers (given by the word index, ``wordindex.py``):
the words of its title, then those of its text, in order, as ``text.fold_words`` reads them. The article at
position ``a`` holds segments ``2a`` (its title) and ``2a + 1`` (its text); segment ``s`` spans
``tokens[bounds[s]:bounds[s + 1]]``. A phrase and the two terms of a ``NEAR`` lie within one segment, as the
matcher looks for them within one field.

A term's words are given as ``Spelling`` values: for each word of the term, the word numbers that count as it,
each group of them with the article languages (by their codes in the word index) in which they count, or for
every article. ``Sequences.holding`` says which of the articles asked about hold a term (its words one after the
other in one field it looks at), ``Sequences.near`` which hold two terms in one field with at most ``distance``
words between them, in either order, not overlapping: as ``compiled.starts_of`` and the ``NEAR`` evaluator decide.
The segments asked about are read a chunk at a time, each chunk's words gathered into one array and marked by
table look-ups, so that the work is that of a few passes over the words of those articles, in memory.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

CHUNK = 1 << 20  # words gathered at a time (bounds the memory a search takes)
TITLE, TEXT = "title", "text"

Mask = NDArray[np.bool_]
Numbers = NDArray[np.int64]
# The word numbers that count as a rule's word (a table over every word number), each table with the article
# languages in which they count (a table over language codes), or None for every language.
Spelling = tuple[tuple[Mask, Mask | None], ...]


class Chunk(NamedTuple):
    """Some segments' words gathered one after the other: ``words[offsets[i]:offsets[i + 1]]`` are those of
    ``segments[i]``; ``languages`` gives each word its article's language code."""

    segments: Numbers
    offsets: Numbers
    words: NDArray[np.uint32]
    languages: NDArray[np.uint8]


class Sequences:
    """The words of each indexed article, title then text, by position, as word numbers."""

    def __init__(self) -> None:
        self.tokens = array("I")
        self.bounds = array("q", (0,))

    def __len__(self) -> int:
        return len(self.bounds) // 2

    def footprint(self) -> int:
        """Return how many bytes the words and the segments' bounds take."""
        return len(self.tokens) * self.tokens.itemsize + len(self.bounds) * self.bounds.itemsize

    def add(self, title: Iterable[int], text: Iterable[int]) -> None:
        """Add the next article's words: those of its title, then those of its text."""
        self.tokens.extend(title)
        self.bounds.append(len(self.tokens))
        self.tokens.extend(text)
        self.bounds.append(len(self.tokens))

    def holding(self, articles: Numbers, field: str | None, term: Sequence[Spelling], codes: NDArray[np.uint8]) -> Mask:
        """Return which of the articles (positions, increasing) hold the term in a field it looks at (``None``:
        either), its words in ``codes``' languages for each article position."""
        found = np.zeros(len(articles), np.bool_)
        for chunk in self._chunks(articles, field, codes):
            segments, _ = _starts(chunk, term)
            found[np.searchsorted(articles, chunk.segments[segments] // 2)] = True
        return found

    def near(
        self,
        articles: Numbers,
        field: str | None,
        pair: tuple[Sequence[Spelling], Sequence[Spelling]],
        distance: int,
        codes: NDArray[np.uint8],
    ) -> Mask:
        """Return which of the articles hold both terms in one field with at most ``distance`` words between them,
        in either order, not overlapping."""
        left, right = pair
        left_size, right_size = len(left), len(right)
        found = np.zeros(len(articles), np.bool_)
        for chunk in self._chunks(articles, field, codes):
            segments, lefts = _starts(chunk, left)
            if not len(lefts):
                continue
            _, rights = _starts(chunk, right)
            if not len(rights):
                continue
            first, after = chunk.offsets[segments], chunk.offsets[segments + 1]
            # The right term before the left one, ending at most ``distance`` words before it, or after it.
            before = _count(rights, np.maximum(first, lefts - distance - right_size), lefts - right_size)
            behind = _count(rights, lefts + left_size, np.minimum(after - 1, lefts + left_size + distance))
            close = (before > 0) | (behind > 0)
            found[np.searchsorted(articles, chunk.segments[segments[close]] // 2)] = True
        return found

    def _chunks(self, articles: Numbers, field: str | None, codes: NDArray[np.uint8]) -> Iterator[Chunk]:
        """Yield the words of the articles' segments in the field (both, for ``None``), a chunk at a time."""
        if field is None:
            segments = np.empty(2 * len(articles), np.int64)
            segments[0::2], segments[1::2] = 2 * articles, 2 * articles + 1
        else:
            segments = 2 * articles + (field == TEXT)
        bounds = np.frombuffer(self.bounds, np.int64)
        starts = bounds[segments]
        lengths = bounds[segments + 1] - starts
        filled = lengths > 0
        segments, starts, lengths = segments[filled], starts[filled], lengths[filled]
        tokens = np.frombuffer(self.tokens, np.uint32)
        ends = np.cumsum(lengths)
        first = 0
        while first < len(segments):
            before = int(ends[first - 1]) if first else 0
            # At least one segment a chunk, however long.
            last = max(first + 1, int(np.searchsorted(ends, before + CHUNK, "right")))
            sizes = lengths[first:last]
            offsets = np.zeros(len(sizes) + 1, np.int64)
            np.cumsum(sizes, out=offsets[1:])
            shift = np.repeat(starts[first:last] - offsets[:-1], sizes)
            shift += np.arange(offsets[-1], dtype=np.int64)
            chosen = segments[first:last]
            yield Chunk(chosen, offsets, tokens[shift], np.repeat(codes[chosen // 2], sizes))
            first = last


def spelled(groups: Mapping[frozenset[int] | None, Iterable[int]], words: int, languages: int) -> Spelling:
    """Return the spelling of a rule's word from the word numbers that count as it, grouped by the codes of the
    article languages in which they do (None: in all), out of ``words`` numbers and ``languages`` codes."""
    found = []
    for codes, numbers in groups.items():
        table = np.zeros(words, np.bool_)
        table[list(numbers)] = True
        allowed = None
        if codes is not None:
            allowed = np.zeros(languages, np.bool_)
            allowed[list(codes)] = True
        found.append((table, allowed))
    return tuple(found)


def _starts(chunk: Chunk, term: Sequence[Spelling]) -> tuple[Numbers, Numbers]:
    """Return where the term begins among a chunk's words, within one segment, increasing, with the index of each
    one's segment in the chunk."""
    size = len(term)
    starts = np.flatnonzero(_marks(chunk, term[0], None)[: max(0, len(chunk.words) - size + 1)])
    segments = np.searchsorted(chunk.offsets, starts, "right") - 1
    inside = starts + size <= chunk.offsets[segments + 1]
    segments, starts = segments[inside], starts[inside]
    # The next words are looked at only where the first one lies.
    for at in range(1, size):
        if not len(starts):
            break
        following = _marks(chunk, term[at], starts + at)
        segments, starts = segments[following], starts[following]
    return segments, starts


def _marks(chunk: Chunk, spelling: Spelling, at: Numbers | None) -> Mask:
    """Return which of a chunk's words (those ``at`` these indexes, when given) count as the rule's word spelled
    so."""
    words = chunk.words if at is None else chunk.words[at]
    found = np.zeros(len(words), np.bool_)
    for table, languages in spelling:
        marked = table[words]
        if languages is not None:
            marked &= languages[chunk.languages if at is None else chunk.languages[at]]
        found |= marked
    return found


def _count(ordered: Numbers, low: Numbers, high: Numbers) -> Numbers:
    """Return how many of the ordered numbers lie within ``[low, high]``, for each pair of bounds (0 or less when
    ``high < low``)."""
    return np.searchsorted(ordered, high, "right") - np.searchsorted(ordered, low, "left")
