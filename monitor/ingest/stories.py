"""Group near-duplicate articles into stories: MinHash sketches of word shingles, looked up with LSH.

An article's sketch is a MinHash of ``PERMUTATIONS`` permutations over the ``SHINGLE``-word shingles of its
folded title and text (``normalize.fold``; a text shorter than a shingle is one shingle). Two articles whose
estimated Jaccard similarity reaches ``THRESHOLD`` belong to the same story: the same wire story lightly
rewritten by two outlets. LSH proposes the candidates, and their estimated similarity decides. ``StoryIndex``
holds the sketches of a recent window in memory; it does no I/O, and the caller evicts what is older than the
window and rebuilds it from stored signatures at start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from datasketch import MinHash, MinHashLSH

from monitor.ingest.normalize import fold

PERMUTATIONS = 128
SHINGLE = 5
THRESHOLD = 0.5
# Fixed so that signatures stored by one run compare with those of the next.
SEED = 1
SCHEME = "affine32"


def signature(title: str, text: str) -> tuple[int, ...]:
    """Return the MinHash signature of an article's folded title and text."""
    words = fold(f"{title}\n{text}").split()
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    sketch = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)
    sketch.update_batch([shingle.encode() for shingle in shingles])
    return tuple(int(value) for value in sketch.hashvalues)


class StoryIndex:
    """The sketches of recent articles and their stories, to find the story a new article belongs to."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS)
        self._story: dict[int, tuple[int, MinHash]] = {}
        self._added: deque[tuple[datetime, int]] = deque()

    def __len__(self) -> int:
        return len(self._story)

    def find(self, sig: Sequence[int]) -> int | None:
        """Return the story of the oldest indexed article similar to ``sig``, or None."""
        sketch = _minhash(sig)
        # LSH only proposes candidates: those whose estimated similarity falls short are left out.
        found = [
            key
            for key in self._lsh.query(sketch)
            if key in self._story and self._story[key][1].jaccard(sketch) >= THRESHOLD
        ]
        return self._story[min(found)][0] if found else None

    def add(self, article_id: int, story_id: int, sig: Sequence[int], at: datetime) -> None:
        """Index an article's signature under its story, as of ``at``."""
        if article_id in self._story:
            return
        sketch = _minhash(sig)
        self._lsh.insert(article_id, sketch)
        self._story[article_id] = (story_id, sketch)
        self._added.append((at, article_id))

    def discard(self, article_ids: Sequence[int]) -> None:
        """Forget these articles (their transaction was rolled back)."""
        for article_id in article_ids:
            if self._story.pop(article_id, None) is not None:
                self._lsh.remove(article_id)

    def evict(self, before: datetime) -> int:
        """Forget the articles indexed before ``before``; return how many."""
        evicted = 0
        while self._added and self._added[0][0] < before:
            _, article_id = self._added.popleft()
            if self._story.pop(article_id, None) is not None:
                self._lsh.remove(article_id)
                evicted += 1
        return evicted


def _minhash(sig: Sequence[int]) -> MinHash:
    return MinHash(num_perm=PERMUTATIONS, seed=SEED, hashvalues=np.array(sig, dtype=np.uint64), scheme=SCHEME)
