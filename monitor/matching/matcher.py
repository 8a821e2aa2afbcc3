"""Match an article against every watch rule and explain each hit with its terms and a marked snippet.

An article is tokenized and folded once into a ``Document`` (``document.py``): per field, the folded words,
their character spans (worked out only when a rule matches) and where each word the rules use occurs. Each rule
is a tree from ``query.parse``, compiled into one function (``compiled.py``); an index of the rules' anchor
words (``index.RuleIndex``) picks the few rules the article's words can wake up, and only those are evaluated.
A phrase lies within one field, never across title and text; ``NEAR`` pairs lie in one field too.

A ``Hit`` (``hit.py``) names the rule at once and works out the terms and the snippet that explain it when first
asked for: most hits never become alerts. A rule made only of whole words (one word, an ``AND`` or an ``OR`` of
words) is decided by the index alone (``decide.py``), without evaluating it.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from monitor.errors import QueryError
from monitor.matching.compiled import MAX_OCCURRENCES, compile_tree, starts_of
from monitor.matching.decide import Decision, decided, decision
from monitor.matching.document import Document, Occurrence
from monitor.matching.forms import FormIndex, Forms
from monitor.matching.forms import default as default_forms
from monitor.matching.hit import Hit
from monitor.matching.index import RuleIndex
from monitor.matching.query import And, Near, Node, Not, Term, parse

__all__ = ["Document", "Hit", "Matcher", "evaluate", "match_every_rule"]


class Matcher:
    """Compile watch rules once, then match articles against all of them."""

    def __init__(self, rules: Mapping[str, str | Node], forms: Forms | None = None) -> None:
        """Compile the rules; ``forms`` are the word-form tables (the installed ones by default; empty: none)."""
        with _collector_paused():
            self._rules = {name: _compile(name, rule) for name, rule in rules.items()}
            self._names = tuple(self._rules)
            trees = tuple(self._rules.values())
            self._evaluators = tuple(map(compile_tree, trees))
            self._decisions: tuple[Decision | None, ...] = tuple(map(decision, trees))
            self._index = RuleIndex(trees)
        tables = default_forms() if forms is None else forms
        if tables and self._index.inflected:
            self._index.forms = FormIndex(self._index.inflected, tables)

    @property
    def rules(self) -> Mapping[str, Node]:
        """Return the compiled tree of every rule, by name, in rule order."""
        return MappingProxyType(self._rules)

    def match(self, title: str = "", text: str = "", language: str | None = None) -> list[Hit]:
        """Return the hits of an article (in ``language``, when known), in rule order."""
        return self.match_document(self.document(title, text, language))

    def document(self, title: str = "", text: str = "", language: str | None = None) -> Document:
        """Return an article's document, with the rules it may match, listing the positions of only the words
        the rules use (and of their other forms in the article's ``language``)."""
        return Document.build(title, text, self._index, language)

    def match_document(self, document: Document) -> list[Hit]:
        """Return the hits of an already built document, in rule order, evaluating only candidate rules."""
        evaluators, decisions, names = self._evaluators, self._decisions, self._names
        found = []
        candidates = document.candidates
        if candidates is None or document.index is not self._index:
            # A document built without this index: its words say nothing of ``=word`` keys or of other forms,
            # so every candidate is evaluated.
            candidates = self._index.candidates(document.words)
            document.title.prefixed = document.text.prefixed = candidates.prefixed
            decisions = (None,) * len(evaluators)
        present = candidates.present
        for rule in candidates.rules:
            ways = decisions[rule]
            if ways is not None:
                if decided(ways, present):
                    found.append(Hit(names[rule], document=document, evaluator=evaluators[rule]))
                continue
            occurrences = evaluators[rule](document)
            if occurrences is not None:
                found.append(Hit(names[rule], document=document, occurrences=occurrences))
        return found


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: compiling many rules only allocates, and each of its passes would
    walk every object made so far, so that compiling 100,000 rules took twice as long."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def match_every_rule(rules: Mapping[str, Node], document: Document) -> list[Hit]:
    """Return the hits of a document by evaluating every rule: the reference the index must agree with."""
    hits = []
    for name, node in rules.items():
        found = evaluate(node, document)
        if found is not None:
            hits.append(Hit(name, document=document, occurrences=found))
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


def _term_occurrences(term: Term, document: Document) -> list[Occurrence]:
    size, fields = len(term.words), document.fields(term.field)  # a term's occurrence spans one word per word
    return [(field, p, p + size) for field in fields for p in starts_of(term, field)[:MAX_OCCURRENCES]]


def _near_occurrences(near: Near, document: Document) -> list[Occurrence]:
    left_size, right_size, gap = len(near.left.words), len(near.right.words), near.distance
    found: list[Occurrence] = []
    for field in document.fields(near.left.field):
        lefts = starts_of(near.left, field)
        rights = starts_of(near.right, field) if lefts else []
        pairs = 0
        for left in lefts:
            end = left + left_size
            low = bisect_left(rights, left - gap - right_size)
            high = bisect_right(rights, end + gap)
            for right in rights[low:high]:
                if (right + right_size <= left or right >= end) and pairs < MAX_OCCURRENCES:
                    found.append((field, left, end))
                    found.append((field, right, right + right_size))
                    pairs += 1  # the first pairs only, those the compiled rule stops at
    return found
