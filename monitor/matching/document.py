"""An article as the matcher sees it: per field, the folded words, where they lie and where each one occurs.

A field is tokenized and folded once (``text.fold_words``). Where each word occurs is listed for every word,
or, when the matcher builds the document, only for the words that some rule uses: the others can never be
asked for, and skipping them is most of the saving on a long text. Those positions are listed when first asked
for, as the rules that the index decides alone need none (``decide.py``). Words reached through a prefix are
looked up on demand. The words' character offsets in the original text are worked out on first use, since only a
field that some rule matches needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from contextlib import suppress

from monitor.matching.index import Candidates, RuleIndex
from monitor.matching.query import EXACT
from monitor.matching.text import fold_words, positions_of

# (the field, index of the first word, index after the last word)
Occurrence = tuple["Field", int, int]


class Field:
    """The folded words of one article field, their spans in ``source`` and where each word occurs."""

    __slots__ = (
        "_ends",
        "_gathered",
        "_keep",
        "_positions",
        "_single_spaced",
        "_spans",
        "_starts",
        "name",
        "prefixed",
        "prefixes",
        "snippets",
        "source",
        "words",
    )

    def __init__(
        self,
        name: str,
        source: str,
        words: list[str],
        positions: dict[str, list[int]] | None,
        spans: Callable[[], tuple[list[int], list[int]]],
        keep: Set[str] | None = None,
        gathered: dict[str, list[str]] | None = None,
    ) -> None:
        """Make a field of its ``words``, with their ``positions``, or those of the words in ``keep`` listed when
        first asked for (each key of ``gathered`` then lists the positions of its words)."""
        self.name, self.source, self.words, self._positions = name, source, words, positions
        self._keep, self._gathered = keep, gathered
        self._spans = spans
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._single_spaced: bool | None = None
        # The article's words that some rule's prefix reaches, when the matcher knows them, and the positions
        # found per prefix.
        self.prefixed: list[str] | None = None
        self.prefixes: dict[str, list[int]] = {}
        # Snippets already cut from this field (text and highlights), by their marks: rules that hit the same words
        # share one.
        self.snippets: dict[tuple[tuple[int, int], ...], tuple[str, tuple[tuple[int, int], ...]]] = {}

    @property
    def positions(self) -> dict[str, list[int]]:
        """Return where each word occurs, by word, listed on first use."""
        found = self._positions
        if found is None:
            found = self._positions = positions_of(self.words, self._keep)
            if self._gathered:
                _gather(found, self._gathered)
        return found

    def offsets(self) -> tuple[list[int], list[int]]:
        """Return where each word starts and ends in ``source``, worked out on the first call."""
        if not self._starts and self.words:
            self._starts, self._ends = self._spans()
        return self._starts, self._ends

    @property
    def single_spaced(self) -> bool:
        """Return whether ``source`` holds no whitespace but single spaces between words."""
        if self._single_spaced is None:
            source = self.source
            # Any whitespace but a space is not printable.
            self._single_spaced = "  " not in source and source.isprintable() and source == source.strip()
        return self._single_spaced

    def prefix_positions(self, prefix: str) -> list[int]:
        """Return the sorted positions of the words that start with ``prefix``."""
        found = self.prefixes.get(prefix)
        if found is None:
            if self.prefixed is not None:
                words = [word for word in self.prefixed if word.startswith(prefix)]
            else:
                words = [word for word in set(self.words) if word.startswith(prefix)]
            found = self.prefixes[prefix] = sorted(p for word in words for p in self.positions_of(word))
        return found

    def positions_of(self, word: str) -> list[int]:
        """Return where ``word`` occurs, listing it now if the field was built without it."""
        found = self.positions.get(word)
        if found is None:
            found = self.positions[word] = []
            words, at = self.words, -1
            with suppress(ValueError):
                while True:
                    at = words.index(word, at + 1)
                    found.append(at)
        return found


class Document:
    """One article as the matcher sees it: an indexed title, an indexed text, and their distinct words.

    A document built for a rule index also holds what the index found in it (``candidates``).
    """

    # A plain class with slots, not a dataclass, so that the compiled module builds it without Python code.
    __slots__ = ("candidates", "index", "text", "title", "words")

    def __init__(
        self,
        title: Field,
        text: Field,
        words: set[str],
        index: RuleIndex | None = None,
        candidates: Candidates | None = None,
    ) -> None:
        self.title, self.text, self.words, self.index, self.candidates = title, text, words, index, candidates

    @classmethod
    def build(
        cls, title: str = "", text: str = "", index: RuleIndex | None = None, language: str | None = None
    ) -> Document:
        """Return the document of an article, tokenized and folded once.

        With ``index``, positions are listed only for the words its rules use or reach through a prefix; a rule's
        word lists the positions of its other forms too (in the article's ``language``, when known), and
        ``=word`` those of the word exactly.
        """
        title_words, title_spans = fold_words(title)
        text_words, text_spans = fold_words(text)
        words = set(title_words)
        words.update(text_words)
        if index is None:
            title_positions, text_positions = positions_of(title_words), positions_of(text_words)
            for positions in (title_positions, text_positions):
                positions.update({EXACT + word: found for word, found in list(positions.items())})
            return cls(
                Field(TITLE, title, title_words, title_positions, title_spans),
                Field(TEXT, text, text_words, text_positions, text_spans),
                words,
            )
        # The keys to look up beyond the article's words, with the words whose positions each gathers.
        extra: dict[str, list[str]] = {}
        if index.exact:
            for word in words:
                key = EXACT + word
                if key in index.exact:
                    extra[key] = [word]
        if index.forms is not None:
            for target, forms in index.forms.aliases(words, language).items():
                extra[target] = [target, *forms]
        candidates = index.candidates(words.union(extra) if extra else words)
        keep = candidates.present.union(candidates.prefixed) if candidates.prefixed else candidates.present
        gathered = {key: sources for key, sources in extra.items() if key in candidates.present}
        if gathered:
            keep = keep.union(word for sources in gathered.values() for word in sources)
        document = cls(
            Field(TITLE, title, title_words, None, title_spans, keep, gathered),
            Field(TEXT, text, text_words, None, text_spans, keep, gathered),
            words,
            index,
            candidates,
        )
        document.title.prefixed = document.text.prefixed = candidates.prefixed
        return document

    def fields(self, scope: str | None) -> tuple[Field, ...]:
        """Return the fields a term scoped to ``scope`` (``None`` for both) looks at."""
        if scope is None:
            return (self.title, self.text)
        return (self.title,) if scope == TITLE else (self.text,)


def _gather(positions: dict[str, list[int]], gathered: dict[str, list[str]]) -> None:
    """Give each key the sorted positions of its words, from the words' own positions as the field lists them."""
    merged: dict[str, list[int]] = {}
    for key, sources in gathered.items():
        found: list[int] = []
        for word in sources:
            found.extend(positions.get(word, ()))
        if found:
            merged[key] = sorted(set(found)) if len(sources) > 1 else found
    positions.update(merged)


TITLE = "title"
TEXT = "text"
