"""Word forms: a rule's word matches its inflected forms in the article's language, and never another word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching import Matcher
from monitor.matching.forms import FormIndex, Forms, default
from monitor.matching.rule import compile_rule
from tests.conftest import FIXTURES

PAIRS = [
    tuple(line.rstrip("\n").split("\t"))
    for line in (FIXTURES / "word_forms.tsv").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def matched(query: str, text: str, language: str | None, title: str = "") -> tuple[str, ...] | None:
    hits = Matcher({"rule": query}).match(title, text, language)
    return hits[0].matched if hits else None


def test_the_tables_are_installed() -> None:
    assert {"ru", "uk", "en", "fr", "de", "es", "pl", "tr"} <= default().languages


@pytest.mark.parametrize(("language", "word", "form", "same"), PAIRS, ids=[f"{p[0]}:{p[1]}:{p[2]}" for p in PAIRS])
def test_a_word_matches_its_forms_and_no_other_word(language: str, word: str, form: str, same: str) -> None:
    found = matched(word, f"… {form} …", language)
    assert found == ((form,) if same == "1" else None)
    # With =, only the word as written.
    assert matched(f"={word}", f"… {form} …", language) == ((form,) if form.casefold() == word.casefold() else None)


@pytest.mark.parametrize(
    ("query", "text", "language", "expected"),
    [
        ("Донбасс", "Бои в Донбассе продолжаются", "ru", ("Донбассе",)),
        ("Донбасс", "положение Донбасса", "ru", ("Донбасса",)),
        ("Донбас", "Обстріли на Донбасі", "uk", ("Донбасі",)),
        ("Донбас", "допомога Донбасу", "uk", ("Донбасу",)),
        ("саммит НАТО", "Лидеры встретятся на саммите НАТО", "ru", ("саммите", "НАТО")),
        ('"sommet de l\'OTAN"', "les sommets de l'OTAN se suivent", "fr", ("sommets de l'OTAN",)),
        ('"NATO summit"', "two NATO summits a year", "en", ("NATO summits",)),
        ("NATO zirve", "NATO zirvesinde son gün", "tr", ("NATO", "zirvesinde")),
        ("szczyt", "na szczycie NATO", "pl", ("szczycie",)),
        ("attack", "the convoy was attacked", "en", ("attacked",)),
        ("Gipfel", "nach den Gipfeln", "de", ("Gipfeln",)),
        ("cumbre", "las cumbres de la OTAN", "es", ("cumbres",)),
        ("sommet NEAR/2 Otan", "les sommets de l'Otan", "fr", ("sommets", "Otan")),
        ('="NATO summit"', "two NATO summits a year", "en", None),
        ("NATO =summit", "a NATO summit, then summits", "en", ("NATO", "summit")),
        ("organ", "the organization grew", "en", None),
        ("universe", "the university grew", "en", None),
        ("new", "the news", "en", None),
        ("mine", "le minerai de fer", "fr", None),
        ("NATO", "NATOnal", "en", None),
        ("title:Донбасс", "", "ru", None),
    ],
)
def test_forms_inside_phrases_near_and_fields(
    query: str, text: str, language: str | None, expected: tuple[str, ...] | None
) -> None:
    assert matched(query, text, language) == expected


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [
        ("Донбасс", "Бои в Донбассе", ("Донбассе",)),  # three Russian words: no clear language
        ("Донбас", "Бої на Донбасі", ("Донбасі",)),
        ("szczyt", "Po szczycie", ("szczycie",)),
        ("zirve", "Zirvede uzlaşı", ("Zirvede",)),
    ],
)
def test_a_short_title_in_no_clear_language_is_read_in_the_languages_of_its_script(
    query: str, title: str, expected: tuple[str, ...]
) -> None:
    assert matched(query, "", None, title) == expected


def test_a_rule_can_turn_forms_off() -> None:
    rule = compile_rule(None, ["Донбасс"])
    assert Matcher({"r": rule}).match("", "в Донбассе", "ru")
    from monitor.matching.query import exactly

    assert not Matcher({"r": exactly(rule)}).match("", "в Донбассе", "ru")
    assert Matcher({"r": exactly(rule)}).match("", "в Донбасс", "ru")


def test_without_tables_words_match_as_written() -> None:
    matcher = Matcher({"r": "Донбасс"}, forms=Forms.none())
    assert not matcher.match("", "в Донбассе", "ru")
    assert matcher.match("", "Донбасс", "ru")


def test_form_index_remembers_what_words_are_forms_of() -> None:
    index = FormIndex({"донбасс", "summit"}, default())
    assert index.aliases({"донбассе", "summits", "donbass"}, None) == {"донбасс": ["донбассе"], "summit": ["summits"]}
    assert index.aliases({"донбассе"}, "ru") == {"донбасс": ["донбассе"]}
    assert index.aliases({"донбассе"}, "en") == {}  # read as English, it is nobody's form


WORDS = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu"), max_codepoint=0x4FF), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(word=WORDS, language=st.sampled_from([None, "en", "ru", "uk", "fr", "de", "es", "pl", "tr"]))
def test_a_word_always_matches_itself(word: str, language: str | None) -> None:
    rule = compile_rule(None, [word])  # a literal entry: an operator's name is a word too
    assert Matcher({"rule": rule}).match("", f"x {word} y", language)


def test_rules_test_shows_the_form_that_matched(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "monitor", "rules", "test", "Донбасс", "--text", "Бои в Донбассе продолжаются"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"Донбассе"' in done.stdout and "**Донбассе**" in done.stdout and '"language": "ru"' in done.stdout
