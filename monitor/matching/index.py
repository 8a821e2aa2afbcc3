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

A woken rule is then checked against its required words (the whole words it cannot match without, such as
the other words of a phrase or both sides of an ``AND``; one set per branch of an ``OR``) with set inclusions,
before the full evaluation.

Looking an article up costs one set intersection of its distinct words with the indexed words, a membership
test of the second word of each pair whose first word it holds, and, when some rules use prefixes, a probe of
each word's first 3 (or 5) characters among the prefixes' heads.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from itertools import repeat
from typing import Final, NamedTuple

from monitor.matching.query import MIN_PREFIX, And, Near, Node, Not, Or, Term, all_terms

# (folded word, is a prefix)
Anchor = tuple[str, bool]
MAX_ALTERNATIVES = 16
LONG_HEAD = 5
LEARNT_WORDS = 1 << 16


class RuleIndex:
    """Map words and prefixes to the rules (by position) they may wake up."""

    def __init__(self, trees: Sequence[Node]) -> None:
        exact: dict[str, list[int]] = {}
        pairs: dict[str, dict[str, list[int]]] = {}
        prefixes: dict[str, dict[str, list[int]]] = {}
        always: list[int] = []
        woken_by: dict[str, list[int]] = {}
        required = [required_words(tree) for tree in trees]
        self.required = tuple(_viability(ways) for ways in required)
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
        for term in (term for tree in trees for term in all_terms(tree) if term.prefix):
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
        # One entry per whole word of every term, NOT included (only these words' positions are ever looked up),
        # so that an article's word costs one probe of one table.
        vocabulary = {word for tree in trees for term in all_terms(tree) for word in _whole(term)}
        self._table: dict[str, _Entry | None] = {word: self._entry(word, True) for word in vocabulary}
        # Other words, learnt as they come: their entry when some prefix reaches them, else None.
        self._learnt: list[str] = []

    def __len__(self) -> int:
        pairs = sum(len(seconds) for seconds in self._pairs.values())
        return len(self._exact) + pairs + sum(len(bucket) for bucket in self._prefixes.values())

    def candidates(self, words: set[str]) -> Candidates:
        """Return, in order, the rules that an article holding these distinct folded words may match, with
        the words among them that the rules use or reach through a prefix."""
        table = self._table
        entries = list(map(table.get, words, repeat(_UNSEEN)))
        if _UNSEEN in entries:
            learn = self._learn
            entries = [learn(word) if entry is _UNSEEN else entry for word, entry in zip(words, entries, strict=True)]
        present: set[str] = set()
        prefixed: list[str] = []
        paired: list[tuple[str, tuple[int, ...]]] = []
        found: set[int] = set(self.always)
        for word, entry in zip(words, entries, strict=True):
            if entry is not None:
                known, wakes, pairs, reached = entry
                if known:
                    present.add(word)
                if wakes:
                    found.update(wakes)
                if pairs:
                    paired += pairs
                if reached:
                    prefixed.append(word)
        for second, rules in paired:
            if second in present:
                found.update(rules)
        required = self.required
        viable_rules = sorted(
            rule
            for rule in found
            if ((need := required[rule]).__class__ is frozenset and need <= present) or viable(need, present)
        )
        return Candidates(viable_rules, present, prefixed)

    def _entry(self, word: str, known: bool) -> _Entry | None:
        """Return what ``word`` does to the rules, or None when it does nothing."""
        by_prefix = self._prefix_rules(word) if self._prefixes else None
        wakes = self._exact.get(word, ()) + (by_prefix or ())
        pairs = self._pairs.get(word, ())
        if not (known or wakes or pairs or by_prefix is not None):
            return None
        return _Entry(known, wakes, pairs, by_prefix is not None)

    def _learn(self, word: str) -> _Entry | None:
        """Return the entry of a word outside the vocabulary, filed in the table for the next time."""
        learnt, table = self._learnt, self._table
        if not self._prefixes:
            return None
        if len(learnt) >= LEARNT_WORDS:
            for known in learnt:
                del table[known]
            learnt.clear()
        learnt.append(word)
        entry = table[word] = self._entry(word, False)
        return entry

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


class _Entry(NamedTuple):
    """What one word does: whether the rules use it, the rules it wakes up alone (as a word or through a
    prefix), those it wakes up with a second word, and whether some rule's prefix reaches it."""

    known: bool
    wakes: tuple[int, ...]
    pairs: tuple[tuple[str, tuple[int, ...]], ...]
    reached: bool


class Candidates(NamedTuple):
    """The rules an article may match; its words that the rules use; those that some rule's prefix reaches."""

    rules: list[int]
    present: set[str]
    prefixed: list[str]


def _viability(ways: tuple[frozenset[str], ...]) -> frozenset[str] | tuple[frozenset[str], ...]:
    """Return one set when a single way exists (the common case, checked with one inclusion), else all."""
    return ways[0] if len(ways) == 1 else ways


def viable(required: frozenset[str] | tuple[frozenset[str], ...], words: Set[str]) -> bool:
    """Return whether an article holding ``words`` holds every required word of at least one way."""
    if isinstance(required, frozenset):
        return required <= words
    return any(way <= words for way in required)


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
        return (frozenset(node.words[:-1] if node.prefix else node.words),)
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
    whole = term.words[:-1] if term.prefix else term.words
    if whole:
        return max(whole, key=len), False
    return term.words[-1], True


def _whole(term: Term) -> tuple[str, ...]:
    return term.words[:-1] if term.prefix else term.words


def _cost(anchors: frozenset[Anchor]) -> tuple[int, int]:
    """Return how costly anchors are: more anchors, then shorter words, wake a rule up more often."""
    shortest = min((len(word) + (0 if not prefix else -2) for word, prefix in anchors), default=0)
    return len(anchors), -shortest


# What the table gives for a word it has not seen (``None`` stands for a word that does nothing).
_UNSEEN: Final = _Entry(False, (), (), False)
