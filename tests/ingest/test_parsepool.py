"""The parse pool gives what ``parse_feed`` gives, errors included, from its worker processes."""

from __future__ import annotations

import pytest

from monitor.errors import FeedParseError
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import NotAFeedError, parse_feed
from tests.conftest import FIXTURES


def test_the_pool_parses_like_parse_feed() -> None:
    pool = ParsePool(workers=1)
    try:
        for name in ("rss2.xml", "atom.xml"):
            content = (FIXTURES / "feeds" / name).read_bytes()
            assert pool.parse(content, name, {}, "http://feeds.test/") == parse_feed(
                content, name, {}, "http://feeds.test/"
            )
        with pytest.raises(NotAFeedError) as raised:
            pool.parse((FIXTURES / "feeds" / "not-a-feed.html").read_bytes(), "page", {"content-type": "text/html"})
        assert isinstance(raised.value, FeedParseError) and "feed 'page': not a feed" in str(raised.value)
    finally:
        pool.close()
    pool.close()  # closing twice is harmless
