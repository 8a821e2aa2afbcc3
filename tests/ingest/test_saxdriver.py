from __future__ import annotations

import io
import xml.sax
from html import escape
from xml.sax.handler import ContentHandler

import feedparser
import feedparser.api
import pytest

from monitor.ingest.parser import parse_feed
from monitor.ingest.saxdriver import BufferedExpatParser, EntityRefused
from tests.conftest import FIXTURES

# The plain reader expands declared entities (up to expat's limit) where this one refuses them: those documents
# are read differently, on purpose.
FEEDS = sorted(path for path in (FIXTURES / "feeds").glob("*.xml") if b"<!ENTITY" not in path.read_bytes())
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


class Recorder(ContentHandler):
    """A content handler that keeps the text it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def characters(self, content: str) -> None:
        self.text.append(content)


LAUGHS = '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
BODY = "<rss><channel><title>&lol2;&lol2;</title></channel></rss>"


@pytest.mark.parametrize(
    ("document", "refused"),
    [
        (f"<!DOCTYPE rss [{LAUGHS}]>{BODY}", "entity 'lol' declared"),
        # What comes before the declarations does not matter: a comment or an instruction holding "<a", which a
        # pattern looking for the first element would take for it.
        (f'<!DOCTYPE rss [<!-- <a href="/"> -->{LAUGHS}]>{BODY}', "entity 'lol' declared"),
        (f"<!DOCTYPE rss [<?pi <a ?>{LAUGHS}]>{BODY}", "entity 'lol' declared"),
        (f'<!DOCTYPE rss [<!ELEMENT rss ANY><!ATTLIST rss a CDATA "x>">{LAUGHS}]>{BODY}', "entity 'lol' declared"),
        (f'<!DOCTYPE rss [<!ENTITY big "{"A" * 50_000}">]><rss>{"&big;" * 200}</rss>', "entity 'big' declared"),
        ('<!DOCTYPE rss [<!ENTITY % p "x">]><rss>x</rss>', "entity 'p' declared"),
        ('<!DOCTYPE rss [<!ENTITY e SYSTEM "file:///etc/hostname">]><rss>&e;</rss>', "entity 'e' declared"),
        (
            '<!DOCTYPE rss [<!NOTATION gif SYSTEM "gif"><!ENTITY pic SYSTEM "a.gif" NDATA gif>]><rss>x</rss>',
            "entity 'pic' declared",
        ),
        # An entity only an external DTD (never read) could declare is not skipped in silence.
        ('<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd"><rss>Caf&eacute;</rss>', "reference &eacute;"),
    ],
    ids=["laughs", "comment", "instruction", "attlist", "quadratic", "parameter", "external", "unparsed", "skipped"],
)
def test_entity_declarations_are_refused_before_any_expansion(document: str, refused: str) -> None:
    reader = BufferedExpatParser()
    recorder = Recorder()
    reader.setContentHandler(recorder)
    with pytest.raises(EntityRefused, match=refused):
        reader.parse(io.BytesIO(document.encode()))
    assert "lol" not in "".join(recorder.text) and "AAA" not in "".join(recorder.text)


@pytest.mark.parametrize(
    "document",
    [
        "<rss>Caf&#233; &amp; bar</rss>",
        '<!DOCTYPE rss [<!ELEMENT rss ANY><!ATTLIST rss version CDATA "2.0">]><rss>Caf&#233; &amp; bar</rss>',
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss.dtd"><rss>Caf&#233; &amp; bar</rss>',
    ],
    ids=["plain", "internal-subset", "external-dtd"],
)
def test_documents_without_entities_are_read_whole(document: str) -> None:
    reader = BufferedExpatParser()
    recorder = Recorder()
    reader.setContentHandler(recorder)
    reader.parse(io.BytesIO(document.encode()))
    assert "".join(recorder.text) == "Café & bar"
