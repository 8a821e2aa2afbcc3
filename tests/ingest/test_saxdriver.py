from __future__ import annotations

import xml.sax
from html import escape

import feedparser
import feedparser.api
import pytest

from monitor.ingest.parser import parse_feed
from monitor.ingest.saxdriver import BufferedExpatParser
from tests.conftest import FIXTURES

FEEDS = sorted((FIXTURES / "feeds").glob("*.xml"))
ESCAPED = escape("<p>Caf&eacute; &amp; <b>bar</b> &#233;t&eacute;</p>\n<p>line\r\ntwo</p>" * 400)
ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t &amp; u</title>'
    '<entry><title type="html">A &lt;b&gt;bold&lt;/b&gt; &amp;amp; title</title><id>urn:x:1</id>'
    f'<content type="html">{ESCAPED}</content><summary>one<!-- a comment -->two<?pi x?>three</summary></entry>'
    '<entry><title>x</title><id>urn:x:2</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
    "a &amp; b <em>c</em> &lt; d<br/>e</div></content></entry></feed>"
)
RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
    "<item><title>One &amp; two &#8217; three</title><link>https://a.example/1?x=1&amp;y=2</link>"
    f"<description>{ESCAPED}</description>"
    "<content:encoded><![CDATA[<p>cdata</p>]]> and &lt;more&gt;<![CDATA[ <i>again</i>]]></content:encoded></item>"
    "</channel></rss>"
)
BROKEN = RSS.replace("</channel>", "<unclosed></channel>")
DOCUMENTS = [path.read_bytes() for path in FEEDS] + [ATOM.encode(), RSS.encode(), BROKEN.encode()]


def test_feedparser_reads_with_the_buffered_expat_reader() -> None:
    assert isinstance(xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS), BufferedExpatParser)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[path.name for path in FEEDS] + ["atom", "rss", "broken"])
def test_documents_read_as_with_the_plain_expat_reader(monkeypatch: pytest.MonkeyPatch, document: bytes) -> None:
    def read() -> tuple[object, ...]:
        parsed = feedparser.parse(document, sanitize_html=False, resolve_relative_uris=False)
        try:
            articles: object = parse_feed(document, "x")
        except Exception as exc:
            articles = repr(exc)
        return parsed.entries, parsed.feed, repr(parsed.get("bozo_exception")), articles

    buffered = read()
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["xml.sax.expatreader"])
    assert buffered == read()
