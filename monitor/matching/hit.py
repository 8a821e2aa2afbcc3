"""A rule's hit on an article: the rule at once, what explains it (terms, field, snippet) when first asked for.

Matching an article finds which rules match it; most hits never become alerts (a copy of a story a rule already
alerted, a backtest that shows the first hits), so a hit holds the article's document and the occurrences of the
rule's positive terms, or the rule's evaluator when the index decided it alone (``decide.py``), and works out its
terms and snippet on first use. A hit that is pickled (sent back from a worker process) is worked out first.

What a hit says: the positive terms that made the rule match as the article spells them (a NOT never adds any),
which field holds the first of them (the title when both do) and a snippet of about 200 characters of that field
around it, cut at words, with ``…`` where it is cut, and the matches' places in it (``snippet.py``). A rule that
matches only through NOT gets no terms and the start of the text (or of the title) as its snippet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.matching.document import Document, Field, Occurrence
from monitor.matching.snippet import Highlights, snippet

Evaluator = Callable[[Document], "list[Occurrence] | None"]
# The terms as written, the field, the snippet and its highlights.
Detail = tuple[tuple[str, ...], str, str, Highlights]


class Hit:
    """One rule matching one article: the terms as written in the article, and where."""

    __slots__ = ("_detail", "_document", "_evaluator", "_occurrences", "rule")

    def __init__(
        self,
        rule: str,
        matched: tuple[str, ...] = (),
        field: str = "",
        snippet: str = "",
        highlights: Highlights = (),
        *,
        document: Document | None = None,
        occurrences: list[Occurrence] | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        """Make a hit from what explains it, or from the ``document`` and the ``occurrences`` of the rule's terms
        (or the ``evaluator`` that finds them), to be worked out on first use."""
        self.rule = rule
        self._document = document
        self._occurrences = occurrences
        self._evaluator = evaluator
        self._detail: Detail | None = None if document is not None else (matched, field, snippet, highlights)

    @property
    def detail(self) -> Detail:
        """Return the terms as written, the field, the snippet and its highlights, worked out on first use."""
        detail = self._detail
        if detail is None:
            document = self._document
            assert document is not None
            occurrences = self._occurrences
            if occurrences is None:
                assert self._evaluator is not None
                occurrences = self._evaluator(document) or []
            detail = self._detail = explain(occurrences, document)
            self._document = self._occurrences = self._evaluator = None
        return detail

    def settled(self) -> Hit:
        """Return the hit with what explains it worked out now, no longer holding the article's document."""
        _ = self.detail
        return self

    @property
    def matched(self) -> tuple[str, ...]:
        """Return the positive terms that made the rule match, as the article spells them."""
        return self.detail[0]

    @property
    def field(self) -> str:
        """Return the field that holds the first matched term (``title`` or ``text``)."""
        return self.detail[1]

    @property
    def snippet(self) -> str:
        """Return about 200 characters of that field around the first matched term, as the field writes them."""
        return self.detail[2]

    @property
    def highlights(self) -> Highlights:
        """Return the (start, end) of each match in the snippet, in characters."""
        return self.detail[3]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return self.rule == other.rule and self.detail == other.detail

    def __hash__(self) -> int:
        return hash((self.rule, self.detail))

    def __repr__(self) -> str:
        matched, field, cut, highlights = self.detail
        return f"Hit({self.rule!r}, {matched!r}, {field!r}, {cut!r}, {highlights!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Hit, (self.rule, *self.detail))


def explain(occurrences: list[Occurrence], document: Document) -> Detail:
    """Return the terms, field, snippet and highlights of a hit from the occurrences of its positive terms."""
    if not occurrences:
        field = document.text if document.text.source.strip() else document.title
        return ((), field.name, *_cached_snippet(field, ()))
    title, text = document.title, document.text
    if len(occurrences) == 1:
        field, first, after = occurrences[0]
        starts, ends = field.offsets()
        mark = (starts[first], ends[after - 1])
        cut, highlights = _cached_snippet(field, (mark,))
        return ((_spelling(field.source, mark, after - first),), field.name, cut, highlights)
    # Title spans first, each field's in order; the snippet marks those of the first field.
    spans = sorted({(field is text, first, after) for field, first, after in occurrences})
    field = text if spans[0][0] else title
    matched: dict[str, None] = {}
    marks = []
    for in_text, first, after in spans:
        holder = text if in_text else title
        starts, ends = holder.offsets()
        mark = (starts[first], ends[after - 1])
        matched[_spelling(holder.source, mark, after - first)] = None
        if holder is field:
            marks.append(mark)
    return (tuple(matched), field.name, *_cached_snippet(field, tuple(marks)))


def _spelling(source: str, mark: tuple[int, int], size: int) -> str:
    """Return the ``size`` words at ``mark`` as the article writes them, whitespace collapsed."""
    written = source[mark[0] : mark[1]]
    return written if size == 1 else " ".join(written.split())


def _cached_snippet(field: Field, marks: tuple[tuple[int, int], ...]) -> tuple[str, Highlights]:
    """Return the snippet of ``field`` around ``marks``, cut once for all the hits that mark the same words."""
    cut = field.snippets.get(marks)
    if cut is None:
        cut = field.snippets[marks] = snippet(field, list(marks))
    return cut
