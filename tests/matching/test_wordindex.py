"""The word index of articles: what it posts, and a sieve that keeps exactly the articles a rule matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Matcher, compile_rule, parse, wordforms
from monitor.matching.forms import Forms, default
from monitor.matching.text import words_of
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


def kept(index: WordIndex, query: str) -> set[int]:
    return set(np.flatnonzero(index.sieve(parse(query))).tolist())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nato", {0, 6}),
        ("summit", {0, 5, 6}),  # "summits" in an English article and in no clear language
        ('"nato summit"', {0, 6}),  # "NATO summits": a form of summit
        ('"summit nato"', set()),  # the order counts
        ('="nato summit"', {0}),
        ('="nato summits"', {6}),  # the words as written
        ("title:nato", {0, 6}),
        ("title:donbass", {2}),
        ("title:Донбасс", {1, 7}),
        ("title:weather", {3}),
        ("text:nato", set()),  # only in titles
        ("text:summit", {5}),
        ("title:secur*", set()),  # only in texts
        ("text:secur*", {3, 4, 6}),
        ('title:"nato summit"', {0, 6}),
        ('text:"nato summit"', set()),
        ("Донбасс", {1, 7}),  # Донбассе, Донбасса
        ("=Донбасс", set()),
        ('"в Донбасс"', {1}),  # "в Донбассе", a form in a Russian article
        ('"в Донбасс*"', {1}),
        ('"бои в донб*"', {1}),
        ('="в Донбасс"', set()),
        ('="в Донбассе"', {1}),
        ("=summits", {5, 6}),
        ("sommet", {4}),
        ('"sommet de l otan"', {4}),  # les sommets de l'OTAN
        ("secur*", {3, 4, 6}),  # sécurité folds to securite
        ('"nato summ*"', {0, 6}),
        ('"two nato summ*"', {6}),
        ('"summ* opens"', set()),  # a prefix ends a phrase: this is "summ" then "opens"
        ("北约", {5}),  # a phrase of two characters, in the title and in the text
        ("text:北约", {5}),
        ("约北", set()),
        ("北约峰会", {5}),
        ("峰会 NEAR/0 北约", {5}),
        ("title:峰会 NEAR/1 summit", set()),  # not in one field
        ("donbass NEAR/3 derby", {2}),
        ("derby NEAR/3 donbass", {2}),  # either order
        ("donbass NEAR/0 football", {2}),  # adjacent: nothing between them
        ("nato NEAR/1 vilnius", set()),  # three words between them
        ("nato NEAR/3 vilnius", {0}),
        ("summit NEAR/0 summit", set()),  # two occurrences that do not overlap are needed
        ("title:(nato NEAR/2 summ*)", {0, 6}),
        ("text:(leaders NEAR/1 meet)", {0}),
        ('"nato summit" NEAR/2 vilnius', {0}),
        ("sommet NEAR/2 otan", {4}),
        ("Донбасс NEAR/1 бои", {1}),
        ("(donbass OR donbas) -football", {3}),
        ("nato OR otan", {0, 4, 6}),
        ("vilnius summit", {0}),
        ("(nato OR weather) AND text:vilnius", set()),
        ("(nato OR weather) AND text:meet", {0}),
        ("NOT nato", {1, 2, 3, 4, 5, 7}),
        ('NOT "nato summit"', {1, 2, 3, 4, 5, 7}),
        ("weather OR NOT nato", {1, 2, 3, 4, 5, 7}),
        ('weather OR NOT "nato summit"', {1, 2, 3, 4, 5, 7}),
        ('"nato summit" -weather', {0, 6}),
        ('"nato summit" -"two nato"', {0}),
        ("absent", set()),
        ("abs*", set()),
        ('"absent nato"', set()),
    ],
)
def test_the_sieve_keeps_exactly_the_articles_the_rule_matches(query: str, expected: set[int]) -> None:
    assert kept(indexed(), query) == expected
    matcher = Matcher({"rule": parse(query)})
    assert {n for n, (title, text, language) in enumerate(ARTICLES) if matcher.match(title, text, language)} == expected


def test_the_sieve_looks_only_within_the_positions_it_is_given() -> None:
    index = indexed()
    within = np.zeros(len(ARTICLES), np.bool_)
    within[[1, 6]] = True
    assert np.flatnonzero(index.sieve(parse('"nato summit"'), within)).tolist() == [6]
    assert np.flatnonzero(index.sieve(parse("NOT nato"), within)).tolist() == [1]


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
    monkeypatch.setattr(wordforms, "REMEMBERED", 2)
    monkeypatch.setattr(wordforms, "SETTLED", 1)
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
    "北",
    "会",
    "x",
]
LANGUAGES = [None, "en", "fr", "ru", "uk", "de", "pl", "zz"]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", ", ", "-", "'", ". "])), max_size=12).map(
    lambda pairs: "".join(word + sep for word, sep in pairs)
)
articles = st.lists(st.tuples(texts, texts, st.sampled_from(LANGUAGES)), min_size=1, max_size=12)
PREFIXES = ["nat", "som", "донб", "sécu", "secur", "att", "sum", "gip"]
phrases = st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(" ".join)
plain = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda word: "=" + word),
    phrases.map(lambda phrase: f'"{phrase}"'),
    phrases.map(lambda phrase: f'="{phrase}"'),
    st.sampled_from(PREFIXES).map(lambda prefix: prefix + "*"),
    st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2), st.sampled_from(PREFIXES)).map(
        lambda pair: '"' + " ".join(pair[0]) + f' {pair[1]}*"'
    ),
)
fields = st.sampled_from(["", "title:", "text:"])
terms = st.tuples(fields, plain).map("".join)
nears = st.tuples(fields, plain, st.integers(0, 3), plain).map(lambda t: f"{t[0]}({t[1]} NEAR/{t[2]} {t[3]})")
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


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=articles, query=st.one_of(st.none(), queries), any=entries, exclude=entries)
def test_the_sieve_keeps_exactly_the_articles_the_rule_matches_whatever_the_rule(
    stored: list[tuple[str, str, str | None]], query: str | None, any: list[str], exclude: list[str]
) -> None:
    if query is None and not any and not exclude:
        query = "nato"
    tree = compile_rule(query, any, exclude)
    matcher = Matcher({"rule": tree})
    found = indexed(articles=stored).sieve(tree)
    for position, (title, text, language) in enumerate(stored):
        assert found[position] == bool(matcher.match(title, text, language)), (position, title, text, language)


# Other forms of some of the words above, which a rule's word finds: a phrase's word may be written so.
LEMMAS = {"summits": "summit", "sommets": "sommet", "донбассе": "донбасс", "донбасса": "донбасс", "києві": "київ"}


@st.composite
def drawn(draw: st.DrawFn, stored: list[tuple[str, str, str | None]]) -> str:
    """Return a phrase or a NEAR made of the words of one of the articles, as they lie there."""
    title, text, _ = draw(st.sampled_from(stored))
    field = draw(fields)
    words = words_of({"title:": title, "text:": text}.get(field) or draw(st.sampled_from([title, text])))
    if not words:
        return "nato"
    first = draw(st.integers(0, len(words) - 1))
    if draw(st.booleans()):
        chosen = [LEMMAS.get(word, word) for word in words[first : first + draw(st.integers(1, 3))]]
        if len(chosen[-1]) > 3 and draw(st.booleans()):
            return field + '"' + " ".join([*chosen[:-1], chosen[-1][: draw(st.integers(3, len(chosen[-1])))]]) + '*"'
        return field + draw(st.sampled_from(["", "="])) + '"' + " ".join(chosen) + '"'
    second = draw(st.integers(0, len(words) - 1))
    distance = max(0, abs(second - first) - 1 + draw(st.integers(-1, 1)))
    left, right = LEMMAS.get(words[first], words[first]), words[second]
    return f"{field}({left} NEAR/{distance} {right})"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=articles, data=st.data())
def test_phrases_and_nears_of_the_articles_own_words_are_found_exactly(
    stored: list[tuple[str, str, str | None]], data: st.DataObject
) -> None:
    query = data.draw(drawn(stored))
    tree = parse(query)
    matcher = Matcher({"rule": tree})
    found = indexed(articles=stored).sieve(tree)
    for position, (title, text, language) in enumerate(stored):
        assert found[position] == bool(matcher.match(title, text, language)), (query, position, title, text, language)


def test_phrases_and_titles_of_articles_added_after_settling_are_found() -> None:
    index = indexed()
    index.add(200, "Securitization summits", "Как в Донбассе", None, NOW, None)
    assert kept(index, '"securitization summit"') == kept(index, "title:secur*") == {len(ARTICLES)}
    assert kept(index, '"как в донбасс"') == {len(ARTICLES)}
    index.add(201, "Securitization summits", "", "ru", NOW, None)  # "summits" is no Russian form of summit
    assert kept(index, '"securitization summit"') == {len(ARTICLES)}
