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

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import add as add_offsets
from typing import cast

import regex

_CJK = r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}"
_WORD = regex.compile(
    rf"[[{_CJK}]&&[\p{{L}}\p{{N}}]][\p{{M}}\uff9e\uff9f]*"
    rf"|[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}\u02bc]]+(?:\u00ad+[[\p{{L}}\p{{N}}\p{{M}}]--[{_CJK}\u02bc]]+)*",
    regex.V1,
)
_RUN = regex.compile(r"[\p{L}\p{N}\p{M}\u00ad]+")
# Text made only of Basic Latin, Latin-1, Latin Extended, IPA and general punctuation, without a soft hyphen or
# U+02BC, holds no combining mark and no character the two modules class differently (a test checks every one):
# the standard library's faster engine finds its runs of word characters.
_LATIN_TEXT = re.compile(r"[\x00-\xac\xae-\u02bb\u02bd-\u02ff\u2000-\u206f]*")
_LATIN_RUN = re.compile(r"[^\W_]+")
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
    words, positions, spans = fold_words(s)
    starts, ends = spans()
    return words, starts, ends, positions


def fold_words(s: str) -> tuple[list[str], dict[str, list[int]], Callable[[], tuple[list[int], list[int]]]]:
    """Return the folded words of ``s``, the positions of each word, and a function giving their offsets.

    The offsets (start and end lists) are worked out only when asked for, as only an article that some rule
    matches needs them.
    """
    runs = _RUNS
    if len(runs) > _RUNS_LIMIT:
        runs.clear()
    # A loose pattern finds the runs of word characters; most runs are one word, whose fold is remembered.
    raws: list[str] = (_LATIN_RUN if _LATIN_TEXT.fullmatch(s) else _RUN).findall(s)
    known = list(map(runs.get, raws))
    if None in known:
        known = [_remember(raw) if split is None else split for raw, split in zip(raws, known, strict=True)]
    splits = cast(list[str | tuple[tuple[str, int, int], ...]], known)
    if not all(map(str.__instancecheck__, splits)):
        return _fold_split_words(s, raws, splits)
    words = cast(list[str], splits)
    positions: dict[str, list[int]] = {}
    where = positions.get
    for count, word in enumerate(words):
        seen = where(word)
        if seen is None:
            positions[word] = [count]
        else:
            seen.append(count)

    def spans() -> tuple[list[int], list[int]]:
        starts: list[int] = []
        add, find, end = starts.append, s.find, 0
        for raw in raws:
            end = find(raw, end)
            add(end)
            end += len(raw)
        return starts, list(map(add_offsets, starts, map(len, raws)))

    return words, positions, spans


def _remember(raw: str) -> str | tuple[tuple[str, int, int], ...]:
    """Return the split of a run of word characters not seen before, remembered for the next time."""
    split = _RUNS[raw] = _split_run(raw)
    return split


def _fold_split_words(
    s: str, raws: list[str], splits: list[str | tuple[tuple[str, int, int], ...]]
) -> tuple[list[str], dict[str, list[int]], Callable[[], tuple[list[int], list[int]]]]:
    """Return what ``fold_words`` does, for a text where some run holds several words (CJK, U+02BC, ...)."""
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    positions: dict[str, list[int]] = {}
    end = 0
    for raw, split in zip(raws, splits, strict=True):
        start = s.find(raw, end)
        end = start + len(raw)
        for word, first, after in [(split, 0, len(raw))] if isinstance(split, str) else split:
            positions.setdefault(word, []).append(len(words))
            words.append(word)
            starts.append(start + first)
            ends.append(start + after)
    return words, positions, lambda: (starts, ends)


def tokenize(s: str) -> list[Token]:
    """Return the folded words of ``s`` as tokens that point back into the original string."""
    words, starts, ends = scan(s)
    spans = zip(words, starts, ends, strict=True)
    return [Token(word, start, end, index) for index, (word, start, end) in enumerate(spans)]


def words_of(s: str) -> tuple[str, ...]:
    """Return only the folded words of ``s``."""
    return tuple(fold_words(s)[0])
