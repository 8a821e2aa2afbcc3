"""What rules read of an article with full text: the feed's text then the page's, the snippet where the match is,
and a story sketch that leaves the page out."""

from __future__ import annotations

import pytest

from monitor.analysis import analyze
from monitor.ingest.article import ParsedArticle, readable_text
from monitor.matching import Matcher
from tests.conftest import starred

PAGE = "Hundreds of acres were under water. The Environment Agency issued warnings for Burrowbridge and Moorland."


@pytest.mark.parametrize(
    ("text", "full_text", "expected"),
    [
        ("A teaser.", None, "A teaser."),
        ("A teaser.", "", "A teaser."),
        ("", "The page.", "The page."),
        ("Hundreds of acres were under water.", PAGE, PAGE),  # the teaser is the page's first sentence
        ("A teaser.", "The page.", "A teaser.\n\nThe page."),
    ],
)
def test_readable_text(text: str, full_text: str | None, expected: str) -> None:
    assert readable_text(text, full_text) == expected


def article(full_text: str = "") -> ParsedArticle:
    return ParsedArticle("k", "levels", "Storm floods the Levels", "Farmland under water.", full_text=full_text)


@pytest.mark.parametrize(
    ("query", "field", "snippet"),
    [
        ("Burrowbridge", "text", "warnings for **Burrowbridge** and Moorland"),
        ("text:Farmland", "text", "**Farmland** under water"),
        ("title:Burrowbridge", None, None),  # the page is text, never title
        ("Levels", "title", "Storm floods the **Levels**"),
    ],
)
def test_rules_read_the_page_as_text(query: str, field: str | None, snippet: str | None) -> None:
    found = analyze(Matcher({"rule": query}), [article(PAGE)], {"k"})
    hits = found.hits["k"]
    if field is None:
        assert hits == []
    else:
        [hit] = hits
        assert hit.field == field and snippet is not None and snippet in starred(hit.snippet, hit.highlights)


def test_without_its_page_an_article_is_matched_on_its_feed_text() -> None:
    assert analyze(Matcher({"rule": "Burrowbridge"}), [article()], {"k"}).hits["k"] == []


def test_the_story_sketch_leaves_the_page_out() -> None:
    matcher = Matcher({"rule": "Burrowbridge"})
    with_page = analyze(matcher, [article(PAGE)], {"k"}).sketches["k"]
    assert with_page == analyze(matcher, [article()], {"k"}).sketches["k"]
    assert with_page == analyze(matcher, [article(PAGE)], set()).sketches["k"]
