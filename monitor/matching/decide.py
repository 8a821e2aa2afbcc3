"""Say which rules the index decides alone, so that matching an article skips their evaluation.

The index lists the words of the rules that an article holds (``index.Candidates.present``: its own words, its
words' other forms' entries and the ``=word`` keys of exact forms, in either field). For a rule made only of
whole single words in either field joined by ``AND``, ``OR`` and ``NOT`` (of a word, or of an ``OR`` of words),
up to ``MAX_WAYS`` ways to match, whether it matches is whether the article holds all the required words of one
of its ways and none of its forbidden ones: no positions, no phrase, no distance to check (the index lists the
words under a ``NOT`` too). ``decision`` gives those ways (the rule's words as the index keys them); ``decided``
answers from them. Every other rule (a phrase, a prefix, a field, ``NEAR``) is evaluated in full.
"""

from __future__ import annotations

from collections.abc import Set

from monitor.matching.query import And, Node, Not, Or, Term, keyed

# The ways a rule matches: it matches when the article holds every required word of one and none of its
# forbidden ones.
Way = tuple[tuple[str, ...], tuple[str, ...]]
Decision = tuple[Way, ...]
MAX_WAYS = 16


def decision(node: Node) -> Decision | None:
    """Return the ways of a rule that its words' presence decides, or None when it must be evaluated."""
    if isinstance(node, Term):
        word = _plain(node)
        return None if word is None else (((word,), ()),)
    if isinstance(node, Not):
        # NOT of a word, or of an OR of words: none of them.
        inner = decision(node.child)
        if inner is None or any(len(required) != 1 or forbidden for required, forbidden in inner):
            return None
        return (((), tuple(dict.fromkeys(required[0] for required, _ in inner))),)
    if not isinstance(node, And | Or):
        return None
    parts: list[Decision] = []
    for child in node.children:
        part = decision(child)
        if part is None:
            return None
        parts.append(part)
    ways: list[Way]
    if isinstance(node, Or):
        ways = [way for part in parts for way in part]
    else:
        ways = [((), ())]
        for part in parts:
            ways = [(way[0] + more[0], way[1] + more[1]) for way in ways for more in part]
            if len(ways) > MAX_WAYS:
                return None
    if len(ways) > MAX_WAYS:
        return None
    return tuple(dict.fromkeys((tuple(dict.fromkeys(need)), tuple(dict.fromkeys(bar))) for need, bar in ways))


def decided(ways: Decision, present: Set[str]) -> bool:
    """Return whether an article whose rule words are ``present`` matches a rule of these ways."""
    for required, forbidden in ways:
        for word in required:
            if word not in present:
                break
        else:
            for word in forbidden:
                if word in present:
                    break
            else:
                return True
    return False


def _plain(term: Term) -> str | None:
    """Return the one word a term looks up, as the index keys it, when it is a single whole word in either field."""
    if term.prefix or term.field is not None or len(term.words) != 1:
        return None
    return keyed(term)[0]
