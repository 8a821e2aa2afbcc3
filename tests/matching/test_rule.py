from __future__ import annotations

from collections.abc import Sequence

import pytest

from monitor.errors import QueryError
from monitor.matching import Matcher, compile_rule, describe_rule, parse
from monitor.matching.query import And, Near, Node, Not, Or, Term


def w(*words: str, prefix: bool = False, field: str | None = None) -> Term:
    return Term(words, prefix, field)


@pytest.mark.parametrize(
    ("query", "any", "exclude", "tree"),
    [
        ("nato", (), (), w("nato")),
        ("nato summit", (), (), And((w("nato"), w("summit")))),
        (None, ["Donbass"], (), w("donbass")),
        (None, ["Donbass", "Донбас"], (), Or((w("donbass"), w("донбас")))),
        (None, ["sommet de l'Otan", "NATO-Gipfel"], (), Or((w("sommet", "de", "l", "otan"), w("nato", "gipfel")))),
        (None, (), ["sport"], Not(w("sport"))),
        (None, (), ["sport", "football club"], Not(Or((w("sport"), w("football", "club"))))),
        ("nato", ["summit", "sommet"], (), And((w("nato"), Or((w("summit"), w("sommet")))))),
        ("nato", (), ["sport"], And((w("nato"), Not(w("sport"))))),
        (
            "nato madrid",
            ["summit", "sommet"],
            ["sport"],
            And((w("nato"), w("madrid"), Or((w("summit"), w("sommet"))), Not(w("sport")))),
        ),
        ("a OR b", ["c"], (), And((Or((w("a"), w("b"))), w("c")))),
        ("a NEAR/2 b", ["c"], (), And((Near(w("a"), w("b"), 2), w("c")))),
        (None, ["secur*"], (), w("secur", prefix=True)),
        (None, ["  Sécu* "], (), w("secu", prefix=True)),
        (None, ["nato summ*"], (), w("nato", "summ", prefix=True)),
        (None, ['"quoted phrase"'], (), w("quoted", "phrase")),
        (None, ["AND", "title:nato"], (), Or((w("and"), w("title", "nato")))),
        (None, ["北约"], (), w("北", "约")),
    ],
)
def test_compile_rule(query: str | None, any: Sequence[str], exclude: Sequence[str], tree: Node) -> None:
    assert compile_rule(query, any, exclude) == tree


@pytest.mark.parametrize(
    ("query", "any", "exclude", "text"),
    [
        ("nato", (), (), "nato"),
        ("  nato\n OR   otan ", (), (), "nato OR otan"),
        (None, ["Donbass"], (), '("Donbass")'),
        (None, ["Donbass", "Donbas"], (), '("Donbass" OR "Donbas")'),
        (None, (), ["x"], 'NOT ("x")'),
        ("q", ["a", "b  c"], ["x"], '(q) AND ("a" OR "b c") AND NOT ("x")'),
        ("a OR b", (), ["x", "y"], '(a OR b) AND NOT ("x" OR "y")'),
        (None, ["secur*", ' say "hi" '], (), '("secur*" OR "say hi")'),
    ],
)
def test_describe_rule(query: str | None, any: Sequence[str], exclude: Sequence[str], text: str) -> None:
    assert describe_rule(query, any, exclude) == text


@pytest.mark.parametrize(
    ("query", "any", "exclude"),
    [
        ("nato", (), ()),
        ("nato summit", ["a", "b c"], ["x"]),
        ("a OR b", ["cat*"], ()),
        ("NOT a", (), ["b", "c"]),
        (None, ["secur*", "l'Otan"], ["sport"]),
        (None, (), ["sport"]),
        ("title:(a OR b) c NEAR/0 d", ["«x y»"], ['"z"']),
    ],
)
def test_description_parses_to_the_compiled_rule(query: str | None, any: Sequence[str], exclude: Sequence[str]) -> None:
    assert parse(describe_rule(query, any, exclude)) == compile_rule(query, any, exclude)


@pytest.mark.parametrize(
    ("query", "any", "exclude", "reason", "position"),
    [
        (None, (), (), "a rule needs a query, an any list or an exclude list", 0),
        ("nato AND", (), (), "'AND' needs a term after it", 5),
        (None, ["ok", "!!!"], (), "any[1]: this entry has no words", 0),
        (None, [""], (), "any[0]: this entry has no words", 0),
        (None, (), ["ok", "fine", "  "], "exclude[2]: this entry has no words", 0),
        (None, ["ab*"], (), "any[0]: a prefix needs at least 3 characters before '*'", 0),
        (None, ["nato ab*"], (), "any[0]: a prefix needs at least 3 characters before '*'", 5),
        (None, ["x*y"], (), "any[0]: '*' may only end an entry", 1),
        (None, ["*"], (), "any[0]: '*' must follow a word", 0),
        (None, ["nato *"], (), "any[0]: '*' must directly follow a word", 5),
        (None, ["nato!*"], (), "any[0]: '*' must directly follow a word", 5),
        ("ok", ["fine"], ["a**"], "exclude[0]: '*' may only end an entry", 1),
    ],
)
def test_compile_rule_rejects(
    query: str | None, any: Sequence[str], exclude: Sequence[str], reason: str, position: int
) -> None:
    with pytest.raises(QueryError) as caught:
        compile_rule(query, any, exclude)
    assert caught.value.reason == reason
    assert caught.value.position == position


def test_bad_entry_points_into_the_entry() -> None:
    with pytest.raises(QueryError) as caught:
        compile_rule("nato", ["summit", "nato ab*"])
    assert caught.value.pointer() == "nato ab*\n     ^"


@pytest.mark.parametrize(
    ("any", "exclude", "text", "matched"),
    [
        (["Donbass", "Донбас"], (), "Бої на Донбасі, Донбас", ("Донбасі", "Донбас")),
        (["Donbass", "=Донбас"], (), "Бої на Донбасі, Донбас", ("Донбас",)),
        (["Donbass", "Донбас"], (), "nothing here", None),
        ((), ["sport"], "a quiet day", ()),
        ((), ["sport"], "sport results", None),
        (["sommet de l'Otan"], ["Madrid"], "le sommet de l’OTAN à Vilnius", ("sommet de l’OTAN",)),
        (["sommet de l'Otan"], ["Madrid"], "le sommet de l’OTAN à Madrid", None),
        (["secur*"], (), "Security first", ("Security",)),
    ],
)
def test_compiled_rules_match(
    any: Sequence[str], exclude: Sequence[str], text: str, matched: tuple[str, ...] | None
) -> None:
    hits = Matcher({"rule": compile_rule(None, any, exclude)}).match(text=text)
    assert (hits[0].matched if hits else None) == matched
