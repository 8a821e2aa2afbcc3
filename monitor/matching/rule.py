"""A watch rule as written in the settings: a query, a list of alternatives and a list of exclusions.

A rule combines its parts like an advanced search form::

    query AND (any[0] OR any[1] ...) AND NOT (exclude[0] OR exclude[1] ...)

leaving out the parts it does not give. A rule needs at least one part; one made only of ``exclude`` matches
the articles that hold none of those words. ``query`` is written in the rule language of ``query.py``. Each
``any`` and ``exclude`` entry is taken literally: a word or a phrase of words in this order (no operators, no
fields, quotes not needed), a leading ``=`` asks for its exact form (no other forms of its words), and a
trailing ``*`` makes its last word a prefix of at least 3 characters. An
entry with no words, or with ``*`` anywhere but at its end, raises ``QueryError`` naming it (``any[2]: ...``)
with the position of the fault inside the entry.

``describe_rule`` writes a rule back as one query of the rule language, ``(QUERY) AND ("a" OR "b c") AND NOT
("x")``, which parses to the same tree as ``compile_rule`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from monitor.errors import QueryError
from monitor.matching.query import MIN_PREFIX, And, Node, Not, Or, Term, parse
from monitor.matching.text import tokenize


def compile_rule(query: str | None, any: Sequence[str] = (), exclude: Sequence[str] = ()) -> Node:
    """Return the tree of a rule made of a query, alternatives and exclusions; raise QueryError on a bad part."""
    parts: list[Node] = []
    if query is not None:
        tree = parse(query)
        parts.extend(tree.children if isinstance(tree, And) else (tree,))
    if any:
        parts.append(_either(parse_entries("any", any)))
    if exclude:
        parts.append(Not(_either(parse_entries("exclude", exclude))))
    if not parts:
        raise QueryError("a rule needs a query, an any list or an exclude list", 0, "")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def describe_rule(query: str | None, any: Sequence[str] = (), exclude: Sequence[str] = ()) -> str:
    """Return a rule as one readable query: the query alone, else its parts joined by AND and NOT."""
    text = " ".join(query.split()) if query is not None else None
    if not any and not exclude:
        return text or ""
    parts = [f"({text})"] if text is not None else []
    if any:
        parts.append(_alternatives(any))
    if exclude:
        parts.append(f"NOT {_alternatives(exclude)}")
    return " AND ".join(parts)


def parse_entries(kind: str, entries: Sequence[str]) -> list[Term]:
    """Return the terms of a list of literal entries; a bad one raises QueryError named ``kind[index]``."""
    return [parse_entry(entry, f"{kind}[{index}]") for index, entry in enumerate(entries)]


def parse_entry(entry: str, label: str = "entry") -> Term:
    """Return the term of one literal word or phrase, its last word a prefix when it ends with ``*``."""

    def fail(reason: str, position: int) -> NoReturn:
        raise QueryError(f"{label}: {reason}", position, entry)

    body = entry.rstrip()
    exact = body.lstrip().startswith("=")
    if exact:
        body = body.lstrip()[1:]
    prefix = body.endswith("*")
    if prefix:
        body = body[:-1]
    star = body.find("*")
    if star >= 0:
        fail("'*' may only end an entry", star)
    tokens = tokenize(body)
    if not tokens:
        fail("'*' must follow a word" if prefix else "this entry has no words", 0)
    if prefix and tokens[-1].end != len(body):
        fail("'*' must directly follow a word", len(body))
    if prefix and len(tokens[-1].text) < MIN_PREFIX:
        fail(f"a prefix needs at least {MIN_PREFIX} characters before '*'", tokens[-1].start)
    if prefix and exact:
        fail("'=' asks for an exact form; a prefix ('*') is literal already", 0)
    return Term(tuple(token.text for token in tokens), prefix, exact=exact)


def _either(terms: list[Term]) -> Node:
    return terms[0] if len(terms) == 1 else Or(tuple(terms))


def _alternatives(entries: Sequence[str]) -> str:
    """Return entries as quoted phrases joined by OR, in parentheses (``="..."`` for an exact one)."""
    quoted = [_quoted(entry) for entry in entries]
    return "(" + " OR ".join(quoted) + ")"


def _quoted(entry: str) -> str:
    body = entry.strip()
    mark = "=" if body.startswith("=") else ""
    return mark + '"' + " ".join(body.removeprefix(mark).replace('"', " ").split()) + '"'
