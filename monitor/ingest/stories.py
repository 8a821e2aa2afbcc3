"""Group near-duplicate articles into stories: MinHash sketches of word shingles, looked up with LSH.

An article's sketch is a MinHash of ``PERMUTATIONS`` permutations over the ``SHINGLE``-word shingles of its
folded title and text (``normalize.fold``; a text shorter than a shingle is one shingle). Each word is hashed
once (xxHash), a shingle's hash mixes its words' hashes, each permutation is the affine map ``h -> a*h + b``
modulo 2**32 with an odd ``a``, and the sketch keeps each permutation's minimum. The share of equal values
between two sketches estimates the Jaccard similarity of their shingle sets; two articles whose estimate reaches
``THRESHOLD`` belong to the same story: the same wire story lightly rewritten by two outlets.

``StoryIndex`` holds the sketches of a recent window in memory and proposes candidates by locality-sensitive
hashing: the first ``BANDS * ROWS`` values of a sketch are cut into ``BANDS`` bands of ``ROWS``, and articles
sharing a whole band are candidates (at a similarity of 0.5 a pair shares a band with probability 0.72, at 0.7
with 0.996); the estimated similarity then decides. Each band of an article costs one dictionary entry, about
2.5 KB an article with its sketch. The index does no I/O: the caller evicts what is older than the window and
rebuilds it from stored signatures at start. A sketch depends only on the text and the constants here, so
sketches stored by one run compare with those of the next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import xxhash

from monitor.ingest.normalize import fold

PERMUTATIONS = 128
SHINGLE = 5
THRESHOLD = 0.5
BANDS = 20
ROWS = 4
SEED = 1

_random = np.random.RandomState(SEED)
_A = (_random.randint(0, 1 << 31, PERMUTATIONS, dtype=np.uint64) * 2 + 1).astype(np.uint32)
_B = _random.randint(0, 1 << 32, PERMUTATIONS, dtype=np.uint64).astype(np.uint32)
# Each band folds its values into one 64-bit key with its own odd multipliers, so equal values in two
# different bands give different keys.
_BAND_MULTIPLIERS = _random.randint(0, 1 << 63, (BANDS, ROWS), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_SHINGLE_MULTIPLIERS = _random.randint(0, 1 << 63, SHINGLE, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_hash = xxhash.xxh32_intdigest


def signature(title: str, text: str) -> tuple[int, ...]:
    """Return the MinHash signature of an article's folded title and text."""
    words = fold(f"{title}\n{text}").split() or [""]
    codes = np.fromiter((_hash(word.encode()) for word in words), dtype=np.uint64, count=len(words))
    # A shingle's hash mixes the hashes of its words, each position with its own odd multiplier.
    count = max(1, len(words) - SHINGLE + 1)
    mixed = np.zeros(count, dtype=np.uint64)
    for position in range(min(SHINGLE, len(words))):
        mixed += codes[position : position + count] * _SHINGLE_MULTIPLIERS[position]
    hashes = np.unique((mixed >> np.uint64(32)).astype(np.uint32))
    values: np.ndarray = (hashes[:, np.newaxis] * _A + _B).min(axis=0)
    return tuple(values.tolist())


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Return the Jaccard similarity that two sketches estimate: the share of their equal values."""
    return float(np.count_nonzero(first == second)) / PERMUTATIONS


def _band_keys(sketch: np.ndarray) -> list[int]:
    bands = sketch[: BANDS * ROWS].astype(np.uint64).reshape(BANDS, ROWS)
    keys: list[int] = (bands * _BAND_MULTIPLIERS).sum(axis=1).tolist()
    return keys


class StoryIndex:
    """The sketches of recent articles and their stories, to find the story a new article belongs to."""

    def __init__(self) -> None:
        # Band key -> the article holding it, or the list of articles when several do.
        self._buckets: dict[int, int | list[int]] = {}
        self._entries: dict[int, tuple[int, np.ndarray]] = {}  # article -> (story, sketch)
        self._added: deque[tuple[datetime, int]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, sig: Sequence[int]) -> int | None:
        """Return the story of the oldest indexed article similar to ``sig``, or None."""
        sketch = np.asarray(sig, dtype=np.uint32)
        return self._find(sketch, _band_keys(sketch))

    def add(self, article_id: int, story_id: int, sig: Sequence[int], at: datetime) -> None:
        """Index an article's signature under its story, as of ``at``."""
        sketch = np.asarray(sig, dtype=np.uint32)
        self._add(article_id, story_id, sketch, _band_keys(sketch), at)

    def file(self, article_id: int, sig: Sequence[int], at: datetime) -> int:
        """Index an article in the story of a similar one, or else in a new story numbered after it; return it."""
        sketch = np.asarray(sig, dtype=np.uint32)
        keys = _band_keys(sketch)
        story_id = self._find(sketch, keys)
        if story_id is None:
            story_id = article_id
        self._add(article_id, story_id, sketch, keys, at)
        return story_id

    def _find(self, sketch: np.ndarray, keys: list[int]) -> int | None:
        candidates: set[int] = set()
        buckets = self._buckets
        for key in keys:
            holders = buckets.get(key)
            if holders is None:
                continue
            if isinstance(holders, int):
                candidates.add(holders)
            else:
                candidates.update(holders)
        # Sharing a band only proposes a candidate: those whose estimated similarity falls short are left out.
        entries = self._entries
        similar = [key for key in candidates if similarity(entries[key][1], sketch) >= THRESHOLD]
        return entries[min(similar)][0] if similar else None

    def _add(self, article_id: int, story_id: int, sketch: np.ndarray, keys: list[int], at: datetime) -> None:
        if article_id in self._entries:
            return
        buckets = self._buckets
        for key in keys:
            holders = buckets.get(key)
            if holders is None:
                buckets[key] = article_id
            elif isinstance(holders, int):
                buckets[key] = [holders, article_id]
            else:
                holders.append(article_id)
        self._entries[article_id] = (story_id, sketch)
        self._added.append((at, article_id))

    def discard(self, article_ids: Iterable[int]) -> None:
        """Forget these articles (their transaction was rolled back)."""
        for article_id in article_ids:
            self._remove(article_id)

    def evict(self, before: datetime) -> int:
        """Forget the articles indexed before ``before``; return how many."""
        evicted = 0
        while self._added and self._added[0][0] < before:
            _, article_id = self._added.popleft()
            evicted += self._remove(article_id)
        return evicted

    def _remove(self, article_id: int) -> bool:
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return False
        buckets = self._buckets
        for key in _band_keys(entry[1]):
            holders = buckets.get(key)
            if holders == article_id:
                del buckets[key]
            elif isinstance(holders, list) and article_id in holders:
                holders.remove(article_id)
                if len(holders) == 1:
                    buckets[key] = holders[0]
        return True
