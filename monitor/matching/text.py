"""Split text into words and fold them so that case and accents do not matter.

A word is a maximal run of letters, digits and combining marks in any script (a soft hyphen inside a word
is ignored). Everything else separates words: spaces, punctuation, apostrophes (``'``, U+2019 and U+02BC),
hyphens, underscores, markup. Han, Hiragana and Katakana characters are one word each, so that text written
without spaces can still be searched (a query word in these scripts becomes a phrase of its characters).

Folding applies NFKC, full case folding (``Straße`` == ``STRASSE``) and removes the accents of the Latin,
Greek, Cyrillic, Arabic and Hebrew scripts (``sécurité`` == ``securite``, ``Київ`` == ``КИЇВ``, harakat and
niqqud vanish). Marks in other scripts, such as Devanagari or Thai vowel signs, are part of their words.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex

_CJK = r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}"
_WORD = regex.compile(
    rf"[[{_CJK}]&&[\p{{L}}\p{{N}}]][\p{{M}}\uff9e\uff9f]*"
    rf"|[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}\u02bc]]+(?:\u00ad+[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}\u02bc]]+)*",
    regex.V1,
)
_RUN = regex.compile(r"[\p{L}\p{N}\p{M}\u00ad]+")
_SPECIAL = regex.compile(rf"[{_CJK}\u02bc\u00ad]")
_ACCENTED = regex.compile(
    r"([[\p{Latin}\p{Greek}\p{Cyrillic}\p{Arabic}\p{Hebrew}]&&\p{L}])\p{Mn}+",
    regex.V1,
)
# Soft hyphens and the Arabic tatweel only stretch a word; they never change it.
_INVISIBLE = str.maketrans("", "", "\u00ad\u0640")


@dataclass(frozen=True, slots=True)
class Token:
    """One folded word, with its character span in the original string and its word position."""

    text: str
    start: int
    end: int
    index: int


def _fold_slow(s: str) -> str:
    folded = unicodedata.normalize("NFKC", s).casefold().translate(_INVISIBLE)
    decomposed = unicodedata.normalize("NFD", folded)
    return unicodedata.normalize("NFC", _ACCENTED.sub(r"\1", decomposed))


class _CharFolds(dict[int, str]):
    """Each character's fold, computed on first use; ``str.translate`` looks characters up here."""

    def __missing__(self, code: int) -> str:
        folded = _fold_slow(chr(code))
        self[code] = folded
        return folded


_CHAR_FOLDS = _CharFolds()
# Text whose fold depends on neighbouring characters: combining marks (kept or removed by the letter before
# them, composed by NFKC) and Hangul jamo (composed into syllables). Anything else folds character by character.
_CONTEXTUAL = regex.compile(r"[\p{M}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")


@lru_cache(maxsize=1 << 16)
def fold(s: str) -> str:
    """Return ``s`` in NFKC, case folded, without Latin/Greek/Cyrillic/Arabic/Hebrew accents, in NFC."""
    if s.isascii():
        return s.lower()
    if _CONTEXTUAL.search(s) is None:
        folded = s.translate(_CHAR_FOLDS)
        # A character folding into a combining mark (an Arabic ligature, say) needs its neighbours after all.
        if _CONTEXTUAL.search(folded) is None:
            return folded
    return _fold_slow(s)


@lru_cache(maxsize=1 << 17)
def fold_word(raw: str) -> tuple[str, ...]:
    """Return the folded words of one raw word (several when folding splits it, as for ``½``)."""
    if raw.isascii():
        return (raw.lower(),)
    folded = fold(raw)
    if _WORD.fullmatch(folded) is not None:
        return (folded,)
    return tuple(_WORD.findall(folded))


# Each distinct run of word characters seen, with its folded word, or its words and their offsets in the run
# when it holds several (CJK characters, U+02BC, a soft hyphen, a character that folds into two words).
_RUNS: dict[str, str | tuple[tuple[str, int, int], ...]] = {}
_RUNS_LIMIT = 1 << 18


def _split_run(raw: str) -> str | tuple[tuple[str, int, int], ...]:
    if _SPECIAL.search(raw) is None:
        words = fold_word(raw)
        if len(words) == 1:
            return words[0]
        return tuple((word, 0, len(raw)) for word in words)
    return tuple(
        (word, match.start(), match.end()) for match in _WORD.finditer(raw) for word in fold_word(match.group())
    )


def scan(s: str) -> tuple[list[str], list[int], list[int]]:
    """Return the folded words of ``s`` with their start and end offsets, as three parallel lists."""
    words, starts, ends, _ = index_words(s)
    return words, starts, ends


def index_words(s: str) -> tuple[list[str], list[int], list[int], dict[str, list[int]]]:
    """Return the folded words of ``s``, their start and end offsets, and the positions of each word."""
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    positions: dict[str, list[int]] = {}
    add_word, add_start, add_end, find, where = words.append, starts.append, ends.append, s.find, positions.get
    runs = _RUNS
    if len(runs) > _RUNS_LIMIT:
        runs.clear()
    end = 0
    count = 0
    # A loose pattern finds the runs of word characters; most runs are one word, whose fold is remembered.
    for raw in _RUN.findall(s):
        start = find(raw, end)
        end = start + len(raw)
        split = runs.get(raw)
        if split is None:
            split = runs[raw] = _split_run(raw)
        if isinstance(split, str):
            word = split
            add_word(word)
            add_start(start)
            add_end(end)
            seen = where(word)
            if seen is None:
                positions[word] = [count]
            else:
                seen.append(count)
            count += 1
        else:
            for word, first, after in split:
                add_word(word)
                add_start(start + first)
                add_end(start + after)
                positions.setdefault(word, []).append(count)
                count += 1
    return words, starts, ends, positions


def tokenize(s: str) -> list[Token]:
    """Return the folded words of ``s`` as tokens that point back into the original string."""
    words, starts, ends = scan(s)
    spans = zip(words, starts, ends, strict=True)
    return [Token(word, start, end, index) for index, (word, start, end) in enumerate(spans)]


def words_of(s: str) -> tuple[str, ...]:
    """Return only the folded words of ``s``."""
    return tuple(scan(s)[0])
