"""An inverted index of stored articles' words, and the sieve that keeps the articles a rule may match.

Each article added gets a position (0, 1, 2, ... in the order added) and is read as the matcher reads it: its
title and its text (what a rule's ``text:`` field reads) tokenized and folded by ``text.fold_words``. Each
distinct folded word of either field posts the article's position under the word itself; and, in each language
``Forms.languages_of`` reads it in (the article's language when tabled, else those of the word's script), a word
that is a form in that language's table posts it under each of its lemmas, tagged with the language. The words
of the title are posted so once more, apart. A word found in one article holds that position alone; others hold
an ``array`` of positions in increasing order. The article's id, its fetch and publication times (in microseconds
since 1970) and its tabled language are kept by position, so that a window (``since``) is picked in memory.

Which articles hold a rule's word, in any field, is then known exactly (``forms.py``: an article's word is a form
of the rule's word when, in a language the article's word is read in, they share a key, a key being a lemma, or
the word itself when the table does not hold it):

- an exact word (``=word``): where the word itself is posted;
- a word without ``=``: where the word itself is posted; and, for each tabled language L and each key k of the
  word in L, where k is posted tagged with L (article words that are forms in L with lemma k), and where k itself
  is posted in an article whose words are read in L when k is no form in L (its own key);
- a prefix: wherever a posted word starts with it (the words are kept sorted);
- a word in the title (``title:``): the same, among the words of titles, posted apart.

``sieve(tree)`` returns the positions of the articles a rule tree may match, a superset of those it matches,
and whether it is exactly those. A single word or prefix in either field, or a single word in the title, is
exact; a phrase, a prefix in the title, a term in the text (``text:``) or ``NEAR`` keeps the articles holding all
their words (in their title, for ``title:``), a superset: positions within a field are not indexed, the matcher
decides them. ``AND`` intersects, ``OR`` unites, ``NOT`` of an exact part is its complement;
``NOT`` of another part keeps every article (``None``: no sieve), as does an ``OR`` with such a part. A tree of
exact parts is exact: its articles are the rule's matches, without matching them. The index is pure: the
caller reads the articles and hands them over.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from monitor.matching.forms import Forms
from monitor.matching.query import EXACT, And, Near, Node, Not, Or, Term, keyed
from monitor.matching.text import fold_words

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = -(2**63)  # the publication time of an article without one: before any window
# Words whose lemmas are remembered, all article languages together, while adding many articles, then once settled.
REMEMBERED = 1 << 20
SETTLED = 1 << 15
TAG = "\x1f"  # between a language and a lemma (no folded word holds it)
TITLE = "title"

Mask = NDArray[np.bool_]
Posting = int | array  # type: ignore[type-arg]


class Sieved(NamedTuple):
    """The positions of the articles a rule may match (None: any article), and whether it matches exactly those."""

    kept: Mask | None
    exact: bool


def micros(moment: datetime) -> int:
    """Return a timezone-aware time as microseconds since 1970."""
    return (moment - EPOCH) // timedelta(microseconds=1)


class WordIndex:
    """The words of articles, each mapped to the positions of the articles that hold it, and the articles' forms."""

    def __init__(self, forms: Forms) -> None:
        self.forms = forms
        self.ids = array("q")
        self.fetched = array("q")
        self.published = array("q")
        # The article's language, by its number in ``_codes``; 0 when it has no table (its words are read in the
        # languages of their scripts).
        self.languages = array("B")
        self._codes = {language: code for code, language in enumerate(sorted(forms.languages), 1)}
        self._words: dict[str, Posting] = {}
        self._lemmas: dict[str, Posting] = {}  # by language TAG lemma
        # The same for the words of titles alone.
        self._title_words: dict[str, Posting] = {}
        self._title_lemmas: dict[str, Posting] = {}
        self._sorted: list[str] = []  # the posted words, sorted, for prefixes
        self._fresh: list[str] = []  # words posted since they were last sorted
        # The tagged lemmas of each word looked at, by the article language it was read in (None: read in the
        # languages of its script), and the words among them that have some.
        self._seen: dict[str | None, set[str]] = {}
        self._tagged: dict[str | None, dict[str, tuple[str, ...]]] = {}
        self._inflected: dict[str | None, set[str]] = {}
        self._remembered = 0
        self._bound = REMEMBERED
        # Every word read in a language where it is a form, by language TAG lemma: the words a rule's word may find.
        self._forms: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def words(self) -> int:
        """Return how many words and tagged lemmas are posted."""
        return len(self._words) + len(self._lemmas)

    def footprint(self) -> int:
        """Return roughly how many bytes the index holds: its arrays, its words and their postings."""
        arrays = (self.ids, self.fetched, self.published, self.languages)
        tables = (self._words, self._lemmas, self._title_words, self._title_lemmas)
        size = sum(map(sys.getsizeof, (*arrays, *tables, self._sorted, self._forms)))
        for postings in tables:
            for word, found in postings.items():
                size += sys.getsizeof(word) + sys.getsizeof(found)
        return size + sum(sys.getsizeof(lemma) + sys.getsizeof(words) for lemma, words in self._forms.items())

    def add(
        self,
        article_id: int,
        title: str,
        text: str,
        language: str | None,
        fetched: datetime,
        published: datetime | None,
    ) -> None:
        """Post an article's words and their tagged lemmas under its position, the next one."""
        position = len(self.ids)
        titled = set(fold_words(title)[0])
        words = titled.union(fold_words(text)[0])
        read_in = language if language in self._codes else None
        _post(self._words, words, position, self._fresh)
        _post(self._title_words, titled, position, None)
        if self.forms:
            lemmas = self._lemmas_of(words, read_in)
            if lemmas:
                _post(self._lemmas, lemmas, position, None)
                title_lemmas = self._lemmas_of(titled, read_in)
                if title_lemmas:
                    _post(self._title_lemmas, title_lemmas, position, None)
        self.ids.append(article_id)
        self.fetched.append(micros(fetched))
        self.published.append(NEVER if published is None else micros(published))
        self.languages.append(self._codes[read_in] if read_in is not None else 0)

    def settle(self) -> None:
        """Sort the posted words and forget the lemmas remembered while adding many articles; remember fewer from
        now on."""
        self._sorted_words()
        self._forget()
        self._bound = SETTLED

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

    def sieve(self, node: Node) -> Sieved:
        """Return which positions hold an article ``node`` may match (None: any), and whether exactly those."""
        if isinstance(node, Term):
            return Sieved(self._term(node), _alone(node))
        if isinstance(node, Near):
            return Sieved(self._term(node.left) & self._term(node.right), False)
        if isinstance(node, Not):
            inner = self.sieve(node.child)
            if inner.kept is None or not inner.exact:
                return Sieved(None, False)
            return Sieved(~inner.kept, True)
        parts = [self.sieve(child) for child in node.children]
        exact = all(part.exact for part in parts)
        masks = [part.kept for part in parts if part.kept is not None]
        if isinstance(node, Or):
            if len(masks) < len(parts):
                return Sieved(None, False)
            return Sieved(np.logical_or.reduce(masks), exact)
        assert isinstance(node, And)
        if not masks:
            return Sieved(None, False)
        return Sieved(np.logical_and.reduce(masks), exact and len(masks) == len(parts))

    def spellings(self, word: str) -> frozenset[str]:
        """Return the words of the indexed articles a rule's word may find (``=word``: the word alone), and more."""
        if word.startswith(EXACT):
            return frozenset((word[len(EXACT) :],))
        found = {word}
        forms = self.forms
        if forms:
            for language in self._codes:
                for key in forms.lookup(word, language) or (word,):
                    found.add(key)
                    found.update(self._forms.get(language + TAG + key, ()))
        return frozenset(found)

    def _term(self, term: Term) -> Mask:
        """Return which positions hold every word of a term (its last one as a prefix, for a prefix)."""
        words = keyed(term)
        whole = words[:-1] if term.prefix else words
        kept: Mask | None = None
        for word in dict.fromkeys(whole):
            found = self._word(word, term.field == TITLE)
            kept = found if kept is None else kept & found
        if term.prefix:
            found = self._prefix(words[-1])
            kept = found if kept is None else kept & found
        assert kept is not None  # a term has words
        return kept

    def _word(self, word: str, in_title: bool) -> Mask:
        """Return which positions hold a rule's word (in their title, with ``in_title``): in its exact form for
        ``=word``, else in any form."""
        words, lemmas = (self._title_words, self._title_lemmas) if in_title else (self._words, self._lemmas)
        if word.startswith(EXACT):
            return self._posted(words, [word[len(EXACT) :]])
        kept = self._posted(words, [word])
        forms = self.forms
        if not forms:
            return kept
        codes = np.frombuffer(self.languages, np.uint8)
        for language, code in self._codes.items():
            for key in forms.lookup(word, language) or (word,):
                kept |= self._posted(lemmas, [language + TAG + key])
                if key in words and forms.lookup(key, language) is None:
                    # The key is a word of its own in this language: where it is read in the language.
                    read = codes == code
                    if language in forms.languages_of(key, None):
                        read |= codes == 0
                    kept |= self._posted(words, [key]) & read
        return kept

    def _prefix(self, prefix: str) -> Mask:
        """Return which positions hold a word starting with ``prefix``."""
        ordered = self._sorted_words()
        start = end = bisect_left(ordered, prefix)
        while end < len(ordered) and ordered[end].startswith(prefix):
            end += 1
        return self._posted(self._words, ordered[start:end])

    def _posted(self, postings: dict[str, Posting], words: list[str]) -> Mask:
        """Return which positions are posted under any of the words."""
        kept = np.zeros(len(self.ids), np.bool_)
        singles: list[int] = []
        for word in words:
            found = postings.get(word)
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
        """Forget the lemmas of the words looked at (they are looked up again when next seen)."""
        for tables in (self._seen, self._tagged, self._inflected):
            tables.clear()
        self._remembered = 0

    def _lemmas_of(self, words: set[str], read_in: str | None) -> set[str]:
        """Return the tagged lemmas of an article's words that are forms in the languages they are read in."""
        forms = self.forms
        if self._remembered >= self._bound:
            self._forget()
        seen = self._seen.get(read_in)
        if seen is None:
            seen = self._seen[read_in] = set()
            self._tagged[read_in] = {}
            self._inflected[read_in] = set()
        tagged, inflected = self._tagged[read_in], self._inflected[read_in]
        new = words.difference(seen)
        if new:
            for word in new:
                found = [
                    language + TAG + lemma
                    for language in forms.languages_of(word, read_in)
                    for lemma in forms.lookup(word, language) or ()
                ]
                if found:
                    tagged[word] = tuple(found)
                    inflected.add(word)
                    for lemma in found:
                        self._forms.setdefault(lemma, set()).add(word)
            seen.update(new)
            self._remembered += len(new)
        lemmas: set[str] = set()
        for word in words.intersection(inflected):
            lemmas.update(tagged[word])
        return lemmas


def _post(postings: dict[str, Posting], entries: set[str], position: int, fresh: list[str] | None) -> None:
    """Post a position under each entry, listing in ``fresh`` the entries posted for the first time."""
    get = postings.get
    for entry in entries:
        found = get(entry)
        if found is None:
            postings[entry] = position
            if fresh is not None:
                fresh.append(entry)
        elif type(found) is int:
            postings[entry] = array("I", (found, position))
        else:
            found.append(position)  # type: ignore[union-attr]


def _alone(term: Term) -> bool:
    """Return whether the articles holding a term's words are exactly those it matches: one word or prefix in
    either field, or one word in the title."""
    return len(term.words) == 1 and (term.field is None or (term.field == TITLE and not term.prefix))
