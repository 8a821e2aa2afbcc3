from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching import text as text_module
from monitor.matching.text import Token, fold, scan, tokenize


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("sécurité", "securite"),
        ("SÉCURITÉ", "securite"),
        ("Ça où naïve Zürich", "ca ou naive zurich"),
        ("Straße", "STRASSE"),
        ("İstanbul", "istanbul"),
        ("ISTANBUL", "istanbul"),
        ("Київ", "КИЇВ"),
        ("Київ", "киів"),
        ("Αθήνα", "αθηνα"),
        ("ΑΘΉΝΑ", "αθηνα"),
        ("Ὀδυσσεύς", "οδυσσευς"),
        ("ＮＡＴＯ", "nato"),
        ("ﬁnal", "final"),
        ("كَتَبَ", "كتب"),
        ("كتـــب", "كتب"),
        ("שָׁלוֹם", "שלום"),
        ("e\u0301te\u0301", "été"),
        ("Ærø", "ærø"),
    ],
)
def test_fold_makes_case_and_accents_irrelevant(left: str, right: str) -> None:
    assert fold(left) == fold(right)


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("NATO", "nato"),
        ("sécurité", "securite"),
        ("Straße", "strasse"),
        ("İstanbul", "istanbul"),
        ("КИЇВ", "киів"),
        ("Αθήνα", "αθηνα"),
        ("ＮＡＴＯ", "nato"),
        ("नमस्ते", "नमस्ते"),
        ("ภาษาไทย", "ภาษาไทย"),
        ("北约", "北约"),
        ("ガ", "ガ"),
    ],
)
def test_fold_result(word: str, folded: str) -> None:
    assert fold(word) == folded


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("l'Otan", ["l", "otan"]),
        ("l’Otan", ["l", "otan"]),
        ("lʼOtan", ["l", "otan"]),
        ("NATO-summit", ["nato", "summit"]),
        ("snake_case", ["snake", "case"]),
        ("<b>sommet</b>, à Madrid!", ["b", "sommet", "b", "a", "madrid"]),
        ("**Ukraine réclame**", ["ukraine", "reclame"]),
        ("http://example.org/a?b=1", ["http", "example", "org", "a", "b", "1"]),
        ("北约峰会", ["北", "约", "峰", "会"]),
        ("コーヒーを飲む", ["コ", "ー", "ヒ", "ー", "を", "飲", "む"]),
        ("NATO北约summit", ["nato", "北", "约", "summit"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),
        ("ภาษาไทย ง่าย", ["ภาษาไทย", "ง่าย"]),
        ("Донбас, Донбасс", ["донбас", "донбасс"]),
        ("secu\u00adrity", ["security"]),
        ("10 000 hommes", ["10", "000", "hommes"]),
        ("½", ["1", "2"]),
        ("", []),
        ("  ... !!! ", []),
    ],
)
def test_tokenize_words(text: str, words: list[str]) -> None:
    assert [token.text for token in tokenize(text)] == words


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("l'Otan", [Token("l", 0, 1, 0), Token("otan", 2, 6, 1)]),
        ("  Été-2022", [Token("ete", 2, 5, 0), Token("2022", 6, 10, 1)]),
        ("北约", [Token("北", 0, 1, 0), Token("约", 1, 2, 1)]),
        ("a ½ b", [Token("a", 0, 1, 0), Token("1", 2, 3, 1), Token("2", 2, 3, 2), Token("b", 4, 5, 3)]),
        ("ＮＡＴＯ!", [Token("nato", 0, 4, 0)]),
    ],
)
def test_tokenize_offsets_point_into_the_original(text: str, tokens: list[Token]) -> None:
    assert tokenize(text) == tokens


def test_original_spelling_can_be_sliced_out() -> None:
    text = "le sommet de l'Otan prévu à Madrid"
    assert [text[t.start : t.end] for t in tokenize(text)] == [
        "le", "sommet", "de", "l", "Otan", "prévu", "à", "Madrid",
    ]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokenize_is_consistent_on_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert [t.index for t in tokens] == list(range(len(tokens)))
    assert [t.text for t in tokens] == scan(text)[0]
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text)
        assert token.text
        assert token.text in fold(text[token.start : token.end].replace("\u00ad", ""))


@settings(max_examples=2000, deadline=None)
@given(st.text())
def test_folding_character_by_character_equals_folding_the_whole(s: str) -> None:
    from monitor.matching.text import _fold_slow

    assert fold(s) == _fold_slow(s)


def test_the_fast_scan_of_latin_text_finds_the_same_runs_for_every_character_it_accepts() -> None:
    accepted = [chr(code) for code in range(0x2070) if text_module._LATIN_TEXT.fullmatch(chr(code))]
    assert len(accepted) > 800 and "\u00ad" not in accepted and "\u02bc" not in accepted and "\u0301" not in accepted
    fast, full = text_module._LATIN_RUN, text_module._RUN
    assert [c for c in accepted if bool(fast.fullmatch(c)) != bool(full.fullmatch(c))] == []
    sample = "Sécurité: l’Otan — “sommet” 2022-06; ½ naïve façade ĳ ǅ x² µ ª"
    assert text_module._LATIN_TEXT.fullmatch(sample)
    assert text_module._LATIN_RUN.findall(sample) == text_module._RUN.findall(sample)


# Characters of the blocks that fold one by one, and a few that do not (CJK, combining marks, U+02BC, soft hyphen).
_SIMPLE_ALPHABET = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x6FF),
    st.characters(min_codepoint=0x1E00, max_codepoint=0x2BFF),
    st.sampled_from(["ß", "ĳ", "½", "İ", "Київ", "ΑΘΉΝΑ", "Straße", " ", "  ", ", ", "\n", "’", "l'", "-"]),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_SIMPLE_ALPHABET, max_size=150).map("".join))
def test_the_fast_word_split_equals_the_split_run_by_run(s: str) -> None:
    words, spans = text_module.fold_words(s)
    slow_words, slow_spans = text_module._fold_runs(s)
    assert words == slow_words
    assert spans() == slow_spans()


@settings(max_examples=500, deadline=None)
@given(st.lists(_SIMPLE_ALPHABET, min_size=1, max_size=60).map("".join))
def test_the_fast_word_split_of_long_text_equals_the_split_run_by_run(s: str) -> None:
    # Past SHORT_TEXT characters, whole arrays of code points are folded, with stand-ins for those folding into
    # several characters (ß, ĳ).
    s = (s + " Straße ĳ ") * (1 + text_module.SHORT_TEXT // len(s))
    words, spans = text_module.fold_words(s)
    slow_words, slow_spans = text_module._fold_runs(s)
    assert words == slow_words
    assert spans() == slow_spans()


@pytest.mark.parametrize(
    "s",
    [
        "plain ascii, text!",
        "Sécurité: l’Otan — “sommet” 2022-06",
        "Straße in Київ, ΑΘΉΝΑ",
        "x² µ ª ĳ",
        "İstanbul\u00a0et\tNATO\n\nsummit",
        "",
        "   ",
        "\x00nul",
        "Київ, sommet de l’Otan — ΑΘΉΝΑ. " * 20,
        "Straße: sommet de l’Otan. " * 20,
        "Sécurité e\u0301te\u0301 北约 " * 20,
    ],
)
def test_every_route_of_the_word_split_agrees(s: str) -> None:
    words, spans = text_module.fold_words(s)
    slow_words, slow_spans = text_module._fold_runs(s)
    assert (words, spans()) == (slow_words, slow_spans())
