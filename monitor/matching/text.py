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


@lru_cache(maxsize=1 << 16)
def fold(s: str) -> str:
    """Return ``s`` in NFKC, case folded, without Latin/Greek/Cyrillic/Arabic/Hebrew accents, in NFC."""
    if s.isascii():
        return s.lower()
    folded = unicodedata.normalize("NFKC", s).casefold().translate(_INVISIBLE)
    decomposed = unicodedata.normalize("NFD", folded)
    return unicodedata.normalize("NFC", _ACCENTED.sub(r"\1", decomposed))


@lru_cache(maxsize=1 << 17)
def fold_word(raw: str) -> tuple[str, ...]:
    """Return the folded words of one raw word (several when folding splits it, as for ``½``)."""
    if raw.isascii():
        return (raw.lower(),)
    folded = fold(raw)
    if _WORD.fullmatch(folded) is not None:
        return (folded,)
    return tuple(_WORD.findall(folded))


def scan(s: str) -> tuple[list[str], list[int], list[int]]:
    """Return the folded words of ``s`` with their start and end offsets, as three parallel lists."""
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    add_word, add_start, add_end, find = words.append, starts.append, ends.append, s.find
    end = 0
    # A loose pattern first, because most runs are whole words; only runs holding CJK characters, U+02BC
    # or a soft hyphen go through the exact (slower) pattern.
    for raw in _RUN.findall(s):
        start = find(raw, end)
        end = start + len(raw)
        if raw.isascii():
            add_word(raw.lower())
            add_start(start)
            add_end(end)
        elif _SPECIAL.search(raw) is None:
            for word in fold_word(raw):
                add_word(word)
                add_start(start)
                add_end(end)
        else:
            for match in _WORD.finditer(s, start, end):
                for word in fold_word(match.group()):
                    add_word(word)
                    add_start(match.start())
                    add_end(match.end())
    return words, starts, ends


def tokenize(s: str) -> list[Token]:
    """Return the folded words of ``s`` as tokens that point back into the original string."""
    words, starts, ends = scan(s)
    spans = zip(words, starts, ends, strict=True)
    return [Token(word, start, end, index) for index, (word, start, end) in enumerate(spans)]


def words_of(s: str) -> tuple[str, ...]:
    """Return only the folded words of ``s``."""
    return tuple(scan(s)[0])
