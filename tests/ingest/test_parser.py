from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.errors import FeedParseError
from monitor.ingest.parser import MAX_TITLE, parse_feed
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"


def test_rss2() -> None:
    articles = parse_feed((FEEDS / "rss2.xml").read_bytes(), "world")
    assert [a.title for a in articles] == [
        "Leaders gather for the NATO summit in Madrid",
        "Markets close higher",
        "Weather: a warm week ahead",
    ]
    first = articles[0]
    assert first.text == (
        "Allied leaders meet in Madrid for the NATO summit, where defence spending & the war in Ukraine top the "
        "agenda.\nSecond paragraph été."
    )
    assert first.published == datetime(2022, 6, 28, 6, 30, tzinfo=UTC)
    assert first.author == "Jane Reporter"
    assert first.language == "en-gb"
    assert first.url == "http://127.0.0.1/world/nato-summit-madrid?utm_source=rss&utm_medium=feed"
    assert first.content_key.startswith("guid:")
    assert first.source == "world"
    assert articles[1].content_key == "url:http://127.0.0.1/world/markets"
    assert articles[2].published is None and articles[2].url is None
    assert articles[2].content_key.startswith("sha256:")


def test_atom() -> None:
    articles = parse_feed((FEEDS / "atom.xml").read_bytes(), "uk")
    first, second = articles
    assert first.title == "Бої на Донбасі тривають"
    assert first.text == "Ситуація на Донбас залишається складною."
    assert first.published == datetime(2022, 6, 20, 6, 15, tzinfo=UTC)
    assert first.language == "uk"
    assert first.author == "Олена"
    assert second.language == "en"
    assert second.text == "Plain text summary with <angle> brackets."
    assert second.content_key == "url:http://127.0.0.1/en/kyiv"


@pytest.mark.parametrize("content", [(FEEDS / "not-a-feed.html").read_bytes(), b"", b"\x00\x01garbage"])
def test_not_a_feed(content: bytes) -> None:
    with pytest.raises(FeedParseError, match="feed 'x': not a feed"):
        parse_feed(content, "x")


def test_long_titles_are_cut() -> None:
    title = "word " * 400
    feed = f'<rss version="2.0"><channel><item><title>{title}</title></item></channel></rss>'.encode()
    (article,) = parse_feed(feed, "x")
    assert len(article.title) <= MAX_TITLE


def test_charset_from_declaration() -> None:
    feed = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><item>'
        "<title>Sécurité à Genève</title></item></channel></rss>"
    ).encode("iso-8859-1")
    (article,) = parse_feed(feed, "x")
    assert article.title == "Sécurité à Genève"
