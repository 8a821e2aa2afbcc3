"""Group near-duplicate articles into stories: MinHash sketches of word shingles, looked up with LSH.

An article's sketch is a MinHash of ``PERMUTATIONS`` permutations over the ``SHINGLE``-word shingles of its
folded title and text (the words of ``matching.text``, as rules see them; a text shorter than a shingle is one
shingle). Each word is hashed
once (xxHash), a shingle's hash mixes its words' hashes, each permutation is the affine map ``h -> a*h + b``
modulo 2**32 with an odd ``a``, and the sketch keeps each permutation's minimum. The share of equal values
between two sketches estimates the Jaccard similarity of their shingle sets; two articles whose estimate reaches
``THRESHOLD`` belong to the same story: the same wire story lightly rewritten by two outlets.

``StoryIndex`` holds the sketches of a recent window in memory and proposes candidates by locality-sensitive
hashing: the first ``BANDS * ROWS`` values of a sketch are cut into ``BANDS`` bands of ``ROWS``, and articles
sharing a whole band are candidates (at a similarity of 0.5 a pair shares a band with probability 0.72, at 0.7
with 0.996); the estimated similarity then decides. An article costs about 1 KB (its sketch, and its band keys
in sorted arrays). The index does no I/O: the caller evicts what is older than the window and
rebuilds it from stored signatures at start. A sketch depends only on the text and the constants here, so
sketches stored by one run compare with those of the next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import xxhash

from monitor.matching.text import words_of

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
_STORED = np.dtype("<u4")
_WORD_CODES: dict[str, int] = {}
_WORD_CODES_LIMIT = 1 << 18
_BLOCK = 4096  # rows of sketches allocated at a time
_MERGE_AT = 20_000  # band keys held in the dictionary before they are merged into the sorted arrays


def signature(title: str, text: str) -> bytes:
    """Return the MinHash signature of an article's folded title and text."""
    return sketch([*words_of(title), *words_of(text)])


def sketch(words: Sequence[str]) -> bytes:
    """Return the MinHash signature of an article's folded words (``matching.text``), title then text.

    A signature is ``PERMUTATIONS`` unsigned 32-bit values, little-endian: 512 bytes, as stored.
    """
    words = words or [""]
    known = list(map(_WORD_CODES.get, words))
    if None in known:
        known = [_word_code(word) if code is None else code for word, code in zip(words, known, strict=True)]
    codes = np.array(known, dtype=np.uint64)
    # A shingle's hash mixes the hashes of its words, each position with its own odd multiplier.
    count = max(1, len(words) - SHINGLE + 1)
    mixed = np.zeros(count, dtype=np.uint64)
    for position in range(min(SHINGLE, len(words))):
        mixed += codes[position : position + count] * _SHINGLE_MULTIPLIERS[position]
    # A shingle met twice changes no minimum: no need to drop repeats.
    hashes = (mixed >> np.uint64(32)).astype(np.uint32)
    values: np.ndarray = (hashes[:, np.newaxis] * _A + _B).min(axis=0)
    return values.astype(_STORED, copy=False).tobytes()


def _word_code(word: str) -> int:
    """Return the hash of a word, remembered (up to a bound) for the next article."""
    if len(_WORD_CODES) >= _WORD_CODES_LIMIT:
        _WORD_CODES.clear()
    code = _WORD_CODES[word] = _hash(word.encode())
    return code


def _band_keys(sketch: np.ndarray) -> list[int]:
    bands = sketch[: BANDS * ROWS].astype(np.uint64).reshape(BANDS, ROWS)
    keys: list[int] = (bands * _BAND_MULTIPLIERS).sum(axis=1).tolist()
    return keys


class StoryIndex:
    """The sketches of recent articles and their stories, to find the story a new article belongs to.

    The sketches are rows of arrays allocated in blocks; the band keys live in two sorted arrays (key, article)
    searched with ``searchsorted``, with the keys of the latest articles in a dictionary until there are enough of
    them to merge in. An evicted article's keys stay in the arrays, skipped by lookups, until a merge finds the
    evicted ones many enough to leave them out.
    """

    def __init__(self) -> None:
        self._row: dict[int, int] = {}  # article -> row of the blocks below
        # Rows in blocks of _BLOCK, so that growing never copies what is there: sketches and stories.
        self._sketches: list[np.ndarray] = []
        self._stories: list[np.ndarray] = []
        self._free: list[int] = []
        self._keys = np.zeros(0, dtype=np.uint64)
        self._holders = np.zeros(0, dtype=np.int64)
        self._recent: dict[int, int | list[int]] = {}  # band key -> article(s), not merged yet
        self._recent_size = 0
        self._removed = 0  # articles forgotten whose keys are still in the sorted arrays
        self._added: deque[tuple[datetime, int]] = deque()

    def __len__(self) -> int:
        return len(self._row)

    def find(self, sig: bytes) -> int | None:
        """Return the story of the oldest indexed article similar to ``sig``, or None."""
        sketch = np.frombuffer(sig, dtype=_STORED)
        return self._find(sketch, _band_keys(sketch))

    def add(self, article_id: int, story_id: int, sig: bytes, at: datetime) -> None:
        """Index an article's signature under its story, as of ``at``."""
        sketch = np.frombuffer(sig, dtype=_STORED)
        self._add(article_id, story_id, sketch, _band_keys(sketch), at)

    def file(self, article_id: int, sig: bytes, at: datetime) -> int:
        """Index an article in the story of a similar one, or else in a new story numbered after it; return it."""
        sketch = np.frombuffer(sig, dtype=_STORED)
        keys = _band_keys(sketch)
        story_id = self._find(sketch, keys)
        if story_id is None:
            story_id = article_id
        self._add(article_id, story_id, sketch, keys, at)
        return story_id

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

    def _find(self, sketch: np.ndarray, keys: list[int]) -> int | None:
        candidates: set[int] = set()
        if len(self._keys):
            wanted = np.array(keys, dtype=np.uint64)
            low = np.searchsorted(self._keys, wanted, side="left").tolist()
            high = np.searchsorted(self._keys, wanted, side="right").tolist()
            for first, after in zip(low, high, strict=True):
                if after > first:
                    candidates.update(self._holders[first:after].tolist())
        recent = self._recent
        for key in keys:
            holders = recent.get(key)
            if holders is None:
                continue
            if isinstance(holders, int):
                candidates.add(holders)
            else:
                candidates.update(holders)
        rows = self._row
        live = sorted(article for article in candidates if article in rows)
        if not live:
            return None
        # Sharing a band only proposes a candidate: those whose estimated similarity falls short are left out.
        at = [divmod(rows[article], _BLOCK) for article in live]
        sketches = np.stack([self._sketches[block][offset] for block, offset in at])
        similar = np.flatnonzero(np.count_nonzero(sketches == sketch, axis=1) >= THRESHOLD * PERMUTATIONS)
        if not len(similar):
            return None
        block, offset = at[similar[0]]
        return int(self._stories[block][offset])

    def _add(self, article_id: int, story_id: int, sketch: np.ndarray, keys: list[int], at: datetime) -> None:
        if article_id in self._row:
            return
        if not self._free:
            self._grow()
        row = self._free.pop()
        self._row[article_id] = row
        block, offset = divmod(row, _BLOCK)
        self._sketches[block][offset] = sketch
        self._stories[block][offset] = story_id
        recent = self._recent
        for key in keys:
            holders = recent.get(key)
            if holders is None:
                recent[key] = article_id
            elif isinstance(holders, int):
                recent[key] = [holders, article_id]
            else:
                holders.append(article_id)
        self._recent_size += len(keys)
        self._added.append((at, article_id))
        if self._recent_size >= max(_MERGE_AT, len(self._keys) // 4):
            self._merge()

    def _remove(self, article_id: int) -> bool:
        row = self._row.pop(article_id, None)
        if row is None:
            return False
        self._free.append(row)
        self._removed += 1
        return True

    def _grow(self) -> None:
        start = len(self._stories) * _BLOCK
        self._sketches.append(np.zeros((_BLOCK, PERMUTATIONS), dtype=np.uint32))
        self._stories.append(np.zeros(_BLOCK, dtype=np.int64))
        self._free.extend(range(start + _BLOCK - 1, start - 1, -1))

    def _merge(self) -> None:
        """Move the recent keys into the sorted arrays; leave out those of forgotten articles once they are many."""
        added_keys: list[int] = []
        added_holders: list[int] = []
        for key, recent in self._recent.items():
            for article in [recent] if isinstance(recent, int) else recent:
                added_keys.append(key)
                added_holders.append(article)
        keys = np.concatenate([self._keys, np.array(added_keys, dtype=np.uint64)])
        holders = np.concatenate([self._holders, np.array(added_holders, dtype=np.int64)])
        if self._removed > len(self._row) // 2:
            live = np.isin(holders, np.fromiter(self._row, dtype=np.int64, count=len(self._row)))
            keys, holders = keys[live], holders[live]
            self._removed = 0
        order = np.argsort(keys, kind="stable")
        self._keys, self._holders = keys[order], holders[order]
        self._recent, self._recent_size = {}, 0
