"""Match an article against every watch rule and explain each hit with its terms and a marked snippet.

An article is tokenized once into a ``Document``: per field, the folded words, their character spans and a
positional index (word -> positions). Each rule is a tree from ``query.parse``; an inverted index of the
rules' anchor words (``index.RuleIndex``) picks the few rules the article's words can wake up, and only those
are evaluated against the document. A phrase lies within one field, never across title and text; ``NEAR``
pairs lie in one field too.

A ``Hit`` lists the positive terms that made the rule match as the article spells them (a NOT never adds
any), says which field holds the first of them (the title when both do) and carries a snippet of about 200
characters of that field around it, cut at words, with ``…`` where it is cut and each match in ``**``. A rule
that matches only through NOT gets no terms and the start of the text (or of the title) as its snippet.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from monitor.errors import QueryError
from monitor.matching.index import RuleIndex, viable
from monitor.matching.query import And, Near, Node, Not, Term, parse
from monitor.matching.text import fold_words

SNIPPET_WIDTH = 200
ELLIPSIS = "…"
MARK = "**"

# (field name, index of the first word, index after the last word)
Occurrence = tuple[str, int, int]


class Field:
    """The folded words of one article field, their spans in ``source`` and where each word occurs."""

    __slots__ = (
        "_ends",
        "_spans",
        "_starts",
        "name",
        "positions",
        "prefixes",
        "snippets",
        "source",
        "vocabulary",
        "words",
    )

    def __init__(
        self,
        name: str,
        source: str,
        words: list[str],
        positions: dict[str, list[int]],
        spans: Callable[[], tuple[list[int], list[int]]],
    ) -> None:
        self.name, self.source, self.words, self.positions = name, source, words, positions
        # The words' offsets in ``source``, worked out on first use (only a field that some rule matches needs them).
        self._spans = spans
        self._starts: list[int] | None = None
        # Filled on the first prefix lookup: the distinct words in order, and the positions found per prefix.
        self.vocabulary: list[str] = []
        self.prefixes: dict[str, list[int]] = {}
        # Snippets already cut from this field, by their marks: rules that hit the same words share one.
        self.snippets: dict[tuple[tuple[int, int], ...], str] = {}

    @classmethod
    def build(cls, name: str, source: str) -> Field:
        """Return the indexed field ``name`` holding ``source``."""
        words, positions, spans = fold_words(source)
        return cls(name, source, words, positions, spans)

    @property
    def starts(self) -> list[int]:
        """Return the offset in ``source`` at which each word starts."""
        return self.offsets()[0]

    @property
    def ends(self) -> list[int]:
        """Return the offset in ``source`` just after each word."""
        return self.offsets()[1]

    def offsets(self) -> tuple[list[int], list[int]]:
        """Return where each word starts and ends in ``source``, worked out on the first call."""
        if self._starts is None:
            self._starts, self._ends = self._spans()
        return self._starts, self._ends

    def prefix_positions(self, prefix: str) -> list[int]:
        """Return the sorted positions of the words that start with ``prefix``."""
        found = self.prefixes.get(prefix)
        if found is None:
            if not self.vocabulary:
                self.vocabulary.extend(sorted(self.positions))
            vocabulary, positions = self.vocabulary, self.positions
            low = bisect_left(vocabulary, prefix)
            high = bisect_left(vocabulary, prefix + "\U0010ffff", low)
            found = sorted(p for word in vocabulary[low:high] for p in positions[word])
            self.prefixes[prefix] = found
        return found


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    """One article as the matcher sees it: an indexed title and an indexed text."""

    title: Field
    text: Field

    @classmethod
    def build(cls, title: str = "", text: str = "") -> Document:
        """Return the document of an article, tokenized and folded once."""
        return cls(Field.build("title", title), Field.build("text", text))

    def fields(self, scope: str | None) -> tuple[Field, ...]:
        """Return the fields a term scoped to ``scope`` (``None`` for both) looks at."""
        if scope is None:
            return (self.title, self.text)
        return (self.title,) if scope == "title" else (self.text,)

    def field(self, name: str) -> Field:
        """Return the field called ``name``."""
        return self.title if name == "title" else self.text


class Hit(NamedTuple):
    """One rule matching one article: the terms as written in the article, and where.

    A named tuple: an article can have dozens of hits, and building one costs a fraction of a frozen dataclass.
    """

    rule: str
    matched: tuple[str, ...]
    field: str
    snippet: str


class Matcher:
    """Compile watch rules once, then match articles against all of them."""

    def __init__(self, rules: Mapping[str, str | Node]) -> None:
        self._rules = {name: _compile(name, rule) for name, rule in rules.items()}
        self._names = tuple(self._rules)
        self._trees = tuple(self._rules.values())
        self._index = RuleIndex(self._trees)

    @property
    def rules(self) -> Mapping[str, Node]:
        """Return the compiled tree of every rule, by name, in rule order."""
        return MappingProxyType(self._rules)

    def match(self, title: str = "", text: str = "") -> list[Hit]:
        """Return the hits of an article, in rule order."""
        return self.match_document(Document.build(title, text))

    def match_document(self, document: Document) -> list[Hit]:
        """Return the hits of an already built document, in rule order, evaluating only candidate rules."""
        words = document.title.positions.keys() | document.text.positions.keys()
        required, trees = self._index.required, self._trees
        found = []
        for rule in self._index.candidates(words):
            need = required[rule]
            if not (need <= words if need.__class__ is frozenset else viable(need, words)):
                continue
            occurrences = evaluate(trees[rule], document)
            if occurrences is not None:
                found.append((rule, occurrences))
        found.sort(key=lambda pair: pair[0])
        return [_hit(self._names[rule], occurrences, document) for rule, occurrences in found]


def match_every_rule(rules: Mapping[str, Node], document: Document) -> list[Hit]:
    """Return the hits of a document by evaluating every rule: the reference the index must agree with."""
    hits = []
    for name, node in rules.items():
        found = evaluate(node, document)
        if found is not None:
            hits.append(_hit(name, found, document))
    return hits


def _compile(name: str, rule: str | Node) -> Node:
    """Return the tree of one rule; a parse error names the rule."""
    if not isinstance(rule, str):
        return rule
    try:
        return parse(rule)
    except QueryError as err:
        error = QueryError(f"rule '{name}': {err.reason}", err.position, err.query)
        error.args = (f"rule '{name}': {err.reason} at position {err.position}",)
        raise error from err


def evaluate(node: Node, document: Document) -> list[Occurrence] | None:
    """Return the occurrences of positive terms that make ``node`` match, or ``None`` if it does not."""
    if isinstance(node, Term):
        return _term_occurrences(node, document) or None
    if isinstance(node, Near):
        return _near_occurrences(node, document) or None
    if isinstance(node, Not):
        return None if evaluate(node.child, document) is not None else []
    found: list[Occurrence] = []
    if isinstance(node, And):
        for child in node.children:
            part = evaluate(child, document)
            if part is None:
                return None
            found.extend(part)
        return found
    matched = False
    for child in node.children:
        part = evaluate(child, document)
        if part is not None:
            matched = True
            found.extend(part)
    return found if matched else None


def starts_of(term: Term, field: Field) -> list[int]:
    """Return the sorted word positions at which ``term`` begins in ``field``."""
    words, last = term.words, term.words[-1]
    if len(words) == 1:
        if not term.prefix:
            return field.positions.get(last, [])
        return field.prefix_positions(last)
    first = field.positions.get(words[0])
    if first is None:
        return []
    size, tokens = len(words), field.words
    found = []
    for p in first:
        if p + size > len(tokens):
            break
        if any(tokens[p + i] != words[i] for i in range(1, size - 1)):
            continue
        end = tokens[p + size - 1]
        if end.startswith(last) if term.prefix else end == last:
            found.append(p)
    return found


def _term_occurrences(term: Term, document: Document) -> list[Occurrence]:
    size = len(term.words)
    return [(field.name, p, p + size) for field in document.fields(term.field) for p in starts_of(term, field)]


def _near_occurrences(near: Near, document: Document) -> list[Occurrence]:
    left_size, right_size, gap = len(near.left.words), len(near.right.words), near.distance
    found: list[Occurrence] = []
    for field in document.fields(near.left.field):
        lefts = starts_of(near.left, field)
        rights = starts_of(near.right, field) if lefts else []
        for left in lefts:
            end = left + left_size
            low = bisect_left(rights, left - gap - right_size)
            high = bisect_right(rights, end + gap)
            for right in rights[low:high]:
                if right + right_size <= left or right >= end:
                    found.append((field.name, left, end))
                    found.append((field.name, right, right + right_size))
    return found


def _hit(rule: str, occurrences: list[Occurrence], document: Document) -> Hit:
    """Return the hit of ``rule`` from the occurrences of its positive terms."""
    if not occurrences:
        field = document.text if document.text.source.strip() else document.title
        return Hit(rule, (), field.name, _cached_snippet(field, ()))
    title, text = document.title, document.text
    in_title: set[tuple[int, int]] = set()
    in_text: set[tuple[int, int]] = set()
    for name, first, after in occurrences:
        if name == "title":
            in_title.add((first, after))
        else:
            in_text.add((first, after))
    title_marks, text_marks = _marks(title, in_title), _marks(text, in_text)
    matched = dict.fromkeys(
        [_spelling(title.source, start, end) for start, end in title_marks]
        + [_spelling(text.source, start, end) for start, end in text_marks]
    )
    field, marks = (title, title_marks) if title_marks else (text, text_marks)
    return Hit(rule, tuple(matched), field.name, _cached_snippet(field, marks))


def _marks(field: Field, spans: set[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Return the character spans of these word spans of ``field``, in order."""
    if not spans:
        return ()
    starts, ends = field.offsets()
    return tuple(sorted([(starts[first], ends[after - 1]) for first, after in spans]))


def _spelling(source: str, start: int, end: int) -> str:
    """Return the words between two offsets as the article writes them, whitespace collapsed."""
    return " ".join(source[start:end].split())


def _cached_snippet(field: Field, marks: tuple[tuple[int, int], ...]) -> str:
    cut = field.snippets.get(marks)
    if cut is None:
        cut = field.snippets[marks] = snippet(field, list(marks))
    return cut


def snippet(field: Field, marks: list[tuple[int, int]], width: int = SNIPPET_WIDTH) -> str:
    """Return about ``width`` characters of ``field`` around the first mark, each mark wrapped in ``**``."""
    source = field.source
    low, high, before, after = _cut(field, marks[0] if marks else (0, 0), width)
    pieces, cursor = [before], low
    for start, end in _merge([m for m in marks if low <= m[0] and m[1] <= high]):
        pieces += [source[cursor:start], MARK, source[start:end], MARK]
        cursor = end
    pieces.append(source[cursor:high])
    return " ".join("".join(pieces).split()) + after


def _cut(field: Field, mark: tuple[int, int], width: int) -> tuple[int, int, str, str]:
    """Return the span of the snippet around ``mark``, cut at words, and what goes before and after it."""
    source, (starts, ends) = field.source, field.offsets()
    low, high = _window(mark, len(source), width)
    first, after = bisect_left(starts, low), bisect_right(ends, high)
    low = starts[first] if first > 0 else 0
    if after > first:
        high = ends[after - 1] if after < len(ends) else len(source)
    low, high = _widen(source, low, high)
    return low, high, ELLIPSIS if first > 0 else "", ELLIPSIS if after < len(ends) else ""


def _window(mark: tuple[int, int], size: int, width: int) -> tuple[int, int]:
    """Return a span of about ``width`` characters of a text of ``size`` that centres ``mark``."""
    start, end = mark
    if end - start >= width:
        return start, end
    low = max(0, start - (width - (end - start)) // 2)
    high = min(size, low + width)
    return max(0, high - width), high


def _widen(source: str, low: int, high: int) -> tuple[int, int]:
    """Return the span grown over up to 3 punctuation characters that open or close it, such as quotes."""
    before = low
    while before > 0 and low - before < 3 and _is_punctuation(source[before - 1]):
        before -= 1
    if before == 0 or source[before - 1].isspace():
        low = before
    after = high
    while after < len(source) and after - high < 3 and _is_punctuation(source[after]):
        after += 1
    if after == len(source) or source[after].isspace():
        high = after
    return low, high


def _is_punctuation(c: str) -> bool:
    return not (c.isspace() or c.isalnum() or unicodedata.category(c).startswith("M"))


def _merge(marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the marks sorted, with overlapping or touching ones merged into one."""
    if len(marks) == 1:
        return marks
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
