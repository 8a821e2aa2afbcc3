"""The word index of articles: what it posts, and a sieve that keeps every article a rule matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Matcher, compile_rule, parse, wordindex
from monitor.matching.forms import Forms, default
from monitor.matching.possible import Possible
from monitor.matching.wordindex import WordIndex

NOW = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)
ARTICLES = [
    ("NATO summit opens in Vilnius", "Leaders meet.", "en"),
    ("Бои в Донбассе продолжаются", "Обстрелы не прекращаются.", "ru"),
    ("Football: Donbass derby", "A match report.", "en"),
    ("Weather", "Sunny in the Donbas region today. Security first.", "en"),
    ("Les sommets de l'OTAN", "La sécurité européenne.", "fr"),
    ("北约峰会", "北约 summits", None),
    ("Two NATO summits", "Securities markets fall.", None),
    ("Положение Донбасса", "", None),
]


def indexed(forms: Forms | None = None, articles: list[tuple[str, str, str | None]] = ARTICLES) -> WordIndex:
    index = WordIndex(default() if forms is None else forms)
    for n, (title, text, language) in enumerate(articles):
        index.add(100 + n, title, text, language, NOW - timedelta(hours=n), None)
    index.settle()
    return index


def kept(index: WordIndex, query: str) -> set[int] | None:
    found = index.sieve(parse(query)).kept
    return None if found is None else set(np.flatnonzero(found).tolist())


@pytest.mark.parametrize(
    ("query", "expected", "exact"),
    [
        ("nato", {0, 6}, True),
        ("summit", {0, 5, 6}, True),  # "summits" in an English article and in no clear language
        ('"nato summit"', {0, 6}, False),  # both words: their order is left to the matcher
        ("title:nato", {0, 6}, True),  # titles are indexed apart
        ("title:donbass", {2}, True),
        ("title:Донбасс", {1, 7}, True),
        ("title:weather", {3}, True),
        ("text:nato", {0, 6}, False),  # in the title: the text is left to the matcher
        ("title:secur*", {3, 4, 6}, False),
        ('title:"nato summit"', {0, 6}, False),
        ("Донбасс", {1, 7}, True),  # Донбассе, Донбасса
        ("=Донбасс", set(), True),
        ("=summits", {5, 6}, True),
        ("sommet", {4}, True),
        ("secur*", {3, 4, 6}, True),  # sécurité folds to securite
        ('"nato summ*"', {0, 6}, False),
        ("北约", {5}, False),  # a phrase of two characters
        ("donbass NEAR/3 derby", {2}, False),
        ("(donbass OR donbas) -football", {3}, True),
        ("nato OR otan", {0, 4, 6}, True),
        ("vilnius summit", {0}, True),
        ("NOT nato", {1, 2, 3, 4, 5, 7}, True),
        ('NOT "nato summit"', None, False),
        ("weather OR NOT nato", {1, 2, 3, 4, 5, 7}, True),
        ('weather OR NOT "nato summit"', None, False),
        ('"nato summit" -weather', {0, 6}, False),
        ("absent", set(), True),
        ("abs*", set(), True),
    ],
)
def test_the_sieve(query: str, expected: set[int] | None, exact: bool) -> None:
    index = indexed()
    assert kept(index, query) == expected
    assert index.sieve(parse(query)).exact == exact


def test_without_tables_words_are_posted_as_written() -> None:
    index = indexed(Forms.none())
    assert kept(index, "Донбасс") == set() and index.words == indexed(Forms.none()).words
    assert kept(index, "донбассе") == {1}
    assert kept(index, "summit") == {0}


def test_the_window_and_the_ids_newest_first() -> None:
    index = WordIndex(Forms.none())
    index.add(7, "a", "", None, NOW - timedelta(days=9), NOW - timedelta(days=1))  # published within the window
    index.add(3, "b", "", None, NOW - timedelta(days=9), None)
    index.add(9, "c", "", None, NOW, None)
    index.add(5, "d", "", None, NOW - timedelta(days=2), None)
    window = index.window(NOW - timedelta(days=2))
    assert window.tolist() == [True, False, True, True]
    assert index.newest_first(window) == [9, 7, 5]
    assert index.fetched_since(NOW - timedelta(days=2)) == {9, 5}
    assert len(index) == 4 and index.words == 4


def test_forms_are_found_however_few_lemmas_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wordindex, "REMEMBERED", 2)
    monkeypatch.setattr(wordindex, "SETTLED", 1)
    index = indexed()
    assert kept(index, "Донбасс") == {1, 7} and kept(index, "summit") == {0, 5, 6}
    index.add(200, "Снова о Донбассе", "", "ru", NOW, None)
    assert kept(index, "Донбасс") == {1, 7, len(ARTICLES)}


def test_words_posted_after_settling_are_found_by_prefix() -> None:
    index = indexed()
    index.add(200, "Securitization", "", "en", NOW, None)
    assert kept(index, "secur*") == {3, 4, 6, len(ARTICLES)}


WORDS = [
    "nato",
    "summit",
    "summits",
    "sommet",
    "sommets",
    "attacked",
    "attack",
    "de",
    "l",
    "otan",
    "Донбасс",
    "Донбассе",
    "Донбасса",
    "Донбас",
    "Донбасі",
    "Київ",
    "Києві",
    "sécurité",
    "security",
    "straße",
    "left",
    "leave",
    "Gipfeln",
    "Gipfel",
    "szczycie",
    "mine",
    "minerai",
    "北约",
    "峰会",
    "x",
]
LANGUAGES = [None, "en", "fr", "ru", "uk", "de", "pl", "zz"]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", ", ", "-", "'", ". "])), max_size=12).map(
    lambda pairs: "".join(word + sep for word, sep in pairs)
)
articles = st.lists(st.tuples(texts, texts, st.sampled_from(LANGUAGES)), min_size=1, max_size=12)
plain = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda word: "=" + word),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["nat*", "som*", "донб*", "sécu*", "secur*", "att*", '"nato summ*"']),
)
terms = st.one_of(plain, st.tuples(st.sampled_from(["title:", "text:"]), plain).map("".join))
nears = st.tuples(plain, st.integers(0, 3), plain).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")
queries = st.recursive(
    st.one_of(terms, nears),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda q: f"NOT {q}"),
    ),
    max_leaves=5,
)
entries = st.lists(st.sampled_from([*WORDS, "=summit", "Донб*", "nato summit"]), max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=articles, query=st.one_of(st.none(), queries), any=entries, exclude=entries)
def test_the_sieve_keeps_every_article_the_rule_matches_and_only_those_when_exact_and_each_is_possible(
    stored: list[tuple[str, str, str | None]], query: str | None, any: list[str], exclude: list[str]
) -> None:
    if query is None and not any and not exclude:
        query = "nato"
    tree = compile_rule(query, any, exclude)
    matcher = Matcher({"rule": tree})
    index = indexed(articles=stored)
    found = index.sieve(tree)
    possible = Possible(tree, index)
    for position, (title, text, language) in enumerate(stored):
        matched = bool(matcher.match(title, text, language))
        assert possible(title, text) or not matched, (position, title, text, language)
        if found.exact:
            assert found.kept is not None and found.kept[position] == matched, (position, title, text, language)
        elif matched:
            assert found.kept is None or found.kept[position], (position, title, text, language)
