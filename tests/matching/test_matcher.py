from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.matching import Hit, Matcher, parse
from monitor.matching.compiled import MAX_OCCURRENCES, compile_tree
from monitor.matching.matcher import Document, evaluate
from monitor.matching.query import Or, Term
from monitor.matching.snippet import marked
from tests.conftest import starred

SAMPLE = (
    "Renforcer le soutien à l'Ukraine et améliorer les capacités de défense de l'OTAN. Ces questions étaient "
    "à l'ordre du jour de la réunion mercredi et jeudi à Bruxelles des ministres de la Défense de l'Alliance.\n\n"
    '"Nous avons atteint un point où la bataille du Donbass est à un moment critique parce que si les Russes, '
    'je dis si, s’ils parviennent à prendre en tenaille et à couper les forces ukrainiennes", ajoute-t-il.\n\n'
    "Cette réunion des ministres de la Défense se déroule quelques jours avant le sommet de l'Otan prévu à la "
    "fin du mois à Madrid. Les Alliés devraient s'entendre à cette occasion sur un nouveau concept stratégique."
)


def matched(query: str, title: str = "", text: str = "") -> tuple[str, ...] | None:
    hits = Matcher({"rule": query}).match(title=title, text=text)
    return hits[0].matched if hits else None


def test_french_sample_matches_both_rules() -> None:
    rules = {
        "NATO summit": '"NATO summit" OR "sommet de l’OTAN"',
        "Donbass": "Donbass OR Donbas OR Донбас OR Донбасс",
    }
    hits = Matcher(rules).match(title="Les ministres de la Défense de l'Otan à Bruxelles", text=SAMPLE)
    assert [(hit.rule, hit.matched, hit.field) for hit in hits] == [
        ("NATO summit", ("sommet de l'Otan",), "text"),
        ("Donbass", ("Donbass",), "text"),
    ]
    assert "**sommet de l'Otan**" in marked(hits[0].snippet, hits[0].highlights)
    assert "la bataille du **Donbass** est à un moment critique" in marked(hits[1].snippet, hits[1].highlights)


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ('"nato summit"', "the NATO summit opens", ("NATO summit",)),
        ('"nato summit"', "NATO: summit talks", ("NATO: summit",)),
        ('"nato summit"', "a NATO-summit", ("NATO-summit",)),
        ('"nato summit"', "NATO\n  summit", ("NATO summit",)),
        ('"nato summit"', "NATO. The summit", None),
        ('"nato summit"', "summit of NATO", None),
        ("l'Otan", "sommet de l’OTAN", ("l’OTAN",)),
        ("北约", "北约峰会在马德里举行", ("北约",)),
        ("北约", "北京约会", None),
        ("secur*", "Sécurité et security", ("Sécurité", "security")),
        ("secur*", "insecure", None),
        ('"sommet de l\'ota*"', "le sommet de l'Otan", ("sommet de l'Otan",)),
        ("=nato", "NATOs", None),
        ("nato", "NATOnal", None),
        ("nato*", "NATOs", ("NATOs",)),
        ("straße", "STRASSE", ("STRASSE",)),
        ("Kyiv OR Київ", "КИЇВ", ("КИЇВ",)),
        ("αθήνα", "ΑΘΗΝΑ", ("ΑΘΗΝΑ",)),
        ("nato", "ＮＡＴＯ", ("ＮＡＴＯ",)),
    ],
)
def test_terms_and_phrases(query: str, text: str, expected: tuple[str, ...] | None) -> None:
    assert matched(query, text=text) == expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("nato NEAR/2 summit", "nato x y summit", ("nato", "summit")),
        ("nato NEAR/2 summit", "nato x y z summit", None),
        ("nato NEAR/2 summit", "summit x y nato", ("summit", "nato")),
        ("nato NEAR/2 summit", "summit x y z nato", None),
        ("nato NEAR/0 summit", "nato summit", ("nato", "summit")),
        ("nato NEAR/0 summit", "summit nato", ("summit", "nato")),
        ("nato NEAR/0 summit", "nato, the summit", None),
        ("nato NEAR/1 summit", "nato, the summit", ("nato", "summit")),
        ('"nato summit" NEAR/1 madr*', "NATO summit in Madrid", ("NATO summit", "Madrid")),
        ('"nato summit" NEAR/1 madr*', "Madrid hosts the NATO summit", None),
        ('"a b" NEAR/5 b', "a b", None),
        ("nato NEAR/3 nato", "nato x nato", ("nato",)),
        ("nato NEAR/3 nato", "nato x y z w nato", None),
        ("NOT nato NEAR/1 summit", "nato summit", None),
        ("NOT nato NEAR/1 summit", "nato x y summit", ()),
    ],
)
def test_near_in_both_orders_and_at_the_boundary(query: str, text: str, expected: tuple[str, ...] | None) -> None:
    assert matched(query, text=text) == expected


@pytest.mark.parametrize(
    ("query", "title", "text", "expected"),
    [
        ("title:nato", "NATO summit", "", ("NATO",)),
        ("title:nato", "Summit", "NATO", None),
        ("text:nato", "NATO summit", "", None),
        ("text:nato", "Summit", "NATO", ("NATO",)),
        ("nato", "Summit", "NATO", ("NATO",)),
        ('"nato summit"', "About NATO", "summit in Madrid", None),
        ('title:"nato summit"', "The NATO summit", "", ("NATO summit",)),
        ("title:(nato OR otan) madrid", "L'OTAN", "à Madrid", ("OTAN", "Madrid")),
        ("nato NEAR/5 madrid", "NATO", "Madrid", None),
        ("title:nato NEAR/5 madrid", "NATO in Madrid", "", ("NATO", "Madrid")),
        ("-title:sport nato", "NATO", "sport", ("NATO",)),
        ("-title:sport nato", "NATO sport", "", None),
    ],
)
def test_fields(query: str, title: str, text: str, expected: tuple[str, ...] | None) -> None:
    assert matched(query, title=title, text=text) == expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("nato and summit", "NATO and summit", ("NATO", "and", "summit")),
        ("nato and summit", "NATO summit", None),
        ("nato or summit", "NATO summit", None),
        ("nato OR summit", "summit", ("summit",)),
        ("nato AND summit", "NATO summit", ("NATO", "summit")),
        ("nato AND summit", "NATO", None),
        ("not sport", "not sport", ("not", "sport")),
        ("NOT sport", "politics", ()),
        ("NOT sport", "sport", None),
        ("nato -sport", "NATO sport", None),
        ("nato -sport", "NATO politics", ("NATO",)),
        ("a OR b c", "a c", ("a",)),
        ("a OR b c", "b c", ("b", "c")),
        ("a OR (b c)", "a b", ("a",)),
        ("NOT a b", "a b", None),
        ("NOT a b", "b", ("b",)),
        ("otan", "L'OTAN, l'Otan et l'OTAN", ("OTAN", "Otan")),
    ],
)
def test_boolean_operators_and_lower_case_words(query: str, text: str, expected: tuple[str, ...] | None) -> None:
    assert matched(query, text=text) == expected


def test_hits_come_in_rule_order_and_prefer_the_title() -> None:
    matcher = Matcher({"b": "madrid", "a": "nato", "none": "paris"})
    hits = matcher.match(title="NATO", text="NATO summit in Madrid")
    assert hits == [
        Hit("b", ("Madrid",), "text", "NATO summit in Madrid", ((15, 21),)),
        Hit("a", ("NATO",), "title", "NATO", ((0, 4),)),
    ]


def test_rules_may_be_parsed_nodes() -> None:
    node = Or((Term(("nato",)), Term(("otan",))))
    matcher = Matcher({"built": node, "text": "madrid"})
    assert matcher.rules == {"built": node, "text": parse("madrid")}
    assert [hit.rule for hit in matcher.match(text="L'OTAN à Madrid")] == ["built", "text"]


@pytest.mark.parametrize(
    ("query", "position"),
    [("NATO AND", 5), ('"sommet', 0), ("a NEAR/500 b", 7)],
)
def test_invalid_rule_names_the_rule(query: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        Matcher({"ok": "nato", "broken rule": query})
    assert str(caught.value).startswith("rule 'broken rule': ")
    assert caught.value.reason.startswith("rule 'broken rule': ")
    assert caught.value.position == position
    assert caught.value.query == query


LONG = " ".join(f"word{i}" for i in range(100)) + " the NATO summit " + " ".join(f"tail{i}" for i in range(100))


@pytest.mark.parametrize(
    ("query", "title", "text", "snippet"),
    [
        ("nato", "", "NATO summit", "**NATO** summit"),
        ("otan", "", "Le sommet\n\n  de  l'OTAN.", "Le sommet de l'**OTAN**."),
        ('"sommet de l\'otan"', "", "Le sommet de\nl'OTAN.", "Le **sommet de l'OTAN**."),
        ("nato summit", "", "NATO, NATO summit", "**NATO**, **NATO** **summit**"),
        ('"nato summit" nato', "", "the NATO summit", "the **NATO summit**"),
        ("nato", "NATO: the «summit»", "", "**NATO**: the «summit»"),
        ("NOT sport", "Title", "Politics today.", "Politics today."),
        ("NOT sport", "Only a title", "", "Only a title"),
        ("nato", "", "(NATO)", "(**NATO**)"),
    ],
)
def test_snippet_marks_the_matched_words(query: str, title: str, text: str, snippet: str) -> None:
    hits = Matcher({"rule": query}).match(title=title, text=text)
    assert marked(hits[0].snippet, hits[0].highlights) == snippet
    assert hits[0].snippet == snippet.replace("**", "")


@pytest.mark.parametrize(
    ("query", "text", "snippet", "words"),
    [
        # The field's own asterisks and underscores are text, never a match.
        ("nato", "**Breaking** NATO __now__", "**Breaking** NATO __now__", ["NATO"]),
        ("breaking", "**Breaking** news", "**Breaking** news", ["Breaking"]),
        # Whitespace collapsed around and inside the matches; the offsets follow.
        ("nato summit", " NATO\t\t and\n\n the   summit ", "NATO and the summit", ["NATO", "summit"]),
        ('"sommet de l otan"', "Le  sommet\nde   l'OTAN, enfin", "Le sommet de l'OTAN, enfin", ["sommet de l'OTAN"]),
        ("otan*", "l'OTAN et l'Otanie", "l'OTAN et l'Otanie", ["OTAN", "Otanie"]),
        ("北约", "北约峰会 北约", "北约峰会 北约", ["北约", "北约"]),
        ("NOT sport", "Politics  today", "Politics today", []),
    ],
)
def test_snippet_is_plain_text_with_highlight_offsets(query: str, text: str, snippet: str, words: list[str]) -> None:
    (hit,) = Matcher({"rule": query}).match(text=text)
    assert hit.snippet == snippet
    assert [hit.snippet[start:end] for start, end in hit.highlights] == words
    assert list(hit.highlights) == sorted(hit.highlights)


@pytest.mark.parametrize(
    ("text", "highlights", "mark", "written"),
    [
        ("NATO summit", ((0, 4),), "**", "**NATO** summit"),
        ("NATO summit", ((0, 4), (5, 11)), "**", "**NATO** **summit**"),
        ("NATO summit", (), "**", "NATO summit"),
        ("a **b** c", ((8, 9),), "__", "a **b** __c__"),
    ],
)
def test_marked(text: str, highlights: tuple[tuple[int, int], ...], mark: str, written: str) -> None:
    assert marked(text, highlights, mark) == written


@pytest.mark.parametrize(
    ("text", "starts_cut", "ends_cut"),
    [
        (LONG, True, True),
        ("the NATO summit " + " ".join(f"tail{i}" for i in range(100)), False, True),
        (" ".join(f"word{i}" for i in range(100)) + " the NATO summit.", True, False),
    ],
)
def test_snippet_is_about_200_characters_cut_at_words(text: str, starts_cut: bool, ends_cut: bool) -> None:
    hit = Matcher({"rule": '"nato summit"'}).match(text=text)[0]
    assert [hit.snippet[start:end] for start, end in hit.highlights] == ["NATO summit"]
    assert hit.snippet.startswith("…") is starts_cut
    assert hit.snippet.endswith("…") is ends_cut
    plain = hit.snippet.strip("…")
    assert 150 <= len(plain) <= 200
    assert plain in text
    words = plain.split()
    assert all(word in text.split() or word.rstrip(".") in text.split() for word in words)


def test_snippet_of_a_not_only_match_is_the_start_of_the_text() -> None:
    hit = Matcher({"rule": "NOT sport"}).match(title="Title", text=LONG)[0]
    assert hit.matched == ()
    assert hit.field == "text"
    assert hit.snippet.startswith("word0 word1 ")
    assert hit.snippet.endswith("…")
    assert len(hit.snippet) <= 201
    assert hit.highlights == ()


@settings(max_examples=300, deadline=None)
@given(title=st.text(), text=st.text())
def test_match_never_fails_on_any_article(title: str, text: str) -> None:
    rules = {"a": "nato OR otan*", "b": "NOT sport", "c": '"a b" NEAR/2 title:c', "d": "北约 OR l'Otan"}
    for hit in Matcher(rules).match(title=title, text=text):
        assert hit.field in ("title", "text")
        assert all(0 <= start < end <= len(hit.snippet) for start, end in hit.highlights)
        assert all(a[1] <= b[0] for a, b in zip(hit.highlights, hit.highlights[1:], strict=False))
        assert all(
            term in title or term in " ".join(text.split()) or term in " ".join(title.split()) for term in hit.matched
        )


# A long text in which two words lie close together all along: NEAR/100 of them would make a million pairs.
CROWDED = "alpha beta " * 50_000


@pytest.mark.parametrize(
    ("query", "title", "text", "most"),
    [
        ("alpha NEAR/100 beta", "", CROWDED, 2 * MAX_OCCURRENCES),
        ("alpha NEAR/100 alpha", "", CROWDED, 2 * MAX_OCCURRENCES),
        ('"alpha beta" NEAR/50 "beta alpha"', "", CROWDED, 2 * MAX_OCCURRENCES),
        ("alpha", "", CROWDED, MAX_OCCURRENCES),
        ("alpha", "alpha beta " * 2_000, CROWDED, 2 * MAX_OCCURRENCES),  # so many per field
        ('"alpha beta"', "", CROWDED, MAX_OCCURRENCES),
        ("alph*", "", CROWDED, MAX_OCCURRENCES),
        ("alpha beta", "", CROWDED, 2 * MAX_OCCURRENCES),
    ],
)
def test_a_rule_lists_a_bounded_number_of_occurrences(query: str, title: str, text: str, most: int) -> None:
    tree = parse(query)
    document = Document.build(title, text)
    found = compile_tree(tree)(document)
    assert found is not None and len(found) == most
    assert found == evaluate(tree, document)  # the reference keeps the same first ones
    (hit,) = Matcher({"rule": query}).match(title, text)
    assert starred(hit.snippet, hit.highlights).startswith("**alph")


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # Thousands of lefts without a right near them, then one pair: every left is still looked at.
        ("alpha NEAR/3 omega", "alpha beta " * 5_000 + "alpha omega"),
        ("omega NEAR/3 alpha", "alpha beta " * 5_000 + "omega alpha"),
        ('"alpha beta" NEAR/0 omega', "alpha beta gamma " * 5_000 + "alpha beta omega"),
    ],
)
def test_the_bound_never_changes_whether_a_rule_matches(query: str, text: str) -> None:
    (hit,) = Matcher({"rule": query}).match("", text)
    assert "omega" in hit.matched
    assert starred(hit.snippet, hit.highlights).endswith(("**omega**", "**alpha**"))
