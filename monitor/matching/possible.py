"""Tell cheaply that an article cannot match a rule, from its folded words alone, before the matcher reads it.

The word index (``wordindex.py``) knows which articles hold a rule's words, not where: for a phrase, ``NEAR`` or
a field, the articles it keeps must still be matched, and matching an article costs far more than folding its
words. ``Possible(tree, index)`` answers whether an article *may* match, and says no only when the matcher would:

- a rule's word may be any word the index says it may find (``WordIndex.spellings``: the word, its keys in every
  tabled language, and every indexed word that is a form of one of those keys in some language), a superset of
  the words it finds in the article's own languages; ``=word`` only the word; a prefix any word starting with it;
- a term needs, in a field it looks at, its words one after the other as so described; ``NEAR`` needs its two
  terms so found in one field within its distance, in either order, not overlapping; ``AND`` needs every part
  that is not a ``NOT``, ``OR`` any part; a ``NOT`` may always match.

Each step asks for no more than what the matcher asks for, with more words allowed: an article the matcher
matches is always possible.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from contextlib import suppress

from monitor.matching.query import And, Near, Node, Not, Or, Term, keyed
from monitor.matching.text import fold_words
from monitor.matching.wordindex import WordIndex

# The folded words of the title, then of the text.
Fields = tuple[list[str], list[str]]
Check = Callable[[Fields], bool]


class Possible:
    """Whether an article may match one rule tree, from its folded words."""

    def __init__(self, tree: Node, index: WordIndex) -> None:
        self._check = _compile(tree, index)

    def __call__(self, title: str, text: str) -> bool:
        """Return whether an article of this title and text may match the rule."""
        return self._check((fold_words(title)[0], fold_words(text)[0]))


def _compile(node: Node, index: WordIndex) -> Check:
    """Return the check of a tree."""
    if isinstance(node, Term):
        scoped = _scope(node)
        if len(node.words) == 1 and not node.prefix:
            spellings = index.spellings(keyed(node)[0])
            return lambda fields: any(not spellings.isdisjoint(fields[at]) for at in scoped)
        starts = _starts(node, index)
        return lambda fields: any(starts(fields[at]) for at in scoped)
    if isinstance(node, Near):
        return _near(node, index)
    if isinstance(node, Not):
        return lambda fields: True
    parts = [_compile(child, index) for child in node.children if not isinstance(child, Not)]
    if isinstance(node, And):
        return lambda fields: all(part(fields) for part in parts)
    assert isinstance(node, Or)
    if len(parts) < len(node.children):
        return lambda fields: True
    return lambda fields: any(part(fields) for part in parts)


def _scope(term: Term) -> tuple[int, ...]:
    """Return which fields a term looks at: 0 for the title, 1 for the text."""
    return (0, 1) if term.field is None else ((0,) if term.field == "title" else (1,))


def _starts(term: Term, index: WordIndex) -> Callable[[list[str]], list[int]]:
    """Return the function giving where a term may begin among a field's words."""
    words = keyed(term)
    whole = words[:-1] if term.prefix else words
    allowed = [index.spellings(word) for word in whole]
    prefix = words[-1] if term.prefix else None
    size = len(term.words)

    def fits(word: str, at: int) -> bool:
        return word.startswith(prefix) if at == len(allowed) and prefix is not None else word in allowed[at]

    def starts(tokens: list[str]) -> list[int]:
        if not allowed:  # a prefix alone
            return [position for position, token in enumerate(tokens) if token.startswith(words[-1])]
        if any(spellings.isdisjoint(tokens) for spellings in allowed):
            return []
        last = len(tokens) - size
        found = []
        for position in _positions(tokens, allowed[0]):
            if position > last:
                break
            if all(fits(tokens[position + at], at) for at in range(1, size)):
                found.append(position)
        return found

    return starts


def _positions(tokens: list[str], spellings: frozenset[str]) -> list[int]:
    """Return, in order, where any of the spellings lies among the words."""
    found: list[int] = []
    for word in spellings.intersection(tokens):
        at = -1
        with suppress(ValueError):
            while True:
                at = tokens.index(word, at + 1)
                found.append(at)
    found.sort()
    return found


def _near(near: Near, index: WordIndex) -> Check:
    left_starts, right_starts = _starts(near.left, index), _starts(near.right, index)
    left_size, right_size, gap = len(near.left.words), len(near.right.words), near.distance
    scoped = _scope(near.left)

    def within(fields: Fields) -> bool:
        for at in scoped:
            lefts = left_starts(fields[at])
            rights = right_starts(fields[at]) if lefts else []
            for left in lefts:
                end = left + left_size
                for right in rights[bisect_left(rights, left - gap - right_size) : bisect_right(rights, end + gap)]:
                    if right + right_size <= left or right >= end:
                        return True
        return False

    return within
