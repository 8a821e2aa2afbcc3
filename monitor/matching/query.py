"""The watch-rule language: parse a query into a tree of terms joined by boolean operators.

Terms (all case- and accent-insensitive, see ``text.fold``)::

    nato                a whole word
    "nato summit"       a phrase: these words, in this order, next to each other in one field; punctuation
                        between them does not matter. “…” and «…» delimit phrases too.
    l'Otan  NATO-summit a word with inner punctuation is the phrase of its words ("l otan", "nato summit");
    北约                so is a word in Chinese or Japanese, one character per word ("北 约")
    secur*              a prefix: any word starting with "secur" (at least 3 characters before the star,
                        after folding); in "nato summ*" the last word of the phrase is a prefix
    =nato  ="l'Otan"    the exact form: without ``=``, a word matches its inflected forms in the article's
                        language too (``summit`` finds "summits", ``Донбасс`` finds "Донбассе", see ``forms.py``);
                        with it, only the word as written (case and accents still do not matter). ``=`` goes
                        right before a word or a phrase, after a field or ``-``: title:=nato, -="a b"
    title:nato          only in the title; text:nato only in the body; a term without a field looks at both
    title:(a OR b)      a field before a group applies to every term in it (a different field inside is an
                        error). A word such as http://x or foo:bar is not a field, just words.

Operators, only in UPPER case (``and``, ``or``, ``not``, ``near`` are ordinary words)::

    a b   a AND b       both
    a OR b              either
    NOT a   -a          without; "-" must touch its term: -word, -"a phrase", -(a OR b), -title:word.
                        A query made only of NOT terms is valid: it matches articles without them.
                        NOT NOT a is a.
    a NEAR/n b          both terms in the same field with at most n other words between them, in either
                        order, not overlapping; n is a whole number from 0 to 100 (NEAR/0: adjacent). Both
                        sides must be terms (words, phrases, prefixes), not groups or NOT. A field on one
                        side applies to both. Chains such as "a NEAR/3 b NEAR/3 c" are rejected: write
                        "a NEAR/3 b AND b NEAR/3 c".
    ( ... )             grouping

Precedence, tightest first: NEAR (it joins the two terms next to it), NOT, AND, OR. So ``a OR b c`` means
``a OR (b AND c)``, ``NOT a b`` means ``(NOT a) AND b`` and ``NOT a NEAR/3 b`` excludes the pair.

Grammar::

    query    = or_expr
    or_expr  = and_expr { "OR" and_expr }
    and_expr = unary { [ "AND" ] unary }
    unary    = { "NOT" | "-" } operand
    operand  = term [ "NEAR/" n term ] | [ field ] "(" or_expr ")"
    term     = [ field ] [ "=" ] ( word | word "*" | phrase )
    field    = "title:" | "text:"

An invalid query raises ``QueryError`` with the reason and the 0-based position of the fault: an empty
query, phrase or group; an unclosed quote or parenthesis, or an unmatched ``)``; an operator with no term on
one side (``NATO AND``, ``OR x``, ``NOT``); ``NEAR`` without ``/n`` or with n outside 0..100; a prefix shorter
than 3 characters; ``*`` inside a word; a term with no words (``"!!!"``, ``-``); ``=`` before a prefix (a prefix
is a literal start already) or before anything but a word or phrase; parentheses nested deeper than 50 levels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NoReturn, TypeAlias

import regex

from monitor.errors import QueryError
from monitor.matching.text import tokenize

MAX_NEAR = 100
MAX_DEPTH = 50
MIN_PREFIX = 3
FIELDS = ("title", "text")

_QUOTES = {'"': '"', "“": "”", "«": "»"}
_CLOSING_ONLY = frozenset("”»")
_DELIMITERS = frozenset('()"“”«»')
_FIELD = regex.compile(r"(title|text):", regex.IGNORECASE)
_OPERATORS = frozenset({"AND", "OR", "NOT"})


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase of folded words; ``prefix`` makes the last word a prefix; ``field`` scopes it; ``exact``
    leaves out the words' other forms."""

    words: tuple[str, ...]
    prefix: bool = False
    field: str | None = None
    exact: bool = False


@dataclass(frozen=True, slots=True)
class Near:
    """Two terms in the same field with at most ``distance`` words between them, in either order."""

    left: Term
    right: Term
    distance: int


@dataclass(frozen=True, slots=True)
class And:
    """Every child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    child: Node


Node: TypeAlias = Term | Near | And | Or | Not


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    pos: int
    text: str
    distance: int = 0


def parse(query: str) -> Node:
    """Return the tree of ``query``, or raise ``QueryError`` pointing at the fault."""
    return _Parser(query, _Lexer(query).tokens()).parse()


EXACT = "="  # marks a word looked up in its exact form only (``keyed``); no word of an article starts with it


def keyed(term: Term) -> tuple[str, ...]:
    """Return the words a term looks up: ``=word`` for a word in its exact form only; a prefix as it is."""
    if not term.exact:
        return term.words
    whole = term.words[:-1] if term.prefix else term.words
    return tuple(EXACT + word for word in whole) + (term.words[-1:] if term.prefix else ())


def exactly(node: Node) -> Node:
    """Return the tree with every term asking for its words' exact forms (a rule with ``forms = false``)."""
    if isinstance(node, Term):
        return replace(node, exact=True)
    if isinstance(node, Near):
        return Near(replace(node.left, exact=True), replace(node.right, exact=True), node.distance)
    if isinstance(node, Not):
        return Not(exactly(node.child))
    children = tuple(exactly(child) for child in node.children)
    return And(children) if isinstance(node, And) else Or(children)


def terms(node: Node, *, negated: bool = False) -> list[Term]:
    """Return the terms that must be present for ``node`` to match, or with ``negated`` every term of it (those
    under a NOT too)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return [node.left, node.right]
    if isinstance(node, Not):
        return terms(node.child, negated=True) if negated else []
    return [term for child in node.children for term in terms(child, negated=negated)]


class _Lexer:
    """Split a query into operators, parentheses, fields, words and phrases."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.out: list[_Token] = []

    def fail(self, reason: str, pos: int) -> NoReturn:
        raise QueryError(reason, pos, self.query)

    def tokens(self) -> list[_Token]:
        """Return the tokens of the whole query."""
        query, i = self.query, 0
        while i < len(query):
            c = query[i]
            if c.isspace():
                i += 1
            elif c in "()":
                self.out.append(_Token(c, i, c))
                i += 1
            elif c in _QUOTES:
                i = self.phrase(i)
            elif c in _CLOSING_ONLY:
                self.fail(f"closing {c} without an opening quote", i)
            elif c == "-" and i + 1 < len(query) and not query[i + 1].isspace() and query[i + 1] != ")":
                self.out.append(_Token("NOT", i, "-"))
                i += 1
            elif c == "=":
                i = self.exact(i)
            else:
                i = self.bare(i)
        return self.out

    def exact(self, start: int) -> int:
        """Add the exact-form mark at ``start``, which must touch a word or a phrase; return the position after it."""
        following = self.query[start + 1 : start + 2]
        if not following or following.isspace() or following in "()=":
            self.fail("'=' must touch the word or phrase whose exact form it asks for: =word, =\"a phrase\"", start)
        self.out.append(_Token("EXACT", start, "="))
        return start + 1

    def phrase(self, start: int) -> int:
        """Add the phrase opening at ``start``; return the position after its closing quote."""
        opening = self.query[start]
        end = self.query.find(_QUOTES[opening], start + 1)
        if end < 0:
            self.fail(f"unclosed quote {opening}", start)
        self.out.append(_Token("phrase", start, self.query[start + 1 : end]))
        return end + 1

    def bare(self, start: int) -> int:
        """Add the operator, field or word starting at ``start``; return the position after it."""
        query, end = self.query, start
        while end < len(query) and not query[end].isspace() and query[end] not in _DELIMITERS:
            end += 1
        raw = query[start:end]
        field = _FIELD.match(raw)
        if field is not None:
            return self.field(field.group(1).lower(), start, start + field.end(), end)
        if raw in _OPERATORS:
            self.out.append(_Token(raw, start, raw))
        elif raw == "NEAR" or raw.startswith("NEAR/"):
            self.out.append(_Token("NEAR", start, raw, self.distance(raw, start)))
        else:
            self.out.append(_Token("word", start, raw))
        return end

    def field(self, name: str, start: int, after: int, end: int) -> int:
        """Add a field and the word glued to it; return where lexing resumes."""
        query = self.query
        self.out.append(_Token("field", start, name))
        if after < end:
            if query[after] == "-":
                self.fail(f"write -{name}:word to exclude a word, not {name}:-word", after)
            if query[after] == "=":
                after = self.exact(after)
                if after == end:  # a phrase follows
                    return after
            self.out.append(_Token("word", after, query[after:end]))
            return end
        if after < len(query) and (query[after] == "(" or query[after] in _QUOTES):
            return after
        self.fail(f"'{name}:' needs a term right after it", start)

    def distance(self, raw: str, start: int) -> int:
        """Return the n of ``NEAR/n``."""
        if raw == "NEAR":
            self.fail("NEAR needs a distance, as in NEAR/5", start)
        digits = raw[len("NEAR/") :]
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 3 and int(digits) <= MAX_NEAR):
            self.fail(f"NEAR/n needs a whole number n from 0 to {MAX_NEAR}", start + len("NEAR/"))
        return int(digits)


class _Parser:
    """Build the tree from tokens by recursive descent, one method per precedence level."""

    def __init__(self, query: str, tokens: list[_Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.at = 0

    def fail(self, reason: str, pos: int) -> NoReturn:
        raise QueryError(reason, pos, self.query)

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            self.fail("the query ends where a term is expected", len(self.query))
        self.at += 1
        return token

    def expect_term_after(self, operator: _Token) -> None:
        token = self.peek()
        if token is None or token.kind in ("AND", "OR", "NEAR", ")"):
            self.fail(f"'{operator.text}' needs a term after it", operator.pos)

    def parse(self) -> Node:
        if not self.tokens:
            self.fail("empty query", 0)
        node = self.or_expr(None, 0)
        token = self.peek()
        if token is not None:
            self.fail("unmatched ')'", token.pos)
        return node

    def or_expr(self, field: str | None, depth: int) -> Node:
        children = [self.and_expr(field, depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.expect_term_after(token)
            children.append(self.and_expr(field, depth))
        return Or(_flatten(Or, children)) if len(children) > 1 else children[0]

    def and_expr(self, field: str | None, depth: int) -> Node:
        children = [self.unary(field, depth)]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.expect_term_after(token)
            children.append(self.unary(field, depth))
        return And(_flatten(And, children)) if len(children) > 1 else children[0]

    def unary(self, field: str | None, depth: int) -> Node:
        negations = 0
        while (token := self.peek()) is not None and token.kind == "NOT":
            self.take()
            self.expect_term_after(token)
            negations += 1
        node = self.operand(field, depth)
        return Not(node) if negations % 2 else node

    def operand(self, field: str | None, depth: int) -> Node:
        left = self.primary(field, depth)
        near = self.peek()
        if near is None or near.kind != "NEAR":
            return left
        self.take()
        if not isinstance(left, Term):
            self.fail(f"'{near.text}' joins words, phrases or prefixes, not groups", near.pos)
        self.expect_term_after(near)
        start = self.tokens[self.at]
        right = self.primary(field, depth) if start.kind != "NOT" else None
        if not isinstance(right, Term):
            self.fail(f"'{near.text}' joins words, phrases or prefixes, not groups or NOT", start.pos)
        chained = self.peek()
        if chained is not None and chained.kind == "NEAR":
            self.fail("NEAR chains are not supported; write a NEAR/n b AND b NEAR/n c", chained.pos)
        if left.field is not None and right.field is not None and left.field != right.field:
            self.fail(f"'{near.text}' joins terms of one field, not title: and text:", near.pos)
        scope = left.field or right.field
        return Near(replace(left, field=scope), replace(right, field=scope), near.distance)

    def primary(self, field: str | None, depth: int) -> Node:
        token = self.take()
        if token.kind == "field":
            if field is not None and token.text != field:
                self.fail(f"'{token.text}:' inside '{field}:' can never match", token.pos)
            return self.primary(token.text, depth)
        if token.kind == "(":
            return self.group(token, field, depth)
        if token.kind in ("word", "phrase"):
            return self.term(token, field)
        if token.kind == "EXACT":
            marked = self.take()
            if marked.kind not in ("word", "phrase"):
                self.fail("'=' must touch the word or phrase whose exact form it asks for", token.pos)
            term = self.term(marked, field)
            if term.prefix:
                self.fail("'=' asks for a word's exact form; a prefix ('*') is literal already", token.pos)
            return replace(term, exact=True)
        if token.kind == ")":
            self.fail("unmatched ')'", token.pos)
        self.fail(f"'{token.text}' needs a term before it", token.pos)

    def group(self, opening: _Token, field: str | None, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            self.fail(f"parentheses nest deeper than {MAX_DEPTH} levels", opening.pos)
        token = self.peek()
        if token is None:
            self.fail("unclosed '('", opening.pos)
        if token.kind == ")":
            self.fail("empty group '()'", opening.pos)
        node = self.or_expr(field, depth + 1)
        if self.peek() is None:
            self.fail("unclosed '('", opening.pos)
        self.take()
        return node

    def term(self, token: _Token, field: str | None) -> Term:
        quoted = token.kind == "phrase"
        body, prefix = token.text, False
        if quoted and body.rstrip().endswith("*"):
            body, prefix = body.rstrip()[:-1], True
        elif not quoted and "*" in body:
            star = body.index("*")
            if star != len(body) - 1:
                self.fail("'*' may only end a word", token.pos + star)
            body, prefix = body[:-1], True
        tokens = tokenize(body)
        if not tokens:
            if prefix:
                self.fail("'*' must follow a word", token.pos)
            if body and not body.strip("-"):
                self.fail("this term has no words ('-' must touch the term it excludes: -word)", token.pos)
            self.fail("empty phrase" if quoted and not body.strip() else "this term has no words", token.pos)
        if prefix and tokens[-1].end != len(body):
            self.fail("'*' must directly follow a word", token.pos)
        if prefix and len(tokens[-1].text) < MIN_PREFIX:
            self.fail(f"a prefix needs at least {MIN_PREFIX} characters before '*'", token.pos)
        return Term(tuple(t.text for t in tokens), prefix, field)


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    """Return ``children`` with nested nodes of the same ``kind`` spliced in."""
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    return tuple(flat)
