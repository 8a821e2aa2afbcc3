"""The systems the matcher is measured against, each given the rules it can express, each from raw text to hits.

- ``AhoCorasick``: the straightforward fast way, in about 50 lines: fold the text (case, accents), make its words
  single-spaced, find every rule word and phrase in one pass of a pyahocorasick automaton (each pattern with a
  space on either side, so that it matches whole words), then evaluate the rules that a found pattern wakes up
  (and those made of NOT alone) over the set of patterns found. Words, phrases, AND, OR, NOT.
- ``Perq``: perq, an embedded percolator (saved queries matched against documents), given each article's words
  folded the same way. Its queries are ANDs of ORs of words.

Both return, per article, the sorted positions of the rules that match, as the bench compares them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import ahocorasick  # type: ignore[import-not-found]
import perq  # type: ignore[import-not-found]
from matchcorpus import Node

_MARKS = re.compile(r"[\u0300-\u036f]+")  # the combining accents of the Latin, Greek and Cyrillic letters
_SEPARATORS = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Return ``text`` case folded and without accents, as the corpus's scripts need."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))


def spaced(text: str) -> str:
    """Return the folded words of ``text``, one space between them and one on either side."""
    return f" {_SEPARATORS.sub(' ', fold(text)).strip()} "


Check = Callable[[set[int]], bool]


class AhoCorasick:
    """Rules of words, phrases, AND, OR and NOT matched with one automaton pass and a boolean evaluation."""

    def __init__(self, rules: Sequence[Node]) -> None:
        self._patterns: dict[str, int] = {}
        self._woken: list[list[int]] = []  # by pattern: the rules it wakes up
        self._always: list[int] = []  # rules that may match without any of their patterns
        self._checks: list[Check] = []
        for number, rule in enumerate(rules):
            patterns: set[int] = set()
            check = self._compile(rule, patterns)
            self._checks.append(check)
            if check(set()):  # it matches an article without any of its words, as NOT alone does
                self._always.append(number)
            for pattern in patterns:
                self._woken[pattern].append(number)
        self._automaton = ahocorasick.Automaton()
        for pattern, number in self._patterns.items():
            self._automaton.add_word(pattern, number)
        self._automaton.make_automaton()

    def _compile(self, node: Node, patterns: set[int]) -> Check:
        kind, value = node
        if kind in ("word", "phrase"):
            words = (value,) if kind == "word" else value
            pattern = f" {' '.join(fold(str(word)) for word in words)} "
            number = self._patterns.setdefault(pattern, len(self._patterns))
            if number == len(self._woken):
                self._woken.append([])
            patterns.add(number)
            return lambda found: number in found
        if kind == "not":
            child = self._compile(value, patterns)  # type: ignore[arg-type]
            return lambda found: not child(found)
        children = [self._compile(child, patterns) for child in value]  # type: ignore[union-attr]
        if kind == "and":
            return lambda found: all(check(found) for check in children)
        return lambda found: any(check(found) for check in children)

    def match(self, title: str, text: str) -> list[int]:
        """Return the rules an article matches, in order."""
        found = {number for _, number in self._automaton.iter(spaced(title))}
        found.update(number for _, number in self._automaton.iter(spaced(text)))
        candidates = set(self._always)
        for number in found:
            candidates.update(self._woken[number])
        checks = self._checks
        return sorted(rule for rule in candidates if checks[rule](found))


class Perq:
    """Rules that are ANDs of ORs of words, matched by perq."""

    def __init__(self, rules: Sequence[Node]) -> None:
        self._store = perq.MemoryStore()
        perq.index((perq.Query(number, _clauses(rule)) for number, rule in enumerate(rules)), self._store)
        self._matcher = perq.QueryMatcher(self._store)

    def match(self, title: str, text: str) -> list[int]:
        """Return the rules an article matches, in order."""
        return list(self._matcher.matches(perq.Document.from_text(f"{fold(title)}\n{fold(text)}")))


def _clauses(node: Node) -> list[tuple[str, ...]]:
    """Return a rule as perq's AND of OR clauses of folded words."""
    kind, value = node
    if kind == "word":
        return [(fold(str(value)),)]
    if kind == "or":
        return [tuple(fold(str(child[1])) for child in value)]  # type: ignore[union-attr]
    assert kind == "and", f"perq cannot express {node}"
    return [clause for child in value for clause in _clauses(child)]  # type: ignore[union-attr]
