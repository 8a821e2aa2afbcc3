from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Matcher, parse, wordtable
from monitor.matching.forms import Forms
from monitor.matching.index import RuleIndex, anchors_of
from monitor.matching.matcher import Document, match_every_rule

WORDS = ["nato", "otan", "summit", "sommet", "de", "l", "madrid", "донбас", "київ", "sécurité", "straße", "北约", "x"]
SPELLINGS = {
    "nato": ["NATO", "Nato", "nato"],
    "otan": ["OTAN", "Otan", "l'Otan", "l’OTAN"],
    "sécurité": ["sécurité", "SECURITE", "Sécurité"],
    "straße": ["Straße", "STRASSE", "strasse"],
    "київ": ["Київ", "КИЇВ"],
    "донбас": ["Донбас", "донбасі", "ДОНБАС"],
}


@pytest.mark.parametrize(
    ("query", "anchors"),
    [
        ("nato", {("nato", False)}),
        ('"sommet de l\'otan"', {("sommet", False)}),
        ("secur*", {("secur", True)}),
        ('"nato summ*"', {("nato", False)}),
        ("nato OR otan", {("nato", False), ("otan", False)}),
        ("nato summit", {("summit", False)}),
        ("a NEAR/3 madrid", {("madrid", False)}),
        ("nato -sport", {("nato", False)}),
        ("NOT sport", None),
        ("nato OR NOT sport", None),
        ("(nato OR otan) (summit OR sommet OR gipfel)", {("nato", False), ("otan", False)}),
    ],
)
def test_anchors(query: str, anchors: set[tuple[str, bool]] | None) -> None:
    found = anchors_of(parse(query))
    assert (None if found is None else set(found)) == anchors


def test_only_candidate_rules_and_not_only_rules_are_checked() -> None:
    trees = [parse(q) for q in ("nato", "otan OR navo", "secur*", "NOT sport", "madrid summit")]
    index = RuleIndex(trees)
    assert index.always == (3,)
    assert index.candidates({"nato", "securite", "summit"}).rules == [0, 2, 3]
    assert index.candidates({"madrid"}).rules == [3]  # "madrid summit" needs both of its words
    assert index.candidates({"summit", "navo"}).rules == [1, 3]
    assert index.candidates({"se"}).rules == [3]
    found = index.candidates({"securite", "secure", "sport", "nato", "madrid"})
    assert sorted(found.prefixed) == ["secure", "securite"]
    assert found.present == {"sport", "nato", "madrid"}


def test_matcher_with_index_finds_the_sample_hits() -> None:
    matcher = Matcher({"a": "nato summit", "b": "NOT sport", "c": "secur*", "d": "nothing"})
    hits = matcher.match(title="NATO summit", text="Sécurité renforcée")
    assert [h.rule for h in hits] == ["a", "b", "c"]


def spelling(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from(SPELLINGS.get(word, [word, word.upper(), word.capitalize()]))


texts = st.lists(
    st.tuples(st.sampled_from(WORDS).flatmap(spelling), st.sampled_from([" ", ", ", "-", "'", ". ", " — "])),
    max_size=25,
).map(lambda pairs: "".join(word + sep for word, sep in pairs))

plain_terms = st.one_of(
    st.sampled_from(WORDS).flatmap(spelling),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["nat*", "som*", "донб*", "sécu*", "str*"]),
)
terms = st.one_of(
    plain_terms,
    st.tuples(st.sampled_from(["title:", "text:"]), st.sampled_from(WORDS)).map("".join),
)
nears = st.tuples(plain_terms, st.integers(0, 4), plain_terms).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")
queries = st.recursive(
    st.one_of(terms, nears),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda q: f"NOT {q}"),
        inner.map(lambda q: f"-({q})"),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(queries, min_size=1, max_size=12), title=texts, text=texts)
def test_index_gives_exactly_the_hits_of_evaluating_every_rule(rules: list[str], title: str, text: str) -> None:
    named = {f"rule {i}": query for i, query in enumerate(rules)}
    matcher = Matcher(named, forms=Forms.none())
    document = Document.build(title, text)
    expected = match_every_rule(matcher.rules, document)
    assert matcher.match_document(document) == expected
    # The matcher's own document lists positions only for the rules' words; the hits are the same.
    assert matcher.match(title, text) == expected
    # With word forms, evaluating every rule on the document that lists the forms gives the index's hits.
    with_forms = Matcher(named)
    for language in (None, "en", "ru"):
        forms_document = with_forms.document(title, text, language)
        assert with_forms.match_document(forms_document) == match_every_rule(with_forms.rules, forms_document)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(queries, min_size=1, max_size=12), title=texts, text=texts)
def test_the_index_of_a_large_rule_set_gives_the_same_hits(rules: list[str], title: str, text: str) -> None:
    # Past wordtable.SMALL words, the index looks words up in hash buckets instead of a dictionary.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wordtable, "SMALL", 0)
        matcher = Matcher({f"rule {i}": query for i, query in enumerate(rules)}, forms=Forms.none())
    assert matcher.match(title, text) == match_every_rule(matcher.rules, Document.build(title, text))
