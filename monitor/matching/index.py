"""An inverted index of every rule's anchor words, so an article is checked only against rules it could match.

Each rule gets a set of anchors such that the rule cannot match an article holding none of them. An anchor is
a pair of words, a word, or a word prefix. The rule's required words come first: for each way it can match
(each branch of an ``OR``), the whole words it cannot match without; a way of two or more words anchors on
its two longest (long words are rarer, so fewer articles wake the rule up, and an article must hold both),
a way of one word on that word. When some way requires no whole word (a prefix, or a ``NOT``), the tree
decides: a term anchors on its longest whole word or else on its prefix, ``OR`` needs the anchors of all its
branches, ``AND`` and ``NEAR`` only those of their cheapest positive part, and ``NOT`` gives none. A rule left
without anchors (one made only of ``NOT``) can match an article without any given word: it is kept on a short
list that every article is checked against, instead of scanning all rules.

Looking an article up costs one probe of each of its distinct words in a table of every word the rules use
(``wordtable.WordTable``), which gives the rules each word wakes up alone and the pairs it starts, and, when
some rules use prefixes, a probe of each other word's first 3 (or 5) characters among the prefixes' heads
(remembered per word). The woken rules are then evaluated in full; the evaluation of a rule whose other
words are missing stops at the first of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import itemgetter
from typing import NamedTuple

from monitor.matching.forms import FormIndex
from monitor.matching.query import EXACT, MIN_PREFIX, And, Near, Node, Not, Or, Term, keyed, terms
from monitor.matching.wordtable import WordSpec, WordTable

# (folded word, is a prefix)
Anchor = tuple[str, bool]
MAX_ALTERNATIVES = 16
LONG_HEAD = 5
# The first 3 or 5 characters of a word, which file prefixes.
_HEADS = {size: itemgetter(slice(size)) for size in (MIN_PREFIX, LONG_HEAD)}


class RuleIndex:
    """Map words and prefixes to the rules (by position) they may wake up."""

    def __init__(self, trees: Sequence[Node]) -> None:
        exact: dict[str, list[int]] = {}
        pairs: dict[str, dict[str, list[int]]] = {}
        prefixes: dict[str, dict[str, list[int]]] = {}
        always: list[int] = []
        woken_by: dict[str, list[int]] = {}
        required = [required_words(tree) for tree in trees]
        for rule, (tree, ways) in enumerate(zip(trees, required, strict=True)):
            if all(ways):
                for way in ways:
                    first, *second = sorted(way, key=lambda word: (-len(word), word))[:2]
                    if second:
                        pairs.setdefault(first, {}).setdefault(second[0], []).append(rule)
                    else:
                        exact.setdefault(first, []).append(rule)
                continue
            anchors = anchors_of(tree)
            if anchors is None:
                always.append(rule)
                continue
            for word, is_prefix in anchors:
                if is_prefix:
                    # Filed below with every other prefix of the rules.
                    woken_by.setdefault(word, []).append(rule)
                else:
                    exact.setdefault(word, []).append(rule)
        # Every prefix of every rule, those under a NOT included, so that the words they reach are known.
        for term in (term for tree in trees for term in terms(tree, negated=True) if term.prefix):
            woken_by.setdefault(term.words[-1], [])
        for prefix, rules in woken_by.items():
            prefixes.setdefault(prefix[: _head_size(prefix)], {})[prefix] = rules
        self._exact = {word: tuple(rules) for word, rules in exact.items()}
        self._pairs = {
            first: tuple((second, tuple(rules)) for second, rules in seconds.items())
            for first, seconds in pairs.items()
        }
        self._prefixes = {
            head: tuple((prefix, tuple(rules)) for prefix, rules in bucket.items()) for head, bucket in prefixes.items()
        }
        self._head_sizes = sorted({len(head) for head in self._prefixes})
        self.always = tuple(always)
        # Every whole word of every term, NOT included (only these words' positions are ever looked up), with
        # what it wakes up.
        vocabulary = {word for tree in trees for term in terms(tree, negated=True) for word in _whole(term)}
        self._words = WordTable({word: self._spec(word) for word in vocabulary})
        # The words looked up in their exact form only, and those whose other forms count too (``forms.py``).
        self.exact = frozenset(word for word in vocabulary if word.startswith(EXACT))
        self.inflected = frozenset(word for word in vocabulary if not word.startswith(EXACT))
        # What the article's words are forms of, among ``inflected`` (set by the matcher when forms are on).
        self.forms: FormIndex | None = None

    def __len__(self) -> int:
        pairs = sum(len(seconds) for seconds in self._pairs.values())
        return len(self._exact) + pairs + sum(len(bucket) for bucket in self._prefixes.values())

    def candidates(self, words: set[str]) -> Candidates:
        """Return, in order, the rules that an article holding these distinct folded words may match, with
        the words among them that the rules use or reach through a prefix."""
        listed = list(words)
        known, unknown, reached, rules = self._words.look_up(listed)
        present = set(compress(listed, known))
        prefixed = list(compress(listed, reached))
        found: set[int] = set(self.always)
        found.update(rules)
        if self._prefixes:
            # The words outside the vocabulary that start with some prefix's head, then those a prefix reaches.
            others, heads = list(compress(listed, unknown)), self._prefixes.get
            headed = {
                word for size in self._head_sizes for word in compress(others, map(heads, map(_HEADS[size], others)))
            }
            for word in headed:
                woken = self._prefix_rules(word)
                if woken is not None:
                    found.update(woken)
                    prefixed.append(word)
        return Candidates(sorted(found), present, prefixed)

    def _spec(self, word: str) -> WordSpec:
        """Return what a word of the vocabulary wakes up."""
        by_prefix = self._prefix_rules(word) if self._prefixes else None
        return WordSpec(self._exact.get(word, ()) + (by_prefix or ()), self._pairs.get(word, ()), by_prefix is not None)

    def _prefix_rules(self, word: str) -> tuple[int, ...] | None:
        """Return the rules a word wakes up through a prefix, or None when no prefix of any rule reaches it."""
        heads, reached = self._prefixes.get, False
        rules: list[int] = []
        for size in self._head_sizes:
            for prefix, woken in heads(word[:size], ()):
                if word.startswith(prefix):
                    reached = True
                    rules += woken
        return tuple(rules) if reached else None


class Candidates(NamedTuple):
    """The rules an article may match; its words that the rules use; those that some rule's prefix reaches."""

    rules: list[int]
    present: set[str]
    prefixed: list[str]


def _head_size(prefix: str) -> int:
    """Return how many leading characters of a prefix file it in the index (more means smaller buckets)."""
    return LONG_HEAD if len(prefix) >= LONG_HEAD else MIN_PREFIX


def anchors_of(node: Node) -> frozenset[Anchor] | None:
    """Return the anchors of a rule tree, or None when it can match without any of its words."""
    if isinstance(node, Term):
        return frozenset({term_anchor(node)})
    if isinstance(node, Near):
        return min(frozenset({term_anchor(node.left)}), frozenset({term_anchor(node.right)}), key=_cost)
    if isinstance(node, Not):
        return None
    parts = [anchors_of(child) for child in node.children]
    if isinstance(node, Or):
        if any(part is None for part in parts):
            return None
        return frozenset().union(*(part for part in parts if part is not None))
    assert isinstance(node, And)
    positive = [part for part in parts if part is not None]
    return min(positive, key=_cost) if positive else None


def required_words(node: Node) -> tuple[frozenset[str], ...]:
    """Return sets of whole words such that every article matched by ``node`` holds all the words of one.

    Each set stands for one way the tree can match (one branch of an ``OR``); prefixes and ``NOT`` require
    nothing. Past ``MAX_ALTERNATIVES`` ways, the sets are merged into the words they all share.
    """
    if isinstance(node, Term):
        return (frozenset(_whole(node)),)
    if isinstance(node, Near):
        return (required_words(node.left)[0] | required_words(node.right)[0],)
    if isinstance(node, Not):
        return (frozenset(),)
    parts = [required_words(child) for child in node.children]
    if isinstance(node, Or):
        ways = tuple(way for part in parts for way in part)
        return (frozenset(),) if frozenset() in ways else _bounded(ways)
    ways = (frozenset(),)
    for part in parts:
        ways = _bounded(tuple(way | more for way in ways for more in part))
    return ways


def _bounded(ways: tuple[frozenset[str], ...]) -> tuple[frozenset[str], ...]:
    unique = tuple(dict.fromkeys(ways))
    return unique if len(unique) <= MAX_ALTERNATIVES else (frozenset.intersection(*unique),)


def term_anchor(term: Term) -> Anchor:
    """Return the one word of a term that every occurrence of the term holds, the longest whole one."""
    whole = _whole(term)
    if whole:
        return max(whole, key=len), False
    return term.words[-1], True


def _whole(term: Term) -> tuple[str, ...]:
    """Return the whole words a term looks up (``=word`` for an exact form)."""
    words = keyed(term)
    return words[:-1] if term.prefix else words


def _cost(anchors: frozenset[Anchor]) -> tuple[int, int]:
    """Return how costly anchors are: more anchors, then shorter words, wake a rule up more often."""
    shortest = min((len(word) + (0 if not prefix else -2) for word, prefix in anchors), default=0)
    return len(anchors), -shortest
