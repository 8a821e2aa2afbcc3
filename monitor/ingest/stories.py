"""Group near-duplicate articles into stories: MinHash sketches of word shingles, looked up with LSH.

An article's sketch is a MinHash of ``PERMUTATIONS`` permutations over the ``SHINGLE``-word shingles of its
folded title and text (the words of ``matching.text``, as rules see them; a text shorter than a shingle is one
shingle). Each word is hashed
once (xxHash), a shingle's hash mixes its words' hashes, each permutation is the affine map ``h -> a*h + b``
modulo 2**32 with an odd ``a``, and the sketch keeps each permutation's minimum. The share of equal values
between two sketches estimates the Jaccard similarity of their shingle sets; two articles whose estimate reaches
``THRESHOLD`` belong to the same story: the same wire story lightly rewritten by two outlets.

``StoryIndex`` holds the band keys of a recent window in memory and proposes candidates by locality-sensitive
hashing: the first ``BANDS * ROWS`` values of a sketch are cut into ``BANDS`` bands of ``ROWS``, and articles
sharing a whole band are candidates (at a similarity of 0.5 a pair shares a band with probability 0.72, at 0.7 with
0.996); the estimated similarity then decides, on the candidates' sketches that the caller reads back (``Loader``:
the database stores every sketch). An article costs about 180 bytes (its band keys and id, in sorted arrays), so
that the memory held follows the window's articles only lightly. The index does no I/O itself: the caller evicts
what is older than the window and rebuilds it from stored signatures at start. A sketch depends only on the text
and the constants here, so sketches stored by one run compare with those of the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import xxhash

from monitor.matching.text import words_of

PERMUTATIONS = 128
SHINGLE = 5
THRESHOLD = 0.5
_SIMILAR = THRESHOLD * PERMUTATIONS  # equal values that make two sketches similar
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
_PENDING_KEYS = 8192  # band keys held in the dictionary before they become a sorted run
_RUN_CAP = 1 << 20  # band keys in a run, at most, so that merging one never holds much more than the index
_SHIFT = np.uint64(32)
_PAIRS_AT_ONCE = 4096  # candidate pairs compared in one matrix, at most (512 KB)
_HOLDER = np.uint64(0xFFFFFFFF)


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


def _band_keys(sketches: np.ndarray) -> np.ndarray:
    """Return the BANDS band keys of each row of sketches, 32 bits each (the high half of each band's 64-bit
    fold)."""
    bands = sketches[:, : BANDS * ROWS].astype(np.uint64).reshape(len(sketches), BANDS, ROWS)
    keys: np.ndarray = ((bands * _BAND_MULTIPLIERS).sum(axis=2) >> np.uint64(32)).astype(np.uint32)
    return keys


# What the index asks of its caller: for some article ids, those it still knows, each with its story and sketch.
Loader = Callable[[Sequence[int]], Mapping[int, tuple[int, bytes]]]


class StoryIndex:
    """The band keys of recent articles, to find the story a new article belongs to.

    It holds about 180 bytes an article: its 20 band keys with its id (32 bits each) in sorted runs, and its id
    and time in arrays of the live articles. A lookup gathers the live articles sharing a band with the new one,
    then asks ``load`` (the database) for their sketches and stories: only candidates cost a read. The newest keys
    wait in a small dictionary; full, it becomes a sorted run, and runs of like size are merged (dropping the keys
    of forgotten articles), so that a lookup searches a few runs.
    """

    def __init__(self) -> None:
        self._ids = np.zeros(0, dtype=np.uint32)  # the articles indexed, ascending
        self._times = np.zeros(0, dtype=np.float64)  # when each was indexed (POSIX seconds)
        self._alive = np.zeros(0, dtype=bool)  # False once evicted or discarded
        self._count = 0  # entries used in the three arrays above
        self._live = 0
        self._runs: list[np.ndarray] = []  # sorted runs of band key << 32 | article
        self._forgotten = 0  # articles forgotten since the runs last dropped their keys
        self._pending: dict[int, int | list[int]] = {}  # band key -> article(s), not in a run yet
        self._pending_entries: list[np.ndarray] = []  # the same keys, packed with their articles for a run
        self._pending_size = 0

    def __len__(self) -> int:
        return self._live

    def find(self, sig: bytes, load: Loader) -> int | None:
        """Return the story of the oldest indexed article similar to ``sig``, or None."""
        sketches = np.frombuffer(sig, dtype=_STORED).reshape(1, PERMUTATIONS)
        owners, holders = self._sharing_pairs(_band_keys(sketches))
        live = self._alive_mask(holders)
        found = load(np.unique(holders[live]).tolist()) if live.any() else {}
        best = self._similar_indexed(sketches, owners[live], holders[live], found).get(0)
        return found[best][0] if best is not None else None

    def add(self, article_id: int, sig: bytes, at: datetime) -> None:
        """Index an article's signature as of ``at`` (an article indexed already is left as it is)."""
        self._add_many([article_id], _band_keys(np.frombuffer(sig, dtype=_STORED).reshape(1, PERMUTATIONS)), at)

    def file(self, article_id: int, sig: bytes, at: datetime, load: Loader) -> int:
        """Index an article, and return the story of a similar one, or else its own id (a new story)."""
        return self.file_many([(article_id, sig)], at, load)[0]

    def file_many(self, articles: Sequence[tuple[int, bytes]], at: datetime, load: Loader) -> list[int]:
        """Index articles (id and sketch) in their order; return the story of each: that of the oldest similar
        article indexed before it, earlier ones of the batch included, or else its own id (a new story).

        The batch's band keys are searched together, and ``load`` is called once, for the live articles indexed
        before the batch that share a band with any of them: its articles cost one read, not one each.
        """
        if not articles:
            return []
        ids = [article_id for article_id, _ in articles]
        sketches = np.frombuffer(b"".join(sig for _, sig in articles), dtype=_STORED).reshape(len(ids), PERMUTATIONS)
        keys = _band_keys(sketches)
        owners, holders = self._sharing_pairs(keys)
        live = self._alive_mask(holders)
        owners, holders = owners[live], holders[live]
        found = load(np.unique(holders).tolist()) if len(holders) else {}
        earlier = self._similar_indexed(sketches, owners, holders, found)
        filed: list[int] = []
        own: dict[int, list[int]] = {}  # band key -> the batch's articles that have it, by position
        for position, (article_id, row) in enumerate(zip(ids, keys.tolist(), strict=True)):
            best = earlier.get(position)
            story = found[best][0] if best is not None else article_id
            mates = sorted({mate for key in row for mate in own.get(key, ())})
            if mates:
                equal = np.count_nonzero(sketches[mates] == sketches[position], axis=1)
                similar = [mate for mate, count in zip(mates, equal.tolist(), strict=True) if count >= _SIMILAR]
                oldest = min(similar, key=ids.__getitem__, default=None)
                if oldest is not None and (best is None or ids[oldest] < best):
                    story = filed[oldest]
            filed.append(story)
            for key in row:
                own.setdefault(key, []).append(position)
        self._add_many(ids, keys, at)
        return filed

    def discard(self, article_ids: Iterable[int]) -> None:
        """Forget these articles (their transaction was rolled back)."""
        for article_id in article_ids:
            at = self._position(article_id)
            if at is not None and self._alive[at]:
                self._alive[at] = False
                self._live -= 1
                self._forgotten += 1

    def evict(self, before: datetime) -> int:
        """Forget the articles indexed before ``before``; return how many."""
        used = slice(0, self._count)
        old = np.flatnonzero(self._alive[used] & (self._times[used] < before.timestamp()))
        self._alive[old] = False
        self._live -= len(old)
        self._forgotten += len(old)
        if self._forgotten > max(self._live, _PENDING_KEYS):
            self._prune()
        if self._count > 1024 and self._live < self._count // 2:
            keep = np.flatnonzero(self._alive[used])
            self._ids, self._times = self._ids[keep], self._times[keep]
            self._alive, self._count = np.ones(len(keep), dtype=bool), len(keep)
        return len(old)

    def _position(self, article_id: int) -> int | None:
        """Return where an article is in the arrays of indexed articles, or None."""
        at = int(np.searchsorted(self._ids[: self._count], article_id))
        return at if at < self._count and int(self._ids[at]) == article_id else None

    def _alive_mask(self, articles: np.ndarray) -> np.ndarray:
        """Return, for each article id of the array, whether it is indexed and not forgotten."""
        ids = self._ids[: self._count]
        at = np.searchsorted(ids, articles)
        found = at < self._count
        found[found] = ids[at[found]] == articles[found]
        found[found] = self._alive[at[found]]
        return found

    def _sharing_pairs(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the pairs (row of ``keys``, indexed article, live or not) that share a band key, as two arrays
        ordered by row then article, without repeats."""
        flat = keys.ravel()
        row_of = np.repeat(np.arange(len(keys), dtype=np.uint64), BANDS)
        wide = flat.astype(np.uint64)
        low_ends, high_ends = wide << _SHIFT, (wide + np.uint64(1)) << _SHIFT
        pairs: list[np.ndarray] = []
        # Each key's entries lie between key << 32 and (key + 1) << 32: every key of the batch searched at once.
        for run in self._runs:
            low, high = np.searchsorted(run, low_ends), np.searchsorted(run, high_ends)
            hit = np.flatnonzero(high > low)
            if not len(hit):
                continue
            counts = high[hit] - low[hit]
            starts = np.repeat(low[hit] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
            pairs.append(np.repeat(row_of[hit], counts) << _SHIFT | (run[starts] & _HOLDER))
        pending = self._pending
        waiting = [
            (row, holder)
            for row, key in zip(row_of.tolist(), flat.tolist(), strict=True)
            if (holders := pending.get(key)) is not None
            for holder in ((holders,) if isinstance(holders, int) else holders)
        ]
        if waiting:
            found = np.array(waiting, dtype=np.uint64)
            pairs.append(found[:, 0] << _SHIFT | found[:, 1])
        if not pairs:
            empty = np.zeros(0, dtype=np.uint32)
            return empty.astype(np.int64), empty
        unique = np.unique(np.concatenate(pairs))
        return (unique >> _SHIFT).astype(np.int64), (unique & _HOLDER).astype(np.uint32)

    @staticmethod
    def _similar_indexed(
        sketches: np.ndarray, rows: np.ndarray, articles: np.ndarray, found: Mapping[int, tuple[int, bytes]]
    ) -> dict[int, int]:
        """Return, for each row of ``sketches`` that has one, the oldest of its candidate articles (pairs ordered
        by row then article) whose sketch, in ``found``, is similar: sharing a band only proposes a candidate."""
        known = np.array(sorted(found), dtype=np.uint32)
        if not len(known) or not len(articles):
            return {}
        at = np.minimum(np.searchsorted(known, articles), len(known) - 1)
        present = known[at] == articles
        rows, articles, at = rows[present], articles[present], at[present]
        stored = np.frombuffer(b"".join(found[int(row)][1] for row in known), dtype=_STORED)
        stored = stored.reshape(len(known), PERMUTATIONS)
        similar = np.zeros(len(rows), dtype=bool)
        for start in range(0, len(rows), _PAIRS_AT_ONCE):  # a bounded matrix of comparisons at a time
            part = slice(start, start + _PAIRS_AT_ONCE)
            equal = np.count_nonzero(stored[at[part]] == sketches[rows[part]], axis=1)
            similar[part] = equal >= _SIMILAR
        first_rows, first = np.unique(rows[similar], return_index=True)
        return dict(zip(first_rows.tolist(), articles[similar][first].tolist(), strict=True))

    def _add_many(self, article_ids: Sequence[int], keys: np.ndarray, at: datetime) -> None:
        """Index articles by their band keys (rows of ``keys``); those indexed already are left as they are."""
        when = at.timestamp()
        for article_id, row in zip(article_ids, keys, strict=True):
            newest = self._count == 0 or int(self._ids[self._count - 1]) < article_id  # the usual case: a new id
            if not newest and self._position(article_id) is not None:
                continue
            self._remember(article_id, when)
            pending = self._pending  # a new dictionary after each flush
            for key in row.tolist():
                holders = pending.get(key)
                if holders is None:
                    pending[key] = article_id
                elif isinstance(holders, int):
                    pending[key] = [holders, article_id]
                else:
                    holders.append(article_id)
            self._pending_entries.append(row.astype(np.uint64) << _SHIFT | np.uint64(article_id))
            self._pending_size += len(row)
            if self._pending_size >= _PENDING_KEYS:
                self._flush()

    def _remember(self, article_id: int, at: float) -> None:
        """Put an article in the arrays of indexed articles, keeping their ids ascending."""
        if self._count == len(self._ids):
            size = max(1024, 2 * self._count)
            self._ids = np.resize(self._ids, size)
            self._times = np.resize(self._times, size)
            self._alive = np.resize(self._alive, size)
        count = self._count
        at_end = count == 0 or int(self._ids[count - 1]) < article_id
        where = count if at_end else int(np.searchsorted(self._ids[:count], article_id))
        if not at_end:  # ids filed out of order (another instance's): shift the later ones
            for array in (self._ids, self._times, self._alive):
                array[where + 1 : count + 1] = array[where:count].copy()
        self._ids[where], self._times[where], self._alive[where] = article_id, at, True
        self._count += 1
        self._live += 1

    def _flush(self) -> None:
        """Make the pending keys a sorted run, then merge the last runs while they are of like size."""
        run = np.concatenate(self._pending_entries)
        self._pending, self._pending_entries, self._pending_size = {}, [], 0
        run.sort()
        runs = self._runs
        runs.append(run)
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]) and len(runs[-2]) + len(runs[-1]) <= _RUN_CAP:
            merged = np.concatenate([runs.pop(), runs.pop()])
            merged = merged[self._alive_mask((merged & _HOLDER).astype(np.uint32))]
            merged.sort()
            runs.append(merged)

    def _prune(self) -> None:
        """Drop the keys of forgotten articles from every run, one run at a time."""
        self._runs = [run[self._alive_mask((run & _HOLDER).astype(np.uint32))] for run in self._runs]
        self._forgotten = 0
