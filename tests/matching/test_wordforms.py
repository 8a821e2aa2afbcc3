"""The forms of indexed articles' words: which words a rule's word may find, and in which article languages."""

from __future__ import annotations

import pytest

from monitor.matching.forms import default
from monitor.matching.wordforms import ArticleForms


def languages(forms: ArticleForms, codes: frozenset[int] | None) -> set[str] | None:
    """Return the languages of these codes, "script" standing for an article in no tabled language."""
    if codes is None:
        return None
    named = {language for language, code in forms.codes.items() if code in codes}
    return named | ({"script"} if 0 in codes else set())


@pytest.mark.parametrize(
    ("spelled", "word", "within", "without"),
    [
        ("summits", "summit", {"en", "script"}, {"ru", "uk"}),
        ("донбассе", "донбасс", {"ru", "script"}, {"en", "fr"}),
        ("summit", "summits", {"en", "script"}, {"ru"}),  # a rule may write a form: they share a lemma
        ("sommet", "summit", set(), {"en", "fr", "script"}),
    ],
)
def test_where_an_article_word_counts_as_a_rule_word(
    spelled: str, word: str, within: set[str], without: set[str]
) -> None:
    forms = ArticleForms(default())
    found = languages(forms, forms.counted_in(spelled, word))
    assert found is not None and within <= found and not found & without


def test_a_word_counts_as_itself_in_every_language() -> None:
    forms = ArticleForms(default())
    assert forms.counted_in("nato", "nato") is None


def test_the_words_found_as_forms_are_those_a_rule_word_may_find_however_often_lemmas_are_forgotten() -> None:
    forms = ArticleForms(default())
    assert forms.lemmas_of({"донбассе", "бои"}, "ru")
    forms.settle()  # forgets the lemmas looked up, not the words found as forms
    assert {"донбасс", "донбассе"} <= forms.spellings("донбасс")
    assert "донбассе" not in forms.spellings("summit")
