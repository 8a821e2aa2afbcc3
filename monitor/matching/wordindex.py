"""An index of stored articles' words, and the sieve that picks out, in memory, the articles a rule matches.

Each article added gets a position (0, 1, 2, ... in the order added) and is read as the matcher reads it: its
title and its text (what a rule's ``text:`` field reads) tokenized and folded by ``text.fold_words``. Each
distinct folded word gets a number the first time it is seen. Three things are kept:

- postings: each distinct word of either field posts the article's position under the word; and, in each
  language ``Forms.languages_of`` reads it in (the article's language when tabled, else those of the word's
  script), a word that is a form in that language's table posts it under each of its lemmas, tagged with the
  language (``wordforms.py``). A word found in one article holds that position alone; others hold an ``array``
  of positions in increasing order;
- sequences: the words of the title and of the text in order, as word numbers (``sequences.py``), 4 bytes a word;
- by position, the article's id, its fetch and publication times (in microseconds since 1970) and its tabled
  language, so that a window (``since``) is picked in memory.

Which articles hold a rule's word, in either field, is known exactly from the postings (``forms.py``: an
article's word is a form of the rule's word when, in a language the article's word is read in, they share a key,
a key being a lemma, or the word itself when the table does not hold it):

- an exact word (``=word``): where the word itself is posted;
- a word without ``=``: where the word itself is posted; and, for each tabled language L and each key k of the
  word in L, where k is posted tagged with L (article words that are forms in L with lemma k), and where k itself
  is posted in an article whose words are read in L when k is no form in L (its own key);
- a prefix: wherever a posted word starts with it (the words are kept sorted).

``sieve(tree, within)`` returns exactly which of the positions ``within`` hold an article the rule matches. A
single word or prefix in either field is read from the postings alone. A phrase, a term in one field (``title:``,
``text:``) or a ``NEAR`` first keeps the articles holding all their words, then looks for them in those articles'
sequences: each word of the term stands for the word numbers that count as it (``=word``: the word; a prefix:
the posted words starting with it; a word: each article word that may be a form of it,
``ArticleForms.spellings``, in the article languages where it is one, ``ArticleForms.counted_in``), and the term
lies where its words follow one another within a field it looks at, as the matcher finds it. ``AND`` intersects
(its parts read from the postings alone first, so that the sequences of fewer articles are read for the others),
``OR`` unites, ``NOT`` takes the complement. The index is pure: the caller reads the articles and hands them over.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from monitor.matching.forms import Forms
from monitor.matching.query import EXACT, And, Near, Node, Not, Or, Term, keyed
from monitor.matching.sequences import Mask, Sequences, Spelling, spelled
from monitor.matching.text import fold_words
from monitor.matching.wordforms import TAG, ArticleForms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = -(2**63)  # the publication time of an article without one: before any window

Posting = int | array  # type: ignore[type-arg]


def micros(moment: datetime) -> int:
    """Return a timezone-aware time as microseconds since 1970."""
    return (moment - EPOCH) // timedelta(microseconds=1)


class WordIndex:
    """The words of articles, each mapped to the positions of the articles that hold it, the articles' words in
    order, and their forms."""

    def __init__(self, forms: Forms) -> None:
        self.forms = forms
        self.lemmas = ArticleForms(forms)
        self.ids = array("q")
        self.fetched = array("q")
        self.published = array("q")
        # The article's language, by its code in ``lemmas.codes``; 0 when it has no table (its words are read in
        # the languages of their scripts).
        self.languages = array("B")
        self.sequences = Sequences()
        self._numbers: dict[str, int] = {}  # each posted word's number
        self._postings: list[Posting] = []  # by word number
        self._lemmas: dict[str, Posting] = {}  # by language TAG lemma
        self._sorted: list[str] = []  # the posted words, sorted, for prefixes
        self._fresh: list[str] = []  # words posted since they were last sorted

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def words(self) -> int:
        """Return how many words and tagged lemmas are posted."""
        return len(self._numbers) + len(self._lemmas)

    def footprint(self) -> int:
        """Return roughly how many bytes the index holds: its arrays, its words and their postings, its sequences."""
        arrays = (self.ids, self.fetched, self.published, self.languages)
        found = self.lemmas.found
        size = sum(map(sys.getsizeof, (*arrays, self._lemmas, self._numbers, self._postings, self._sorted, found)))
        size += self.sequences.footprint() + sum(map(sys.getsizeof, self._postings))
        size += sum(sys.getsizeof(word) + sys.getsizeof(number) for word, number in self._numbers.items())
        size += sum(sys.getsizeof(lemma) + sys.getsizeof(posted) for lemma, posted in self._lemmas.items())
        return size + sum(sys.getsizeof(lemma) + sys.getsizeof(words) for lemma, words in found.items())

    def add(
        self,
        article_id: int,
        title: str,
        text: str,
        language: str | None,
        fetched: datetime,
        published: datetime | None,
    ) -> None:
        """Post an article's words and their tagged lemmas under its position, the next one, and keep its words."""
        position = len(self.ids)
        title_words, text_words = fold_words(title)[0], fold_words(text)[0]
        words = set(title_words).union(text_words)
        codes = self.lemmas.codes
        read_in = language if language in codes else None
        self._post_words(words, position)
        if self.forms:
            lemmas = self.lemmas.lemmas_of(words, read_in)
            if lemmas:
                _post(self._lemmas, lemmas, position)
        number = self._numbers.__getitem__
        self.sequences.add(map(number, title_words), map(number, text_words))
        self.ids.append(article_id)
        self.fetched.append(micros(fetched))
        self.published.append(NEVER if published is None else micros(published))
        self.languages.append(codes[read_in] if read_in is not None else 0)

    def settle(self) -> None:
        """Sort the posted words and forget the lemmas remembered while adding many articles."""
        self._sorted_words()
        self.lemmas.settle()

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

    def sieve(self, node: Node, within: Mask | None = None) -> Mask:
        """Return which of the positions ``within`` (every one by default) hold an article ``node`` matches."""
        kept = np.ones(len(self), np.bool_) if within is None else within
        return self._sieve(node, kept, {})

    def _sieve(self, node: Node, within: Mask, known: dict[str, Spelling]) -> Mask:
        """Return which of the positions ``within`` hold an article ``node`` matches (``known``: the spellings of
        the rule's words, worked out once)."""
        if not within.any():
            return within
        if isinstance(node, Term):
            return self._term(node, within, known)
        if isinstance(node, Near):
            return self._near(node, within, known)
        if isinstance(node, Not):
            return within & ~self._sieve(node.child, within, known)
        # The parts read from the postings alone first: the others then read the sequences of fewer articles.
        children = sorted(node.children, key=_sequenced)
        if isinstance(node, And):
            for child in children:
                within = self._sieve(child, within, known)
            return within
        assert isinstance(node, Or)
        found = np.zeros(len(self), np.bool_)
        for child in children:
            found |= self._sieve(child, within & ~found, known)
        return found

    def _term(self, term: Term, within: Mask, known: dict[str, Spelling]) -> Mask:
        """Return which of the positions ``within`` hold an article holding a term."""
        kept = self._holding(term, within)
        if _alone(term) or not kept.any():
            return kept
        articles = np.flatnonzero(kept)
        codes = np.frombuffer(self.languages, np.uint8)
        held = self.sequences.holding(articles, term.field, self._spellings_of(term, known), codes)
        return _at(len(self), articles[held])

    def _near(self, near: Near, within: Mask, known: dict[str, Spelling]) -> Mask:
        """Return which of the positions ``within`` hold an article holding both terms close enough."""
        kept = self._holding(near.right, self._holding(near.left, within))
        if not kept.any():
            return kept
        articles = np.flatnonzero(kept)
        codes = np.frombuffer(self.languages, np.uint8)
        pair = (self._spellings_of(near.left, known), self._spellings_of(near.right, known))
        held = self.sequences.near(articles, near.left.field, pair, near.distance, codes)
        return _at(len(self), articles[held])

    def _holding(self, term: Term, within: Mask) -> Mask:
        """Return which of the positions ``within`` hold every word of a term, in any field (its last one as a
        prefix, for a prefix)."""
        words = keyed(term)
        whole = words[:-1] if term.prefix else words
        kept = within
        for word in dict.fromkeys(whole):
            kept = kept & self._word(word)
        if term.prefix:
            kept = kept & self._posted(self._postings[self._numbers[word]] for word in self._prefixed(words[-1]))
        return kept

    def _word(self, word: str) -> Mask:
        """Return which positions hold a rule's word: in its exact form for ``=word``, else in any form."""

        def posted(word: str) -> Posting | None:
            number = self._numbers.get(word)
            return None if number is None else self._postings[number]

        if word.startswith(EXACT):
            return self._posted((posted(word[len(EXACT) :]),))
        kept = self._posted((posted(word),))
        forms = self.forms
        if not forms:
            return kept
        codes = np.frombuffer(self.languages, np.uint8)
        for language, code in self.lemmas.codes.items():
            for key in forms.lookup(word, language) or (word,):
                kept |= self._posted((self._lemmas.get(language + TAG + key),))
                own = posted(key)
                if own is not None and forms.lookup(key, language) is None:
                    # The key is a word of its own in this language: where it is read in the language.
                    read = codes == code
                    if language in forms.languages_of(key, None):
                        read |= codes == 0
                    kept |= self._posted((own,)) & read
        return kept

    def _spellings_of(self, term: Term, known: dict[str, Spelling]) -> list[Spelling]:
        """Return the spelling of each word of a term, its last one a prefix for a prefix."""
        words = keyed(term)
        found = []
        for at, word in enumerate(words):
            key = word + "*" if term.prefix and at == len(words) - 1 else word
            spelling = known.get(key)
            if spelling is None:
                spelling = known[key] = self._spelling(word, key != word)
            found.append(spelling)
        return found

    def _spelling(self, word: str, prefix: bool) -> Spelling:
        """Return the word numbers that count as a rule's word (a prefix, with ``prefix``), by the article
        languages in which they do (None: in all)."""
        numbers = self._numbers
        groups: dict[frozenset[int] | None, list[int]] = {}
        bare = word.removeprefix(EXACT)
        if prefix:
            groups[None] = [numbers[posted] for posted in self._prefixed(word)]
        elif bare != word or not self.forms:
            groups[None] = [numbers[bare]] if bare in numbers else []
        else:
            for spelling in self.lemmas.spellings(word):
                number = numbers.get(spelling)
                codes = None if number is None else self.lemmas.counted_in(spelling, word)
                if number is not None and (codes is None or codes):
                    groups.setdefault(codes, []).append(number)
        return spelled(groups, len(self._postings), len(self.lemmas.codes) + 1)

    def _prefixed(self, prefix: str) -> list[str]:
        """Return the posted words starting with ``prefix``."""
        ordered = self._sorted_words()
        start = end = bisect_left(ordered, prefix)
        while end < len(ordered) and ordered[end].startswith(prefix):
            end += 1
        return ordered[start:end]

    def _posted(self, postings: Iterable[Posting | None]) -> Mask:
        """Return which positions are posted in any of the postings."""
        kept = np.zeros(len(self.ids), np.bool_)
        singles: list[int] = []
        for found in postings:
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

    def _post_words(self, words: set[str], position: int) -> None:
        """Post a position under each word, numbering the words seen for the first time."""
        numbers, postings = self._numbers, self._postings
        for word in words:
            number = numbers.get(word)
            if number is None:
                numbers[word] = len(postings)
                postings.append(position)
                self._fresh.append(word)
                continue
            found = postings[number]
            if type(found) is int:
                postings[number] = array("I", (found, position))
            else:
                found.append(position)  # type: ignore[union-attr]


def _post(postings: dict[str, Posting], entries: set[str], position: int) -> None:
    """Post a position under each entry."""
    get = postings.get
    for entry in entries:
        found = get(entry)
        if found is None:
            postings[entry] = position
        elif type(found) is int:
            postings[entry] = array("I", (found, position))
        else:
            found.append(position)  # type: ignore[union-attr]


def _at(size: int, positions: NDArray[np.int64]) -> Mask:
    """Return a mask of ``size`` positions, set at the given ones."""
    kept = np.zeros(size, np.bool_)
    kept[positions] = True
    return kept


def _alone(term: Term) -> bool:
    """Return whether the postings alone tell which articles hold a term: one word or prefix in either field."""
    return len(term.words) == 1 and term.field is None


def _sequenced(node: Node) -> bool:
    """Return whether deciding a node reads the articles' sequences."""
    if isinstance(node, Term):
        return not _alone(node)
    if isinstance(node, Near):
        return True
    if isinstance(node, Not):
        return _sequenced(node.child)
    return any(map(_sequenced, node.children))
