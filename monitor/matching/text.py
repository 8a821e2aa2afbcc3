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
from collections.abc import Callable, Set
from dataclasses import dataclass
from functools import lru_cache
from operator import add as add_offsets
from typing import NamedTuple, cast

import numpy as np
import regex
from numpy.typing import NDArray

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
# The blocks whose characters may fold one by one: Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Latin and
# Greek Extended Additional, general punctuation and symbols (most news text is made only of them).
_SIMPLE_BLOCKS = ((0x0000, 0x0700), (0x1E00, 0x2C00))
# Below this length, translating character by character costs less than setting arrays up.
SHORT_TEXT = 200
# Where the stand-ins for characters that fold into several start: Private Use Area code points, above every
# simple character, so that a text holding one is never taken for simple.
STAND_INS = 0xE000


class _Simple(NamedTuple):
    """How text made only of simple characters is split: each one folds alone into word characters, or is a
    separator that becomes a space, and the standard library's engine classes it as ``regex`` does.

    ``single`` maps each code point below its length to the one character it folds into (a space for a
    separator), to a stand-in from the Private Use Area when it folds into several characters (``ß`` into
    ``ss``), or to 0 when it is not simple; ``expansions`` gives each stand-in's fold.
    """

    text: re.Pattern[str]
    folds: dict[int, str]
    single: NDArray[np.uint32]
    expansions: dict[int, str]


@lru_cache(maxsize=1)
def _simple() -> _Simple:
    """Return the simple characters and their folds, worked out on first use."""
    folds: dict[int, str] = {}
    for first, after in _SIMPLE_BLOCKS:
        for code in range(first, after):
            c = chr(code)
            if _is_word_char(c):
                folded = fold(c)
                if folded and _is_plain_word_char(c) and all(map(_is_plain_word_char, folded)):
                    folds[code] = folded
            elif _LATIN_RUN.match(c) is None:
                folds[code] = " "
    single = np.zeros(_SIMPLE_BLOCKS[-1][1], dtype=np.uint32)
    expansions: dict[int, str] = {}
    for code, folded in folds.items():
        if len(folded) == 1:
            single[code] = ord(folded)
        else:
            stand_in = STAND_INS + len(expansions)
            single[code] = stand_in
            expansions[stand_in] = folded
    return _Simple(re.compile(f"[{_ranges(folds)}]*"), folds, single, expansions)


def _is_word_char(c: str) -> bool:
    return _RUN.fullmatch(c) is not None


def _is_plain_word_char(c: str) -> bool:
    """Return whether ``c`` is a word character that folds alone, is never split off, and both engines see."""
    return (
        _is_word_char(c)
        and _LATIN_RUN.fullmatch(c) is not None
        and _SPECIAL.search(c) is None
        and _CONTEXTUAL.search(c) is None
        and not c.isspace()
    )


def _ranges(codes: dict[int, str]) -> str:
    """Return a regular expression character class body holding exactly these code points."""
    spans: list[list[int]] = []
    for code in sorted(codes):
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in spans)


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
    words, spans = fold_words(s)
    starts, ends = spans()
    return words, starts, ends


def positions_of(words: list[str], keep: Set[str] | None = None) -> dict[str, list[int]]:
    """Return where each word occurs in ``words`` (only the words in ``keep``, when given)."""
    positions: dict[str, list[int]] = {}
    where = positions.get
    if keep is None:
        for count, word in enumerate(words):
            seen = where(word)
            if seen is None:
                positions[word] = [count]
            else:
                seen.append(count)
    elif keep:
        for count, word in enumerate(words):
            if word in keep:
                seen = where(word)
                if seen is None:
                    positions[word] = [count]
                else:
                    seen.append(count)
    return positions


def fold_words(s: str) -> tuple[list[str], Callable[[], tuple[list[int], list[int]]]]:
    """Return the folded words of ``s`` and a function giving where each starts and ends in ``s``.

    The offsets are worked out only when asked for, as only an article that some rule matches needs them.
    """
    simple = _simple()
    if s.isascii():
        # Every separator becomes a space and every letter its lower case: one translation and one split.
        folded = s.translate(simple.folds)
        return folded.split(), lambda: _folded_offsets(folded)
    if len(s) > SHORT_TEXT:
        codes = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), np.uint32)
        if np.maximum.reduce(codes) < len(simple.single):
            mapped = simple.single[codes]
            if np.count_nonzero(mapped) == len(mapped):
                # Every character folds alone: the same, through a table lookup of all of them at once. One that
                # folds into several (``ß``) is a stand-in of one character, replaced by its fold at the end, so
                # that the words' offsets are those of the stand-ins' text.
                folded = mapped.tobytes().decode("utf-32-le")
                if np.maximum.reduce(mapped) >= STAND_INS:
                    for stand_in in np.unique(mapped[mapped >= STAND_INS]).tolist():
                        folded = folded.replace(chr(stand_in), simple.expansions[stand_in])
                return folded.split(), lambda: _space_offsets(mapped)
    if simple.text.fullmatch(s) is not None:
        folded = s.translate(simple.folds)
        if len(folded) == len(s):
            return folded.split(), lambda: _folded_offsets(folded)
        # Some characters fold into several (``ß``): the words' offsets must be found in the original.
        return folded.split(), lambda: _run_offsets(s, _LATIN_RUN.findall(s))
    return _fold_runs(s)


def _fold_runs(s: str) -> tuple[list[str], Callable[[], tuple[list[int], list[int]]]]:
    """Return what ``fold_words`` does, run of word characters by run: for any text."""
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
    return cast(list[str], splits), lambda: _run_offsets(s, raws)


def _folded_offsets(folded: str) -> tuple[list[int], list[int]]:
    """Return where the words of a folded text, whose separators are all spaces, start and end."""
    if len(folded) <= SHORT_TEXT:
        return _run_offsets(folded, folded.split())
    if folded.isascii():
        return _space_offsets(np.frombuffer(folded.encode("ascii"), np.uint8))
    return _space_offsets(np.frombuffer(folded.encode("utf-32-le"), np.uint32))


def _space_offsets(codes: NDArray[np.uint8] | NDArray[np.uint32]) -> tuple[list[int], list[int]]:
    """Return where the words start and end in a folded text, given as its code points, whose separators are
    all spaces."""
    inside = np.zeros(len(codes) + 2, dtype=bool)
    np.not_equal(codes, 32, out=inside[1:-1])
    # Each change between a space and a word character is a word's start, then its end.
    edges: list[int] = np.flatnonzero(inside[1:] != inside[:-1]).tolist()
    return edges[0::2], edges[1::2]


def _run_offsets(s: str, raws: list[str]) -> tuple[list[int], list[int]]:
    """Return where the runs ``raws``, found in that order in ``s``, start and end."""
    starts: list[int] = []
    add, find, end = starts.append, s.find, 0
    for raw in raws:
        end = find(raw, end)
        add(end)
        end += len(raw)
    return starts, list(map(add_offsets, starts, map(len, raws)))


def _remember(raw: str) -> str | tuple[tuple[str, int, int], ...]:
    """Return the split of a run of word characters not seen before, remembered for the next time."""
    split = _RUNS[raw] = _split_run(raw)
    return split


def _fold_split_words(
    s: str, raws: list[str], splits: list[str | tuple[tuple[str, int, int], ...]]
) -> tuple[list[str], Callable[[], tuple[list[int], list[int]]]]:
    """Return what ``fold_words`` does, for a text where some run holds several words (CJK, U+02BC, ...)."""
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    end = 0
    for raw, split in zip(raws, splits, strict=True):
        start = s.find(raw, end)
        end = start + len(raw)
        for word, first, after in [(split, 0, len(raw))] if isinstance(split, str) else split:
            words.append(word)
            starts.append(start + first)
            ends.append(start + after)
    return words, lambda: (starts, ends)


def tokenize(s: str) -> list[Token]:
    """Return the folded words of ``s`` as tokens that point back into the original string."""
    words, starts, ends = scan(s)
    spans = zip(words, starts, ends, strict=True)
    return [Token(word, start, end, index) for index, (word, start, end) in enumerate(spans)]


def words_of(s: str) -> tuple[str, ...]:
    """Return only the folded words of ``s``."""
    return tuple(fold_words(s)[0])
