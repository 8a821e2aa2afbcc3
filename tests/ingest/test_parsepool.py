"""The parse pool gives what ``parse_feed`` and ``analysis.analyze`` give, errors included, from its workers."""

from __future__ import annotations

import pytest

from monitor.analysis import analyze
from monitor.errors import FeedParseError
from monitor.ingest.article import ParsedArticle
from monitor.ingest.parsepool import ParsePool
from monitor.ingest.parser import NotAFeedError, parse_feed
from monitor.matching import Matcher
from monitor.matching.query import parse
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


def test_started_workers_analyze_with_the_pool_rules_like_the_calling_thread() -> None:
    rules = {"otan": parse("otan NEAR/3 sommet"), "absent": parse("volcan")}
    articles = parse_feed((FIXTURES / "feeds" / "rss2.xml").read_bytes(), "rss2").articles
    seed = ParsedArticle("seed:1", "seeds/x", "Le sommet de l'Otan", "Les ministres au sommet de l'Otan à Bruxelles.")
    articles = [*articles, seed]
    wanted = {seed.content_key, articles[0].content_key}
    pool = ParsePool(workers=2, rules=rules)
    try:
        pool.start()
        found = pool.analyze(articles, wanted)
    finally:
        pool.close()
    assert found == analyze(Matcher(rules), articles, wanted)
    assert set(found.sketches) == {a.content_key for a in articles} and set(found.hits) == wanted
    assert [hit.rule for hit in found.hits[seed.content_key]] == ["otan"]
    assert all(len(sketch) == 512 for sketch in found.sketches.values())
