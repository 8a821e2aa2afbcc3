"""Cut about 200 characters of a field around the first match, at words, and say where each match lies in them.

A snippet is plain text, exactly as the field writes it, and its highlights: the ``(start, end)`` character
offsets of the matches within it, sorted, overlapping or touching ones merged. Keeping them apart means that a
field's own ``**`` or ``_`` is never taken for a match. ``marked`` writes a snippet with each highlight in
``**``, the form ``monitor rules test`` and ``monitor rules backtest`` print for people to read.

Where the cut falls inside the field, ``…`` says so; up to 3 punctuation characters that open or close the
cut (quotes, brackets) are kept with it. Whitespace is collapsed to single spaces.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right

from monitor.matching.document import Field

SNIPPET_WIDTH = 200
ELLIPSIS = "…"
MARK = "**"

Highlights = tuple[tuple[int, int], ...]

_RUN = re.compile(r"\S+")  # what str.split() keeps


def snippet(field: Field, marks: list[tuple[int, int]], width: int = SNIPPET_WIDTH) -> tuple[str, Highlights]:
    """Return about ``width`` characters of ``field`` around the first mark, and where the marks lie in them."""
    source = field.source
    low, high, before, after = _cut(field, marks[0] if marks else (0, 0), width)
    spans = _merge([m for m in marks if low <= m[0] and m[1] <= high]) if marks else []
    cut = source[low:high]
    local = [(start - low, end - low) for start, end in spans]
    if not field.single_spaced:
        cut, local = _collapse(cut, local)
    shift = len(before)
    return before + cut + after, tuple((start + shift, end + shift) for start, end in local)


def marked(text: str, highlights: Highlights, mark: str = MARK) -> str:
    """Return ``text`` with each highlight wrapped in ``mark``."""
    pieces: list[str] = []
    cursor = 0
    for start, end in highlights:
        pieces += [text[cursor:start], mark, text[start:end], mark]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _collapse(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Return ``" ".join(text.split())`` and the spans moved to where their characters went in it."""
    runs = [match.span() for match in _RUN.finditer(text)]
    starts = [start for start, _ in runs]
    moved: list[int] = []  # where each run starts in the collapsed text
    length = 0
    for start, end in runs:
        moved.append(length)
        length += end - start + 1

    def where(position: int) -> int:
        # A span starts and ends on a word, so within a run (or at its end).
        index = max(0, bisect_right(starts, position) - 1)
        return moved[index] + position - starts[index] if runs else 0

    return " ".join(text[start:end] for start, end in runs), [(where(start), where(end)) for start, end in spans]


def _cut(field: Field, mark: tuple[int, int], width: int) -> tuple[int, int, str, str]:
    """Return the span of the snippet around ``mark``, cut at words, and what goes before and after it."""
    source, (starts, ends) = field.source, field.offsets()
    size, (start, end) = len(source), mark
    # About ``width`` characters that centre the mark, within the text.
    if end - start >= width:
        low, high = start, end
    else:
        low = max(0, start - (width - (end - start)) // 2)
        high = low + width
        if high > size:
            high, low = size, max(0, size - width)
    first, after = bisect_left(starts, low), bisect_right(ends, high)
    low = starts[first] if first > 0 else 0
    if after > first:
        high = ends[after - 1] if after < len(ends) else size
    if not ((low == 0 or source[low - 1] == " ") and (high == size or source[high] == " ")):
        low, high = _widen(source, low, high)
    return low, high, ELLIPSIS if first > 0 else "", ELLIPSIS if after < len(ends) else ""


def _widen(source: str, low: int, high: int) -> tuple[int, int]:
    """Return the span grown over up to 3 punctuation characters that open or close it, such as quotes."""
    before = low
    while before > 0 and low - before < 3 and _is_punctuation(source[before - 1]):
        before -= 1
    if before == 0 or source[before - 1].isspace():
        low = before
    after = high
    while after < len(source) and after - high < 3 and _is_punctuation(source[after]):
        after += 1
    if after == len(source) or source[after].isspace():
        high = after
    return low, high


def _is_punctuation(c: str) -> bool:
    found = _PUNCTUATION.get(c)
    if found is None:
        found = _PUNCTUATION[c] = not (c.isspace() or c.isalnum() or unicodedata.category(c).startswith("M"))
    return found


_PUNCTUATION: dict[str, bool] = {}


def _merge(marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the marks sorted, with overlapping or touching ones merged into one."""
    if len(marks) == 1:
        return marks
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
