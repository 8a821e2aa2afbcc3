"""An inverted index of stored articles' words, and the sieve that keeps the articles a rule may match.

Each article added gets a position (0, 1, 2, ... in the order added) and is read as the matcher reads it: its
title and its text (what a rule's ``text:`` field reads) tokenized and folded by ``text.fold_words``. Each
distinct folded word of either field posts the article's position under the word itself and under each of its
keys in word forms (``forms.py``: its lemmas in each language ``Forms.languages_of`` reads it in, given the
article's language). A word found in one article holds that position alone; others hold an ``array`` of
positions in increasing order. The article's id and its fetch and publication times (in microseconds since
1970) are kept by position, so that a window (``since``) is picked in memory.

``sieve(tree)`` returns the positions of the articles a rule tree may match, a superset of those it matches:

- a word without ``=`` is found wherever the word itself or any of its keys in any tabled language is posted:
  an article's word is a form of the rule's word only when they share a key in a language the article's word
  is read in, and the article's word is posted under every such key, so every article the word matches is kept;
- an exact word (``=word``) is found where the word itself is posted, a prefix wherever a posted word starts
  with it (the posted words are kept sorted);
- a term (a word, a phrase, a prefixed phrase) needs all of its words, ``NEAR`` both of its terms, ``AND`` every
  part that is not a ``NOT``, ``OR`` any of its parts; a ``NOT``, or an ``OR`` with a ``NOT`` among its parts,
  keeps every article (``None``: no sieve), as does a rule made only of ``NOT``.

Fields (``title:``) and positions within a field (phrases, ``NEAR``) are not indexed: the matcher decides them
on the articles kept. The index is pure: the caller reads the articles and hands them over.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from monitor.matching.forms import Forms
from monitor.matching.query import EXACT, And, Near, Node, Not, Or, Term, keyed
from monitor.matching.text import fold_words

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = -(2**63)  # the publication time of an article without one: before any window
REMEMBERED = 1 << 18  # words whose keys are remembered, all languages together, while adding articles

Mask = NDArray[np.bool_]


def micros(moment: datetime) -> int:
    """Return a timezone-aware time as microseconds since 1970."""
    return (moment - EPOCH) // timedelta(microseconds=1)


class WordIndex:
    """The words of articles, each mapped to the positions of the articles that hold it or one of its forms."""

    def __init__(self, forms: Forms) -> None:
        self.forms = forms
        self.ids = array("q")
        self.fetched = array("q")
        self.published = array("q")
        self._postings: dict[str, int | array[int]] = {}
        self._sorted: list[str] = []  # the posted words, sorted, for prefixes
        self._fresh: list[str] = []  # words posted since they were last sorted
        # What keys each word looked at has besides itself, by the article language it was read in (None: read
        # in the languages of its script), and the words among them that have some.
        self._seen: dict[str | None, set[str]] = {}
        self._keyed: dict[str | None, dict[str, tuple[str, ...]]] = {}
        self._has_keys: dict[str | None, set[str]] = {}
        self._remembered = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def words(self) -> int:
        """Return how many words and keys are posted."""
        return len(self._postings)

    def footprint(self) -> int:
        """Return roughly how many bytes the index holds: its arrays, its words and their postings."""
        size = sum(map(sys.getsizeof, (self.ids, self.fetched, self.published, self._postings, self._sorted)))
        for word, found in self._postings.items():
            size += sys.getsizeof(word) + sys.getsizeof(found)
        return size

    def add(
        self,
        article_id: int,
        title: str,
        text: str,
        language: str | None,
        fetched: datetime,
        published: datetime | None,
    ) -> None:
        """Post an article's words and their keys under its position, the next one."""
        position = len(self.ids)
        words = set(fold_words(title)[0])
        words.update(fold_words(text)[0])
        entries = words
        if self.forms:
            keys = self._keys_of(words, language)
            if keys:
                entries = words | keys
        postings, fresh = self._postings, self._fresh
        for word in entries:
            found = postings.get(word)
            if found is None:
                postings[word] = position
                fresh.append(word)
            elif type(found) is int:
                postings[word] = array("I", (found, position))
            else:
                found.append(position)  # type: ignore[union-attr]
        self.ids.append(article_id)
        self.fetched.append(micros(fetched))
        self.published.append(NEVER if published is None else micros(published))

    def settle(self) -> None:
        """Sort the posted words and forget the keys remembered while adding many articles."""
        self._sorted_words()
        self._forget()

    def window(self, since: datetime) -> Mask:
        """Return which positions hold an article fetched or published at ``since`` or later."""
        start = micros(since)
        fetched = np.frombuffer(self.fetched, np.int64)
        published = np.frombuffer(self.published, np.int64)
        return (fetched >= start) | (published >= start)

    def fetched_since(self, since: datetime) -> set[int]:
        """Return the ids of the articles fetched at ``since`` or later."""
        fetched = np.frombuffer(self.fetched, np.int64)
        return set(np.frombuffer(self.ids, np.int64)[fetched >= micros(since)].tolist())

    def newest_first(self, kept: Mask) -> list[int]:
        """Return the ids of the kept positions, highest (newest) first."""
        ids = np.frombuffer(self.ids, np.int64)[kept]
        return np.sort(ids)[::-1].tolist()  # type: ignore[no-any-return]

    def sieve(self, node: Node) -> Mask | None:
        """Return which positions hold an article ``node`` may match, or None when it may match any article."""
        if isinstance(node, Term):
            return self._term(node)
        if isinstance(node, Near):
            return self._term(node.left) & self._term(node.right)
        if isinstance(node, Not):
            return None
        parts = [self.sieve(child) for child in node.children]
        if isinstance(node, Or):
            if any(part is None for part in parts):
                return None
            return np.logical_or.reduce([part for part in parts if part is not None])  # type: ignore[no-any-return]
        assert isinstance(node, And)
        positive = [part for part in parts if part is not None]
        return np.logical_and.reduce(positive) if positive else None

    def _term(self, term: Term) -> Mask:
        """Return which positions hold every word of a term (its last one as a prefix, for a prefix)."""
        words = keyed(term)
        whole = words[:-1] if term.prefix else words
        kept: Mask | None = None
        for word in dict.fromkeys(whole):
            found = self._word(word)
            kept = found if kept is None else kept & found
        if term.prefix:
            found = self._prefix(words[-1])
            kept = found if kept is None else kept & found
        assert kept is not None  # a term has words
        return kept

    def _word(self, word: str) -> Mask:
        """Return which positions hold a rule's word: in its exact form for ``=word``, else in any form."""
        if word.startswith(EXACT):
            return self._posted([word[len(EXACT) :]])
        return self._posted(self.forms.all_keys(word, self.forms.languages) if self.forms else [word])

    def _prefix(self, prefix: str) -> Mask:
        """Return which positions hold a word (or a key) starting with ``prefix``."""
        ordered = self._sorted_words()
        start = end = bisect_left(ordered, prefix)
        while end < len(ordered) and ordered[end].startswith(prefix):
            end += 1
        return self._posted(ordered[start:end])

    def _posted(self, words: list[str] | set[str]) -> Mask:
        """Return which positions are posted under any of the words."""
        kept = np.zeros(len(self.ids), np.bool_)
        singles: list[int] = []
        for word in words:
            found = self._postings.get(word)
            if found is None:
                continue
            if type(found) is int:
                singles.append(found)
            else:
                kept[np.frombuffer(found, np.uint32)] = True  # type: ignore[arg-type]
        if singles:
            kept[singles] = True
        return kept

    def _sorted_words(self) -> list[str]:
        """Return the posted words sorted, sorting in those posted since the last call."""
        if self._fresh:
            self._sorted.extend(self._fresh)
            self._sorted.sort()  # two sorted runs: merged in one pass
            self._fresh = []
        return self._sorted

    def _forget(self) -> None:
        for tables in (self._seen, self._keyed, self._has_keys):
            tables.clear()
        self._remembered = 0

    def _keys_of(self, words: set[str], language: str | None) -> set[str]:
        """Return the keys of an article's words, other than the words themselves, in the languages they are read in."""
        forms = self.forms
        read_in = language if language in forms.languages else None
        seen = self._seen.get(read_in)
        if seen is None:
            seen = self._seen[read_in] = set()
            self._keyed[read_in] = {}
            self._has_keys[read_in] = set()
        keyed_words, has_keys = self._keyed[read_in], self._has_keys[read_in]
        new = words.difference(seen)
        if new:
            if self._remembered + len(new) > REMEMBERED:
                self._forget()
                return self._keys_of(words, language)
            for word in new:
                keys: set[str] = set()
                for code in forms.languages_of(word, read_in):
                    found = forms.lookup(word, code)
                    if found:
                        keys.update(found)
                keys.discard(word)
                if keys:
                    keyed_words[word] = tuple(keys)
                    has_keys.add(word)
            seen.update(new)
            self._remembered += len(new)
        found_keys: set[str] = set()
        for word in words.intersection(has_keys):
            found_keys.update(keyed_words[word])
        return found_keys
