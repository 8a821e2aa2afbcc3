from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import MonitorError, QueryError
from monitor.matching.query import And, Near, Node, Not, Or, Term, parse, terms


def w(*words: str, prefix: bool = False, field: str | None = None, exact: bool = False) -> Term:
    return Term(words, prefix, field, exact)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("nato", w("nato")),
        ("NATO", w("nato")),
        ("Sécurité", w("securite")),
        ('"nato summit"', w("nato", "summit")),
        ('"NATO,  summit!"', w("nato", "summit")),
        ("“nato summit”", w("nato", "summit")),
        ("« sommet de l’OTAN »", w("sommet", "de", "l", "otan")),
        ('"sommet de l’OTAN"', w("sommet", "de", "l", "otan")),
        ("l'Otan", w("l", "otan")),
        ("NATO-summit", w("nato", "summit")),
        ("北约", w("北", "约")),
        ("http://x.org", w("http", "x", "org")),
        ("foo:bar", w("foo", "bar")),
        ("secur*", w("secur", prefix=True)),
        ("Sécu*", w("secu", prefix=True)),
        ('"nato summ*"', w("nato", "summ", prefix=True)),
        ("NATO-sum*", w("nato", "sum", prefix=True)),
        ("=nato", w("nato", exact=True)),
        ('="sommet de l’OTAN"', w("sommet", "de", "l", "otan", exact=True)),
        ("=l'Otan", w("l", "otan", exact=True)),
        ("title:=nato", w("nato", field="title", exact=True)),
        ('title:="nato summit"', w("nato", "summit", field="title", exact=True)),
        ("-=nato", Not(w("nato", exact=True))),
        ("NOT =nato", Not(w("nato", exact=True))),
        ("title:(=a OR b)", Or((w("a", field="title", exact=True), w("b", field="title")))),
        ("=a NEAR/2 b", Near(w("a", exact=True), w("b"), 2)),
        ("nato =summit", And((w("nato"), w("summit", exact=True)))),
        ("x=y", w("x", "y")),
        ("a b", And((w("a"), w("b")))),
        ("a AND b", And((w("a"), w("b")))),
        ("a OR b", Or((w("a"), w("b")))),
        ("a OR b OR c", Or((w("a"), w("b"), w("c")))),
        ("NOT a", Not(w("a"))),
        ("-a", Not(w("a"))),
        ('-"a b"', Not(w("a", "b"))),
        ("-(a OR b)", Not(Or((w("a"), w("b"))))),
        ("-title:a", Not(w("a", field="title"))),
        ("NOT NOT a", w("a")),
        ("a -b", And((w("a"), Not(w("b"))))),
        ("a-b", w("a", "b")),
        ("(a)", w("a")),
        ("(a OR b) c", And((Or((w("a"), w("b"))), w("c")))),
        ("a (b c)", And((w("a"), w("b"), w("c")))),
        ("a NEAR/3 b", Near(w("a"), w("b"), 3)),
        ("a NEAR/0 b", Near(w("a"), w("b"), 0)),
        ("a NEAR/100 b", Near(w("a"), w("b"), 100)),
        ('"nato summit" NEAR/5 madr*', Near(w("nato", "summit"), w("madr", prefix=True), 5)),
        ("NOT a NEAR/2 b", Not(Near(w("a"), w("b"), 2))),
        ("a NEAR/2 b c", And((Near(w("a"), w("b"), 2), w("c")))),
        ("title:nato", w("nato", field="title")),
        ("text:nato", w("nato", field="text")),
        ("TITLE:nato", w("nato", field="title")),
        ('title:"nato summit"', w("nato", "summit", field="title")),
        ("title:(a OR NOT b)", Or((w("a", field="title"), Not(w("b", field="title"))))),
        ("title:(title:a)", w("a", field="title")),
        ("title:a NEAR/2 b", Near(w("a", field="title"), w("b", field="title"), 2)),
        ("title:OR", w("or", field="title")),
        ("titles:a", w("titles", "a")),
        ("a and b", And((w("a"), w("and"), w("b")))),
        ("a or b", And((w("a"), w("or"), w("b")))),
        ("not a", And((w("not"), w("a")))),
        ("a near b", And((w("a"), w("near"), w("b")))),
        ("Donbass OR Donbas OR Донбас OR Донбасс", Or((w("donbass"), w("donbas"), w("донбас"), w("донбасс")))),
    ],
)
def test_parse_builds_the_tree(query: str, tree: Node) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "same_as"),
    [
        ("a OR b c", "a OR (b AND c)"),
        ("a b OR c", "(a b) OR c"),
        ("NOT a b", "(NOT a) AND b"),
        ("NOT a OR b", "(NOT a) OR b"),
        ("a OR NOT b c", "a OR ((NOT b) c)"),
        ("a AND b OR c AND d", "(a b) OR (c d)"),
        ("-a b", "(NOT a) b"),
        ("a NEAR/1 b OR c", "(a NEAR/1 b) OR c"),
    ],
)
def test_precedence(query: str, same_as: str) -> None:
    assert parse(query) == parse(same_as)


@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ('"nato', 0, "unclosed quote"),
        ('a "nato summit', 2, "unclosed quote"),
        ("“nato summit", 0, "unclosed quote"),
        ("nato”", 4, "closing"),
        ("a »", 2, "closing"),
        ("(a OR b", 0, "unclosed '('"),
        ("a (b (c)", 2, "unclosed '('"),
        ("a OR b)", 6, "unmatched ')'"),
        (")", 0, "unmatched ')'"),
        ("()", 0, "empty group"),
        ("a ( )", 2, "empty group"),
        ('""', 0, "empty phrase"),
        ('a " "', 2, "empty phrase"),
        ('"!!!"', 0, "no words"),
        ("!!!", 0, "no words"),
        ("-", 0, "no words"),
        ("a - b", 2, "must touch"),
        ("NATO AND", 5, "'AND' needs a term after it"),
        ("NATO OR", 5, "'OR' needs a term after it"),
        ("OR x", 0, "'OR' needs a term before it"),
        ("AND x", 0, "'AND' needs a term before it"),
        ("a OR OR b", 2, "'OR' needs a term after it"),
        ("a AND OR b", 2, "'AND' needs a term after it"),
        ("(OR a)", 1, "'OR' needs a term before it"),
        ("(a OR)", 3, "'OR' needs a term after it"),
        ("NOT", 0, "'NOT' needs a term after it"),
        ("a NOT", 2, "'NOT' needs a term after it"),
        ("a -)", 2, "no words"),
        ("a NEAR b", 2, "NEAR needs a distance"),
        ("a NEAR/ b", 7, "whole number"),
        ("a NEAR/x b", 7, "whole number"),
        ("a NEAR/-1 b", 7, "whole number"),
        ("a NEAR/101 b", 7, "whole number"),
        ("a NEAR/3.5 b", 7, "whole number"),
        ("a NEAR/١ b", 7, "whole number"),
        ("a NEAR/" + "9" * 5000 + " b", 7, "whole number"),
        ("NEAR/3 a", 0, "needs a term before it"),
        ("a NEAR/3", 2, "needs a term after it"),
        ("a NEAR/3 b NEAR/3 c", 11, "NEAR chains"),
        ("(a b) NEAR/3 c", 6, "not groups"),
        ("a NEAR/3 (b OR c)", 9, "not groups"),
        ("a NEAR/3 NOT b", 9, "not groups"),
        ("a NEAR/3 -b", 9, "not groups"),
        ("title:a NEAR/1 text:b", 8, "one field"),
        ("ab*", 0, "at least 3 characters"),
        ("a OR éé*", 5, "at least 3 characters"),
        ("北约*", 0, "at least 3 characters"),
        ('"nato su*"', 0, "at least 3 characters"),
        ("*", 0, "must follow a word"),
        ("nato-*", 0, "directly follow a word"),
        ('"nato *"', 0, "directly follow a word"),
        ("na*to", 2, "'*' may only end a word"),
        ("nato**", 4, "'*' may only end a word"),
        ("title:", 0, "'title:' needs a term"),
        ("a text: b", 2, "'text:' needs a term"),
        ("(title:)", 1, "'title:' needs a term"),
        ("title:-a", 6, "to exclude"),
        ("title:(text:a)", 7, "can never match"),
        ("(" * 60 + "a" + ")" * 60, 50, "nest deeper"),
        ("=", 0, "'=' must touch"),
        ("a = b", 2, "'=' must touch"),
        ("= a", 0, "'=' must touch"),
        ("=(a OR b)", 0, "'=' must touch"),
        ("==a", 0, "'=' must touch"),
        ("=nato*", 0, "literal already"),
        ('="nato summ*"', 0, "literal already"),
        ("title:= a", 6, "'=' must touch"),
    ],
)
def test_invalid_query_points_at_the_fault(query: str, position: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert caught.value.position == position
    assert reason in caught.value.reason
    assert caught.value.query == query
    assert str(caught.value).startswith("query: ")


def test_query_error_pointer_marks_the_position() -> None:
    with pytest.raises(QueryError) as caught:
        parse("NATO AND")
    assert caught.value.pointer() == "NATO AND\n     ^"
    assert isinstance(caught.value, MonitorError)


@pytest.mark.parametrize(
    ("query", "positive"),
    [
        ("a", [w("a")]),
        ("a OR (b NOT c)", [w("a"), w("b")]),
        ("NOT a", []),
        ("a NEAR/2 title:b", [w("a", field="title"), w("b", field="title")]),
        ("-(a b) c", [w("c")]),
    ],
)
def test_terms_lists_the_positive_terms(query: str, positive: list[Term]) -> None:
    assert terms(parse(query)) == positive


QUERY_PIECES = st.sampled_from(
    ["a", "nato", "AND", "OR", "NOT", "NEAR/2", "NEAR", "NEAR/x", "(", ")", '"', "“", "”", "«", "»", "-", "*",
     "title:", "text:", " ", "l'", "北", "ab*", "abc*", "!!"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(QUERY_PIECES, max_size=12).map("".join), st.lists(QUERY_PIECES).map(" ".join)))
def test_parse_returns_a_node_or_raises_query_error(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as error:
        assert 0 <= error.position <= len(query)
    else:
        assert isinstance(node, Term | Near | And | Or | Not)
