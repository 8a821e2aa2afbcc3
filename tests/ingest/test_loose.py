from __future__ import annotations

from typing import Any

import feedparser
import feedparser.api
import pytest

from monitor.ingest import loose
from monitor.ingest.parser import parse_feed
from tests.conftest import FIXTURES

NETSCAPE = b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss-0.91.dtd">'


def broken(document: bytes) -> bytes:
    """Return the document with an element that is never closed, before its last end tag."""
    at = document.rindex(b"</")
    return document[:at] + b"<unclosed>" + document[at:]


# Broken on purpose, so that the tolerant parser reads them.
BROKEN = [broken(path.read_bytes()) for path in sorted((FIXTURES / "feeds").glob("*.xml"))] + [
    b'<rss version="2.0"><channel><item><title>Caf&eacute; &amp; &#233;&#xE9; &nbsp;&w; &lt;b&gt;</title>'
    b"<description>" + b"&amp;&#233;&eacute;&w;x" * 2000 + b"</description><unclosed></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
    b"a &amp; <b>b</b> &eacute;</div></title><id>1</id><broken></entry></feed>",
]


@pytest.mark.parametrize(
    ("document", "version"),
    [
        (b'<?xml version="1.0"?>' + NETSCAPE + b"<rss/>", "rss091n"),
        (b'<!DOCTYPE rss SYSTEM "netscape" [<!ENTITY a "b">]><rss/>', "rss091n"),
        (b"<!DOCTYPE rss [<!-- netscape -->]><rss/>", None),  # only the DOCTYPE's own words count
        (b'<!DOCTYPE rss SYSTEM "rss.dtd"><rss/>', None),
        (b"<rss/>", None),
        (b" " * loose.DOCTYPE_WITHIN + NETSCAPE, None),  # a DOCTYPE comes first or not at all
    ],
)
def test_read_doctype_names_netscape_s_rss_and_changes_nothing(document: bytes, version: str | None) -> None:
    assert loose.read_doctype(document) == (version, document, {})


@pytest.mark.parametrize("document", BROKEN)
def test_documents_read_as_with_feedparser_s_own_tolerant_parser(
    monkeypatch: pytest.MonkeyPatch, document: bytes
) -> None:
    def read() -> tuple[object, ...]:
        parsed = feedparser.parse(document, sanitize_html=False, resolve_relative_uris=False)
        assert parsed.bozo
        return parsed.entries, parsed.feed

    shared = read()
    monkeypatch.setattr(feedparser.api, "LooseFeedParser", loose.LooseParser.__mro__[1])
    assert shared == read()


def test_repeated_references_share_one_text(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[object]] = {}

    class Watched(loose.LooseParser):  # type: ignore[misc]
        def pop(self, element: str, strip_whitespace: int = 1) -> Any:
            if self.elementstack and self.elementstack[-1][0] == element:
                seen[element] = list(self.elementstack[-1][2])
            return super().pop(element, strip_whitespace)

    monkeypatch.setattr(feedparser.api, "LooseFeedParser", Watched)
    references = "&eacute;&w;&#233;" * 10_000
    document = f"<rss><channel><item><title>t</title><description>{references}</description><x></item></rss>"
    (article,) = parse_feed(document.encode(), "x").articles
    assert article.text == "é&w;é" * 10_000
    pieces = seen["description"]
    assert len(pieces) == 30_000
    assert len({id(piece) for piece in pieces}) == 2  # "é" and "&w;", each made once


def test_the_shared_texts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loose, "SHARED_TEXTS", 10)
    names = "".join(f"&n{number};" for number in range(100))
    document = f"<rss><channel><item><title>{names}</title></item><x></channel></rss>"
    parser = loose.LooseParser()
    parser.feed(document)
    assert len(parser._texts) <= 10
    (article,) = parse_feed(document.encode(), "x").articles
    assert article.title == names
