"""Turn a rule tree into one function of a document, so that matching an article walks no tree.

``compile_tree(node)`` returns a function that takes a ``Document`` and returns the occurrences of the
positive terms that make the rule match, or ``None`` when it does not match: what ``matcher.evaluate`` gives
for the same tree, which the tests check on random rules and texts. The functions are closures over each
node's words, with the commonest shapes (one word in either field, and ``AND`` or ``OR`` of two) written out.

Each term lists at most MAX_OCCURRENCES occurrences per field, and each ``NEAR`` at most as many pairs: whether
a rule matches never depends on it, only how many of its spellings a hit may list from a very long text. It
bounds the work of a ``NEAR`` whatever the text: two common words within 100 words of each other would
otherwise make pairs by the million.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

from monitor.matching.document import Document, Field, Occurrence
from monitor.matching.query import And, Near, Node, Not, Term, keyed

Evaluator = Callable[[Document], "list[Occurrence] | None"]
MAX_OCCURRENCES = 1000


def compile_tree(node: Node) -> Evaluator:
    """Return the function that evaluates ``node`` on a document."""
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Near):
        return _near(node)
    if isinstance(node, Not):
        return _not(compile_tree(node.child))
    # Positive children first: a NOT beside them is only worth testing once they all match.
    children = sorted(node.children, key=lambda child: isinstance(child, Not))
    evaluators = tuple(compile_tree(child) for child in children)
    return _and(evaluators) if isinstance(node, And) else _or(evaluators)


def starts_of(term: Term, field: Field) -> list[int]:
    """Return the sorted word positions at which ``term`` begins in ``field``."""
    words = keyed(term)
    last = words[-1]
    if len(words) == 1:
        if not term.prefix:
            return field.positions.get(last, [])
        return field.prefix_positions(last)
    first = field.positions.get(words[0])
    if not first:
        return []
    size, tokens = len(words), field.words
    found = []
    for p in first:
        if p + size > len(tokens):
            break
        if any(not _holds(field, words[i], p + i) for i in range(1, size - 1)):
            continue
        if tokens[p + size - 1].startswith(last) if term.prefix else _holds(field, last, p + size - 1):
            found.append(p)
    return found


def _holds(field: Field, word: str, position: int) -> bool:
    """Return whether ``word`` (or one of its forms, or ``=word`` exactly) lies at ``position`` of ``field``."""
    found = field.positions.get(word)
    if not found:
        return False
    at = bisect_left(found, position)
    return at < len(found) and found[at] == position


def _term(term: Term) -> Evaluator:
    if term.prefix:
        return _prefixed(term)
    words = keyed(term)
    if len(words) == 1:
        return _word(words[0], term.field)
    return _phrase(list(words), term.field)


def _prefixed(term: Term) -> Evaluator:
    size, scope = len(term.words), term.field

    def prefixed(document: Document) -> list[Occurrence] | None:
        found = [
            (field, p, p + size) for field in document.fields(scope) for p in starts_of(term, field)[:MAX_OCCURRENCES]
        ]
        return found or None

    return prefixed


def _phrase(words: list[str], scope: str | None) -> Evaluator:
    """Return the evaluator of a phrase, which looks for it around each occurrence of its longest word.

    A phrase's words are checked by position, not by spelling: each may lie there in another of its forms.
    """
    size = len(words)
    at = max(range(size), key=lambda i: len(words[i]))
    anchor = words[at]
    others = [(i, word) for i, word in enumerate(words) if i != at]

    def phrase(document: Document) -> list[Occurrence] | None:
        found: list[Occurrence] = []
        for field in document.fields(scope):
            seen = field.positions.get(anchor)
            if seen:
                length, room = len(field.words), len(found) + MAX_OCCURRENCES
                for p in seen:
                    start = p - at
                    if start < 0 or start + size > length:
                        continue
                    if all(_holds(field, word, start + i) for i, word in others):
                        found.append((field, start, start + size))
                        if len(found) == room:
                            break
        return found or None

    return phrase


def _word(word: str, scope: str | None) -> Evaluator:
    if scope is not None:

        def scoped_word(document: Document) -> list[Occurrence] | None:
            field = document.title if scope == "title" else document.text
            found = field.positions.get(word)
            return [(field, p, p + 1) for p in found[:MAX_OCCURRENCES]] if found else None

        return scoped_word

    def either_word(document: Document) -> list[Occurrence] | None:
        title, text = document.title, document.text
        in_title, in_text = title.positions.get(word), text.positions.get(word)
        if in_title:
            found = [(title, p, p + 1) for p in in_title[:MAX_OCCURRENCES]]
            if in_text:
                found += [(text, p, p + 1) for p in in_text[:MAX_OCCURRENCES]]
            return found
        return [(text, p, p + 1) for p in in_text[:MAX_OCCURRENCES]] if in_text else None

    return either_word


def _near(near: Near) -> Evaluator:
    left_term, right_term = near.left, near.right
    left_size, right_size, gap, scope = len(left_term.words), len(right_term.words), near.distance, left_term.field

    def within(document: Document) -> list[Occurrence] | None:
        found: list[Occurrence] = []
        for field in document.fields(scope):
            lefts = starts_of(left_term, field)
            rights = starts_of(right_term, field) if lefts else []
            if not rights:
                continue
            room = len(found) + 2 * MAX_OCCURRENCES
            for left in lefts:
                end = left + left_size
                low = bisect_left(rights, left - gap - right_size)
                high = bisect_right(rights, end + gap)
                for right in rights[low:high]:
                    if right + right_size <= left or right >= end:
                        found.append((field, left, end))
                        found.append((field, right, right + right_size))
                        if len(found) == room:
                            break
                if len(found) == room:
                    break
        return found or None

    return within


def _not(child: Evaluator) -> Evaluator:
    def without(document: Document) -> list[Occurrence] | None:
        return None if child(document) is not None else []

    return without


def _and(children: tuple[Evaluator, ...]) -> Evaluator:
    if len(children) == 2:
        first, second = children

        def both(document: Document) -> list[Occurrence] | None:
            found = first(document)
            if found is None:
                return None
            more = second(document)
            return None if more is None else found + more

        return both

    def every(document: Document) -> list[Occurrence] | None:
        found: list[Occurrence] = []
        for child in children:
            part = child(document)
            if part is None:
                return None
            found += part
        return found

    return every


def _or(children: tuple[Evaluator, ...]) -> Evaluator:
    def some(document: Document) -> list[Occurrence] | None:
        found: list[Occurrence] | None = None
        for child in children:
            part = child(document)
            if part is not None:
                found = part if found is None else found + part
        return found

    return some
