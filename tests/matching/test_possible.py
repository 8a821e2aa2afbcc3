"""Whether an article may match a rule, from its folded words: never no for an article the matcher matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.matching import Matcher, parse
from monitor.matching.forms import default
from monitor.matching.possible import Possible
from monitor.matching.wordindex import WordIndex

NOW = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)
ARTICLES = [
    ("Two NATO summits", "Leaders meet in Vilnius.", "en"),
    ("NATO summit opens in Vilnius", "", "en"),
    ("Бои в Донбассе сегодня", "Обстрелы.", "ru"),
    ("Weather", "NATO said nothing.", "en"),
]


@pytest.mark.parametrize(
    ("query", "article", "possible"),
    [
        ('"nato summit"', 0, True),  # a form of summit
        ('"summit nato"', 1, False),
        ("nato NEAR/1 vilnius", 1, False),  # three words between them
        ("nato NEAR/3 vilnius", 1, True),
        ("vilnius NEAR/3 nato", 1, True),  # either order
        ("nato NEAR/3 vilnius", 0, False),  # not in one field
        ("title:nato", 3, False),
        ("text:nato", 1, False),
        ("NOT nato", 1, True),  # a NOT may always match
        ('"nato summ*"', 0, True),
        ('="nato summit"', 0, False),
        ('"Донбасс сегодня"', 2, True),
        ('"в Донбасс*"', 2, True),
        ("(nato OR weather) AND text:vilnius", 1, False),
    ],
)
def test_possible(query: str, article: int, possible: bool) -> None:
    index = WordIndex(default())
    for n, (title, text, language) in enumerate(ARTICLES):
        index.add(n + 1, title, text, language, NOW, None)
    tree = parse(query)
    title, text, language = ARTICLES[article]
    assert Possible(tree, index)(title, text) == possible
    if not possible:
        assert not Matcher({"rule": tree}).match(title, text, language)
