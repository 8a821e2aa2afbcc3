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

from monitor.matching.query import MIN_PREFIX, And, Near, Node, Not, Or, Term

# (folded word, is a prefix)
Anchor = tuple[str, bool]
MAX_ALTERNATIVES = 16
LONG_HEAD = 5


class RuleIndex:
    """Map words and prefixes to the rules (by position) they may wake up."""

    def __init__(self, trees: Sequence[Node]) -> None:
        exact: dict[str, list[int]] = {}
        pairs: dict[str, dict[str, list[int]]] = {}
        prefixes: dict[str, dict[str, list[int]]] = {}
        always: list[int] = []
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
                    prefixes.setdefault(word[: _head_size(word)], {}).setdefault(word, []).append(rule)
                else:
                    exact.setdefault(word, []).append(rule)
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

    def __len__(self) -> int:
        pairs = sum(len(seconds) for seconds in self._pairs.values())
        return len(self._exact) + pairs + sum(len(bucket) for bucket in self._prefixes.values())

    def candidates(self, words: Set[str]) -> set[int]:
        """Return the rules that an article holding these distinct folded words may match."""
        exact = self._exact
        found: set[int] = set(self.always)
        found.update(*map(exact.__getitem__, words & exact.keys()))
        pairs = self._pairs
        for first in words & pairs.keys():
            for second, rules in pairs[first]:
                if second in words:
                    found.update(rules)
        if self._prefixes:
            heads = self._prefixes.get
            for size in self._head_sizes:
                for word in words:
                    bucket = heads(word[:size])
                    if bucket is not None:
                        for prefix, rules in bucket:
                            if word.startswith(prefix):
                                found.update(rules)
        return found


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


def _cost(anchors: frozenset[Anchor]) -> tuple[int, int]:
    """Return how costly anchors are: more anchors, then shorter words, wake a rule up more often."""
    shortest = min((len(word) + (0 if not prefix else -2) for word, prefix in anchors), default=0)
    return len(anchors), -shortest
