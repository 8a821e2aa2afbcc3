"""The word index of articles: what it posts, and a sieve that keeps every article a rule matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Matcher, compile_rule, parse
from monitor.matching.forms import Forms, default
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
    found = index.sieve(parse(query))
    return None if found is None else set(np.flatnonzero(found).tolist())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nato", {0, 6}),
        ("summit", {0, 5, 6}),  # "summits" in an English article and in no clear language
        ('"nato summit"', {0, 6}),
        ("title:nato", {0, 6}),  # fields are left to the matcher
        ("Донбасс", {1, 7}),  # Донбассе, Донбасса
        ("=Донбасс", {1, 7}),  # the word's key holds its forms too: the matcher keeps only the word as written
        ("=summits", {5, 6}),
        ("sommet", {4}),
        ("secur*", {3, 4, 6}),  # sécurité folds to securite
        ('"nato summ*"', {0, 6}),
        ("北约", {5}),
        ("donbass NEAR/3 derby", {2}),
        ("(donbass OR donbas) -football", {2, 3}),
        ("nato OR otan", {0, 4, 6}),
        ("vilnius summit", {0}),
        ("NOT nato", None),
        ("weather OR NOT nato", None),
        ("absent", set()),
        ("abs*", set()),
    ],
)
def test_the_sieve(query: str, expected: set[int] | None) -> None:
    assert kept(indexed(), query) == expected


def test_without_tables_words_are_posted_as_written() -> None:
    index = indexed(Forms.none())
    assert kept(index, "Донбасс") == set()
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
    "北约",
    "峰会",
    "x",
]
LANGUAGES = [None, "en", "fr", "ru", "uk", "de", "zz"]
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
terms = st.one_of(plain, st.tuples(st.sampled_from(["title:", "text:"]), st.sampled_from(WORDS)).map("".join))
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
def test_the_sieve_keeps_every_article_the_rule_matches(
    stored: list[tuple[str, str, str | None]], query: str | None, any: list[str], exclude: list[str]
) -> None:
    if query is None and not any and not exclude:
        query = "nato"
    tree = compile_rule(query, any, exclude)
    matcher = Matcher({"rule": tree})
    index = indexed(articles=stored)
    found = index.sieve(tree)
    for position, (title, text, language) in enumerate(stored):
        if matcher.match(title, text, language):
            assert found is None or found[position], (position, title, text, language)
