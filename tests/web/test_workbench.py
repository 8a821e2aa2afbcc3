"""The workbench: the form read from parameters, errors as ``rules test`` gives them, replays and text trials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.commands.rules import query_error
from monitor.errors import QueryError
from monitor.matching import compile_rule
from monitor.matching.rule import parse_entries
from monitor.store.storage import SavedArticle
from monitor.web.workbench import Form, Problem, Workbench, compile_form, window

NOW = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)


def article(n: int, title: str, text: str, language: str | None = "en") -> SavedArticle:
    fetched = NOW - timedelta(hours=n)
    return SavedArticle(n, title, text, f"https://x/{n}", "world", None, fetched, None, language)


ARTICLES = [
    article(1, "NATO summit opens in Vilnius", "Leaders meet.", "en"),
    article(2, "Бои в Донбассе продолжаются", "Обстрелы не прекращаются.", "ru"),
    article(3, "Football: Donbass derby", "A match report.", "en"),
    article(4, "Weather", "Sunny in the Donbas region today.", "en"),
]


def test_the_form_reads_entries_one_a_line_or_repeated() -> None:
    form = Form.read({"q": [" nato "], "any": ["Donbass\n\n Donbas \r\n", "Донбасс"], "exclude": ["football"]})
    assert (form.query, form.any, form.exclude, form.since, form.every) == (
        "nato",
        ("Donbass", "Donbas", "Донбасс"),
        ("football",),
        "7d",
        False,
    )
    assert form.parameters() == [
        ("q", "nato"),
        ("any", "Donbass"),
        ("any", "Donbas"),
        ("any", "Донбасс"),
        ("exclude", "football"),
        ("since", "7d"),
    ]
    assert Form.read({"since": [""], "all": ["1"]}).since == "7d"
    assert Form.read({"all": ["1"]}).every and Form.read({}).empty


@pytest.mark.parametrize("query", ["nato AND", '"sommet de', "(a OR b", "ab*", "a NEAR/x b", "OR"])
def test_a_bad_query_is_told_as_rules_test_tells_it(query: str) -> None:
    problem = compile_form(Form(query=query))
    assert isinstance(problem, Problem) and problem.field == "q"
    with pytest.raises(QueryError) as caught:
        compile_rule(query)
    assert problem.lines() == query_error(caught.value)
    assert problem.lines().splitlines()[-1].strip() == "^"


@pytest.mark.parametrize(("kind", "entries"), [("any", ("ok", "*")), ("exclude", ("a*b",))])
def test_a_bad_entry_names_it_with_a_caret(kind: str, entries: tuple[str, ...]) -> None:
    problem = compile_form(Form(**{kind: entries}))  # type: ignore[arg-type]
    assert isinstance(problem, Problem) and problem.field == kind
    with pytest.raises(QueryError) as caught:
        parse_entries(kind, entries)
    assert problem.message == f"error: invalid entry {caught.value.reason} at position {caught.value.position}"
    assert problem.message.startswith(f"error: invalid entry {kind}[")
    assert problem.lines().endswith("^")


@pytest.mark.parametrize(
    ("since", "expected"),
    [("7d", timedelta(days=7)), ("36h", timedelta(hours=36)), ("soon", None), ("0s", None), ("4000d", None)],
)
def test_window(since: str, expected: timedelta | None) -> None:
    found = window(since)
    assert found == expected if expected is not None else isinstance(found, Problem)


def test_a_replay_over_the_stored_articles_and_a_trial_on_a_text() -> None:
    seen: list[datetime] = []

    def articles(since: datetime) -> list[SavedArticle]:
        seen.append(since)
        return ARTICLES

    bench = Workbench(articles)
    text = "The war in the Donbas goes on, and the shelling of the towns near the front has not stopped this week."
    form = Form(any=("Donbass", "Donbas", "Донбасс"), exclude=("football",), since="2d", text=text)
    outcome = bench.run(form, NOW)
    assert outcome.problem is None and outcome.report is not None
    assert seen == [NOW - timedelta(days=2)] and outcome.since == seen[0]
    assert [m.article.id for m in outcome.report.matches] == [2, 4]  # a form (Донбассе), the exact word; not football
    assert (outcome.report.scanned, outcome.report.matched, outcome.report.complete) == (4, 2, True)
    assert outcome.described == '("Donbass" OR "Donbas" OR "Донбасс") AND NOT ("football")'
    assert outcome.language == "en"
    assert outcome.trial is not None and [h.matched for h in outcome.trial] == [("Donbas",)]
    miss = bench.run(Form(query="nato", text="Nothing here."), NOW)
    assert miss.trial == [] and miss.report is not None and miss.report.matched == 1


def test_a_replay_out_of_time_says_how_far_it_read_unless_every_article_is_asked() -> None:
    bench = Workbench(lambda since: ARTICLES)
    hurried = bench.run(Form(query="donbass"), NOW, budget=-1)
    assert hurried.report is not None and not hurried.report.complete and hurried.report.scanned == 0
    whole = bench.run(Form(query="donbass", every=True), NOW, budget=-1)
    assert whole.report is not None and whole.report.complete and whole.report.matched == 1


def test_one_replay_at_a_time() -> None:
    bench = Workbench(lambda since: ARTICLES)
    with bench.lock:
        busy = bench.run(Form(query="nato"), NOW, wait=0.01)
    assert busy.busy and busy.report is None


def test_nothing_to_try_and_a_bad_window() -> None:
    bench = Workbench(lambda since: ARTICLES)
    assert bench.run(Form(), NOW).report is None
    bad = bench.run(Form(query="nato", since="soon"), NOW)
    assert bad.problem is not None and bad.problem.field == "since" and "invalid duration" in bad.problem.message
