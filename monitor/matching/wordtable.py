"""The rules' words with what each wakes up, looked up for all of an article's distinct words at once.

A table of up to ``SMALL`` words is a dictionary. Past that, a Python dictionary answers each probe after a
few dependent cache misses (with 100,000 rules, looking an article's words up became the costliest step of
matching), so the words' hashes fill buckets of ``BUCKET`` in a numpy array, chosen by the hash's low bits
(one cache line each): all of an article's words are looked up with one gather of their buckets, whose misses
overlap, and what each found word wakes up is gathered from compressed rows.

A hash says only that a word may be there: two words could share one. The buckets are filled per hash,
merging what colliding words do, so a collision can only wake a rule up that the evaluation then rejects; it
never hides a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import compress
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.int64]
BUCKET = 8  # keys a bucket holds: 64 bytes
SMALL = 50_000  # words up to which a dictionary is the table


class WordSpec(NamedTuple):
    """What one word does: the rules it wakes up alone, (second word, rules) pairs it wakes up with another
    word, and whether some rule's prefix reaches it."""

    wakes: Sequence[int]
    pairs: Sequence[tuple[str, Sequence[int]]]
    reached: bool


# A word's rules woken up alone, its (second word, rules) pairs, whether a prefix reaches it.
SmallEntry = tuple[tuple[int, ...], tuple[tuple[str, Sequence[int]], ...], bool]


class Found(NamedTuple):
    """For each word looked up, whether it is in the table and whether a prefix reaches it; and the rules
    that the words found wake up (alone, or as a pair whose two words are both there), with repeats."""

    known: list[bool]
    unknown: list[bool]
    reached: list[bool]
    rules: list[int]


class WordTable:
    """Words, by hash, with the rules they wake up."""

    def __init__(self, words: Mapping[str, WordSpec]) -> None:
        self._size = len(words)
        # A small table fits in the caches: a dictionary answers faster than setting arrays up.
        self._small: dict[str, SmallEntry] | None = None
        if len(words) <= SMALL:
            self._small = {word: (tuple(spec.wakes), tuple(spec.pairs), spec.reached) for word, spec in words.items()}
        else:
            self._fill(words)

    def _fill(self, words: Mapping[str, WordSpec]) -> None:
        """Build the arrays: the words' hashes in buckets, and what each hash wakes up in compressed rows."""
        merged: dict[int, tuple[list[int], list[tuple[int, int]], list[bool]]] = {}
        for word, spec in words.items():
            wakes, pairs, reached = merged.setdefault(hash(word), ([], [], [False]))
            wakes += spec.wakes
            pairs += [(rule, hash(second)) for second, rules in spec.pairs for rule in rules]
            reached[0] = reached[0] or spec.reached
        keys = list(merged)
        self._buckets, self._rows, alone = _buckets(keys)
        # Each row lists (rule, second word's hash) items; a rule woken up by the word alone has no second
        # word, marked by a value that is no word's hash.
        rows = [[(rule, alone) for rule in merged[key][0]] + merged[key][1] for key in keys]
        self._starts, self._counts, self._rules = _compressed([rule for rule, _ in row] for row in rows)
        self._seconds = np.array([second for row in rows for _, second in row], dtype=np.int64)
        self._alone = alone
        self._reached = np.array([merged[key][2][0] for key in keys] + [False], dtype=bool)
        # Each row's key, and the empty slots' row's: no word's hash.
        self._keys = np.array([*keys, alone], dtype=np.int64)

    def __len__(self) -> int:
        return self._size

    def look_up(self, words: list[str]) -> Found:
        """Return which of ``words`` the table holds, which a prefix reaches, and the rules they wake up."""
        if not words or not self._size:
            return Found([False] * len(words), [True] * len(words), [False] * len(words), [])
        if self._small is not None:
            return _look_up_small(self._small, words)
        wanted = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        buckets = wanted & (len(self._buckets) - 1)
        # The row of the slot holding each word's hash, or of some slot of its bucket when none does.
        rows = self._rows[buckets, (self._buckets[buckets] == wanted[:, None]).argmax(axis=1)]
        known = self._keys[rows] == wanted
        items = _gather(self._starts, self._counts, rows[known])
        rules = self._rules[items]
        seconds = self._seconds[items]
        paired = seconds != self._alone
        if np.count_nonzero(paired):
            # A pair wakes its rule up only when its second word is there too.
            there = wanted[known]
            there.sort()
            near = np.minimum(there.searchsorted(seconds), len(there) - 1)
            rules = rules[(there[near] == seconds) | ~paired]
        reached = self._reached[rows] & known
        return Found(known.tolist(), (~known).tolist(), reached.tolist(), rules.tolist())


def _look_up_small(table: dict[str, SmallEntry], words: list[str]) -> Found:
    """Return what ``WordTable.look_up`` does, from a dictionary."""
    entries = list(map(table.get, words))
    known = [entry is not None for entry in entries]
    rules: list[int] = []
    reached: list[bool] = []
    paired: list[tuple[str, Sequence[int]]] = []
    for entry in entries:
        if entry is None:
            reached.append(False)
            continue
        wakes, pairs, reaches = entry
        reached.append(reaches)
        rules += wakes
        paired += pairs
    if paired:
        present = set(compress(words, known))
        rules += [rule for second, woken in paired if second in present for rule in woken]
    return Found(known, [not found for found in known], reached, rules)


def _buckets(keys: list[int]) -> tuple[NDArray[np.int64], NDArray[np.int32], int]:
    """Return the keys filed in buckets of ``BUCKET`` by their low bits, each slot's row, and the empty key.

    Empty slots hold a value that is no key, and row ``len(keys)``. Buckets are doubled until none overflows.
    """
    empty = 0
    taken = set(keys)
    while empty in taken:
        empty += 1
    count = 1
    while count * BUCKET < 2 * len(keys):
        count *= 2
    while True:
        slots = np.full((count, BUCKET), empty, dtype=np.int64)
        rows = np.full((count, BUCKET), len(keys), dtype=np.int32)
        filled = np.zeros(count, dtype=np.int64)
        bucket_of = np.array(keys, dtype=np.int64) & (count - 1)
        if not len(keys) or np.bincount(bucket_of, minlength=count).max() <= BUCKET:
            break
        count *= 2
    for row, (key, bucket) in enumerate(zip(keys, bucket_of.tolist(), strict=True)):
        slots[bucket, filled[bucket]] = key
        rows[bucket, filled[bucket]] = row
        filled[bucket] += 1
    return slots, rows, empty


def _compressed(rows: Iterable[Sequence[int]]) -> tuple[Rows, Rows, NDArray[np.int32]]:
    """Return rows of integers as where each starts, its length, and all of them end to end."""
    lengths: list[int] = []
    flat: list[int] = []
    for row in rows:
        lengths.append(len(row))
        flat += row
    counts = np.array(lengths, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return starts, counts, np.array(flat, dtype=np.int32)


def _gather(starts: Rows, counts: Rows, rows: Rows) -> Rows:
    """Return the flat indices of the items of these rows, row after row."""
    sizes = counts[rows]
    ends = sizes.cumsum()
    total = int(ends[-1]) if len(ends) else 0
    # Each item's index is its row's start plus its rank in the row.
    flat: Rows = (starts[rows] - ends + sizes).repeat(sizes) + np.arange(total)
    return flat
