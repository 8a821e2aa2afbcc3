"""The rule workbench: a query (with ``any`` and ``exclude`` entries) tried over the stored articles and on a text.

Over the stored articles it does what ``monitor rules backtest --query`` does (``backtest.replay`` with the
compiled matcher over the articles fetched or published within ``since``, newest first): every match is counted,
the first ``LISTED`` are shown with their snippets. On a pasted text it does what ``monitor rules test --text``
does: the language detected from the words, the hits with their snippets. A part that does not parse gives the
same error as ``rules test``, with the line of the fault and a caret under it. Nothing is written.

Matching costs tens of microseconds an article, so replaying a window of 100,000 articles would take seconds.
With a word index of the stored articles (``articleindex.ArticleIndex``, kept in this process), the articles
the rule matches are picked out in memory and only those listed are read back and matched, with the same
results. The index is built in the background on first use; until it is ready, and for a window older than the
index reaches, the workbench replays every article of the window. Unless the form asks for every article
(``all``), a replay stops after ``BUDGET`` seconds and says how many of the newest articles of the window it
covered, with a link that reads them all.

One search runs at a time (``Workbench.lock``), so that typing fast in the page never has the daemon scan the
articles several times at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor import backtest
from monitor.errors import QueryError
from monitor.ingest.normalize import detect_language
from monitor.matching import Hit, Matcher, Node, compile_rule, describe_rule, parse
from monitor.matching.rule import parse_entries
from monitor.settings.values import parse_duration
from monitor.store.storage import SavedArticle
from monitor.web.articleindex import ArticleIndex

LISTED = 50
DEFAULT_SINCE = "7d"
LONGEST_SINCE = timedelta(days=3650)
BUDGET = 1.5  # seconds a replay may take unless the form asks for every article
MAX_TEXT = 200_000  # characters of a pasted text kept, as [ingest] max_text keeps of an article by default


@dataclass(frozen=True)
class Form:
    """What the workbench was asked: the rule's parts, how far back to look, and a text to try."""

    query: str = ""
    any: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: str = DEFAULT_SINCE
    title: str = ""
    text: str = ""
    every: bool = False  # read every article of the window, however long it takes

    @classmethod
    def read(cls, params: Mapping[str, Sequence[str]]) -> Form:
        """Return the form from request parameters; ``any`` and ``exclude`` hold one entry a line, or repeat."""

        def one(name: str, default: str = "") -> str:
            values = params.get(name) or [default]
            return values[-1]

        def entries(name: str) -> tuple[str, ...]:
            lines = (line.strip() for value in params.get(name, ()) for line in value.splitlines())
            return tuple(line for line in lines if line)

        return cls(
            query=one("q").strip(),
            any=entries("any"),
            exclude=entries("exclude"),
            since=one("since", DEFAULT_SINCE).strip() or DEFAULT_SINCE,
            title=one("title").strip(),
            text=one("text")[:MAX_TEXT],
            every=one("all") == "1",
        )

    @property
    def empty(self) -> bool:
        """Return whether the form holds no rule to try."""
        return not (self.query or self.any or self.exclude)

    def parameters(self, every: bool = False) -> list[tuple[str, str]]:
        """Return the query string parameters that bring this rule back (without the text), ``all=1`` with every."""
        found = [("q", self.query)] if self.query else []
        found += [("any", entry) for entry in self.any] + [("exclude", entry) for entry in self.exclude]
        return [*found, ("since", self.since), *([("all", "1")] if every else [])]


@dataclass(frozen=True)
class Problem:
    """A part of the form that cannot be used: what ``rules test`` says, and the line with its caret."""

    field: str
    message: str
    pointer: str = ""

    def lines(self) -> str:
        """Return the problem as ``rules test`` prints it: the message, then the pointer lines indented."""
        return self.message + "".join(f"\n  {line}" for line in self.pointer.splitlines())


@dataclass
class Outcome:
    """What the workbench found: the rule as it runs, the replay over stored articles, the trial on the text."""

    form: Form
    described: str = ""
    problem: Problem | None = None
    since: datetime | None = None
    report: backtest.Report | None = None
    language: str | None = None
    trial: list[Hit] | None = None
    busy: bool = False
    indexed: bool = False  # the search read only the articles the word index kept
    indexing: bool = False  # the word index is being built: the search replayed the window's newest articles


def compile_form(form: Form) -> Node | Problem:
    """Return the tree of the form's rule, or the first problem with one of its parts."""
    if form.query:
        try:
            parse(form.query)
        except QueryError as exc:
            return Problem("q", f"error: invalid query: {exc.reason} at position {exc.position}", exc.pointer())
    for kind, entries in (("any", form.any), ("exclude", form.exclude)):
        try:
            parse_entries(kind, entries)
        except QueryError as exc:
            return Problem(kind, f"error: invalid entry {exc.reason} at position {exc.position}", exc.pointer())
    try:
        return compile_rule(form.query or None, form.any, form.exclude)
    except QueryError as exc:  # a rule with no part at all: the caller shows the empty form instead
        return Problem("q", f"error: {exc.reason}")


def window(since: str) -> timedelta | Problem:
    """Return how far back to look, or the problem with the duration."""
    try:
        span = parse_duration(since)
    except ValueError as exc:
        return Problem("since", f"error: since: {exc}")
    if span <= timedelta(0) or span > LONGEST_SINCE:
        return Problem("since", f"error: since: {since!r} must be more than 0 and at most 3650d")
    return span


class Workbench:
    """Try rules over the articles a function yields (``Storage.articles_since``), one search at a time, through
    the word index when one is given and ready."""

    def __init__(
        self, articles: Callable[[datetime], Iterable[SavedArticle]], index: ArticleIndex | None = None
    ) -> None:
        self.articles = articles
        self.index = index
        self.lock = threading.Lock()

    def run(self, form: Form, now: datetime | None = None, wait: float = 30.0, budget: float = BUDGET) -> Outcome:
        """Return what the form's rule would have alerted over the stored articles, and its hits on the text."""
        outcome = Outcome(form)
        if form.empty:
            return outcome
        tree = compile_form(form)
        if isinstance(tree, Problem):
            outcome.problem = tree
            return outcome
        span = window(form.since)
        if isinstance(span, Problem):
            outcome.problem = span
            return outcome
        outcome.described = describe_rule(form.query or None, form.any, form.exclude)
        matcher = Matcher({outcome.described: tree})
        if form.text.strip() or form.title:
            outcome.language = detect_language(f"{form.title}\n{form.text}")
            outcome.trial = matcher.match(title=form.title, text=form.text, language=outcome.language)
        current = now or datetime.now(UTC)
        outcome.since = current - span
        if not self.lock.acquire(timeout=wait):
            outcome.busy = True
            return outcome
        try:
            until = None if form.every else time.monotonic() + budget
            self._search(outcome, matcher, tree, current, until)
        finally:
            self.lock.release()
        return outcome

    def _search(self, outcome: Outcome, matcher: Matcher, tree: Node, now: datetime, until: float | None) -> None:
        """Fill the outcome's report: through the word index when it is ready and reaches far enough back."""
        since = outcome.since
        assert since is not None
        index = self.index
        built = index.ready(now) if index is not None else None
        if index is not None and built is not None and since >= built.covers:
            outcome.report = index.search(built, matcher, tree, since, LISTED, until)
            outcome.indexed = True
            return
        outcome.indexing = index is not None and index.building
        outcome.report = backtest.replay(matcher, self.articles(since), LISTED, until)
