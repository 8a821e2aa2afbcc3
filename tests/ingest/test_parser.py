from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import feedparser.mixin
import feedparser.urls
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import FeedParseError
from monitor.ingest import parser
from monitor.ingest.parser import MAX_ENTRIES, MAX_TEXT, MAX_TITLE, NotAFeedError, parse_feed
from tests.conftest import FIXTURES, LoopbackServer

FEEDS = FIXTURES / "feeds"
RSS1 = (FEEDS / "rss1.xml").read_bytes()
LAUGHS = (FEEDS / "billion-laughs.xml").read_bytes()
# No nesting, so no billion-laughs limit applies: one 50 kB entity used 20,000 times would be a gigabyte.
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "' + b"A" * 50_000 + b'">]>'
    b'<rss version="2.0"><channel><item><title>Blow-up</title><description>' + b"&big;" * 20_000 + b"</description>"
    b"</item></channel></rss>"
)


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>', channel: str = "") -> str:
    return f'{prolog}<rss version="2.0"><channel><title>t</title>{channel}{items}</channel></rss>'


def test_rss2() -> None:
    articles = parse_feed((FEEDS / "rss2.xml").read_bytes(), "world").articles
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
    first, second = parse_feed((FEEDS / "atom.xml").read_bytes(), "uk").articles
    assert first.title == "Бої на Донбасі тривають"
    assert first.text == "Ситуація на Донбас залишається складною."
    assert first.published == datetime(2022, 6, 20, 6, 15, tzinfo=UTC)
    assert first.language == "uk"
    assert first.author == "Олена"
    assert second.language == "en"
    assert second.text == "Plain text summary with <angle> brackets."
    assert second.content_key == "url:http://127.0.0.1/en/kyiv"


def test_rss1() -> None:
    (article,) = parse_feed(RSS1, "rdf").articles
    assert (article.title, article.text, article.url) == (
        "Summit in Vilnius",
        "Leaders meet.",
        "http://127.0.0.1/rdf/1",
    )
    assert article.published == datetime(2023, 7, 11, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ((FEEDS / "not-a-feed.html").read_bytes(), "an HTML page"),
        (b"<!doctype html><title>Login</title><p>Please sign in", "an HTML page"),
        (b"", "the document is empty"),
        (b"\x00\x01garbage", ""),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', ""),
        (b'<?xml version="1.0"?><sitemap><url>x</url></sitemap>', ""),
    ],
)
def test_not_a_feed(content: bytes, reason: str) -> None:
    with pytest.raises(NotAFeedError, match=f"feed 'x': not a feed{': ' + reason if reason else ''}"):
        parse_feed(content, "x")


@pytest.mark.parametrize(
    "content",
    [
        rss("<item><title>a &#xD800; b</title></item>").encode(),
        b"\x00\xff<rss><channel><item><title>unterminated",  # an entry begun, nothing in it
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title></title><link>',
    ],
)
def test_a_broken_feed_with_nothing_to_read_is_a_parse_error(content: bytes) -> None:
    with pytest.raises(FeedParseError, match="feed 'x': parse error") as caught:
        parse_feed(content, "x")
    assert not isinstance(caught.value, NotAFeedError)


def test_a_feed_cut_short_keeps_the_entries_read_before_the_cut() -> None:
    found = parse_feed(rss("<item><title>Whole</title><guid>1</guid></item><item><title>Cut").encode(), "x")
    assert [article.title for article in found.articles][:1] == ["Whole"]


# The declarations after a comment holding "<a": a pattern looking for the first element stops there.
COMMENT_TRICK = LAUGHS.replace(b"<!DOCTYPE rss [", b'<!DOCTYPE rss [\n<!-- <a href="/"> -->')
# One entity of 280 bytes named over and over: 93 times the document, just under expat's own limit.
NAMED_OFTEN = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!-- <a --><!ENTITY w "' + b"word " * 56 + b'">]><rss version="2.0">'
    b"<channel><item><title>Often &w;</title><description>" + b"&w;" * 100_000 + b"</description></item></channel>"
    b"</rss>"
)


@pytest.mark.parametrize(
    ("document", "title"),
    [
        (LAUGHS, "Laughs &lol9;"),
        (LAUGHS.replace(b"\n ", b""), "Laughs &lol9;"),
        (COMMENT_TRICK, "Laughs &lol9;"),
        (LAUGHS.replace(b"<!DOCTYPE rss [", b"<!DOCTYPE rss [<?pi <a ?>"), "Laughs &lol9;"),
        (QUADRATIC, "Blow-up"),
        (NAMED_OFTEN, "Often &w;"),
    ],
    ids=["laughs", "inline", "comment", "instruction", "quadratic", "named-often"],
)
def test_declared_entities_are_left_as_written(document: bytes, title: str) -> None:
    (article,) = parse_feed(document, "bomb").articles
    assert article.title == title
    assert len(article.text) <= len(document)
    assert "lollol" not in article.title + article.text
    assert "AAAA" not in article.text and "word word" not in article.text


@pytest.mark.parametrize(
    ("prolog", "title"),
    [
        # A feed that declares entities the way HTML names them reads them as HTML does.
        ('<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY eacute "&#233;">]>', "Caf\xe9 & bar: Acme Corp"),
        # Netscape's RSS 0.91 DTD is never read: HTML's names still read as HTML's.
        (
            '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">',
            "Caf\xe9 & bar: Acme Corp",
        ),
        ("", "Caf\xe9 & bar: Acme Corp"),
    ],
    ids=["declared", "netscape", "none"],
)
def test_html_entity_names_read_as_html(prolog: str, title: str) -> None:
    document = rss("<item><title>Caf&eacute; &amp; bar: Acme&nbsp;Corp</title></item>", prolog=prolog)
    (article,) = parse_feed(document.encode(), "x").articles
    assert article.title == title


def test_an_entity_of_the_feed_s_own_stays_a_reference() -> None:
    document = rss("<item><title>&company; results</title></item>", prolog='<!DOCTYPE rss [<!ENTITY company "Acme">]>')
    (article,) = parse_feed(document.encode(), "x").articles
    assert article.title == "&company; results"


@pytest.mark.parametrize(
    "line", [b"<!ENTITY x\n", b"<!DOCTYPE x\n", b"<!-- <a\n"], ids=["entity", "doctype", "comment"]
)
def test_a_long_prolog_of_unclosed_declarations_is_read_once(line: bytes) -> None:
    # feedparser's own patterns took time growing with the square of such a prolog: minutes for these 400 kB.
    document = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        + line * 40_000
        + rss("<item><title>Read</title></item>", "").encode()
    )
    assert [article.title for article in parse_feed(document, "x").articles] == ["Read"]


def test_external_entities_are_never_read(tmp_path: Path, loopback: LoopbackServer) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    loopback.routes["/evil.dtd"] = lambda _h: (200, {}, b'<!ENTITY leak "REMOTE-LEAK">')
    loopback.routes["/leak"] = lambda _h: (200, {}, b"REMOTE-LEAK")
    documents = [
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        + rss("<item><title>File &xxe;</title><description>&xxe;</description></item>", prolog=""),
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{loopback.url("/leak")}">\n]>\n'
        + rss("<item><title>Web &xxe;</title></item>", prolog=""),
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % dtd SYSTEM "{loopback.url("/evil.dtd")}"> %dtd;]>'
        + rss("<item><title>Param &leak;</title></item>", prolog=""),
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{loopback.url("/evil.dtd")}">'
        + rss("<item><title>DTD &leak;</title></item>", prolog=""),
    ]
    for document in documents:
        (article,) = parse_feed(document.encode(), "xxe").articles
        assert "TOP-SECRET" not in article.title + article.text
        assert "REMOTE-LEAK" not in article.title + article.text
    assert loopback.received == []


@pytest.mark.parametrize(
    ("content", "headers", "title"),
    [
        (
            rss("<item><title>Sécurité à Genève</title></item>", '<?xml version="1.0" encoding="ISO-8859-1"?>'),
            {},
            "Sécurité à Genève",
        ),
        (rss("<item><title>Sécurité à Genève</title></item>", ""), {"Content-Type": "text/xml; charset=latin-1"}, None),
        (
            # Windows-1252 served as ISO-8859-1, as so many servers do: the curly quotes come back.
            rss("<item><title>“Quotes” – café…</title></item>", '<?xml version="1.0" encoding="ISO-8859-1"?>'),
            {},
            None,
        ),
        (rss("<item><title>“Quotes” – café…</title></item>", ""), {}, None),  # no charset anywhere
        (rss("<item><title>“Quotes” – café…</title></item>"), {}, None),  # declared UTF-8, but is not
        (
            rss("<item><title>“Quotes” – café…</title></item>", '<?xml version="1.0" encoding="windows-1252"?>'),
            {},
            None,
        ),
    ],
)
def test_charsets(content: str, headers: dict[str, str], title: str | None) -> None:
    expected = title or ("Sécurité à Genève" if "Genève" in content else "“Quotes” – café…")
    encoding = "iso-8859-1" if "Genève" in content else "cp1252"
    (article,) = parse_feed(content.encode(encoding), "x", headers).articles
    assert article.title == expected


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])  # utf-16-le: no byte-order mark
def test_wide_encodings(encoding: str) -> None:
    document = rss("<item><title>Київ\x00 today</title></item>", f'<?xml version="1.0" encoding="{encoding}"?>')
    (article,) = parse_feed(document.encode(encoding), "x").articles
    assert article.title == "Київ today"


def test_nul_bytes_are_dropped_everywhere() -> None:
    item = "<item><title>Null\x00 title</title><link>http://127.0.0.1/a\x00b</link><guid>g\x00</guid>"
    item += "<description>&lt;p&gt;body\x00 text&lt;/p&gt;</description><author>x\x00y</author></item>"
    (article,) = parse_feed(rss(item).encode(), "x").articles
    values = [article.title, article.text, article.url, article.author, article.content_key]
    assert all("\x00" not in (value or "") for value in values)
    assert (article.title, article.text, article.url) == ("Null title", "body text", "http://127.0.0.1/ab")


def test_long_titles_and_many_entries_are_cut() -> None:
    title = "word " * 400
    items = "".join(f"<item><title>{title}{n}</title><guid>{n}</guid></item>" for n in range(MAX_ENTRIES + 50))
    parsed = parse_feed(rss(items).encode(), "x")
    assert len(parsed.articles) == MAX_ENTRIES
    assert all(len(article.title) <= MAX_TITLE for article in parsed.articles)
    assert len(parse_feed(rss(items).encode(), "x", max_entries=3).articles) == 3


@pytest.mark.parametrize(
    ("body", "max_text", "text"),
    [
        # The text after HTML is stripped is what counts: the markup may be far longer.
        ("&lt;p&gt;" + "&lt;b&gt;word&lt;/b&gt; " * 50 + "&lt;/p&gt;", 20, "word word word word"),
        ("Café " * 10, 9, "Café Café"),
        ("cafe\u0301 " * 10, 10, "cafe\u0301 caf"),  # never an e without its accent
        ("short", 1000, "short"),
        ("x" * (MAX_TEXT + 10), None, "x" * MAX_TEXT),  # the default
    ],
    ids=["html", "characters", "combining", "short", "default"],
)
def test_texts_are_cut_at_max_text(body: str, max_text: int | None, text: str) -> None:
    document = rss(f"<item><title>t</title><description>{body}</description></item>").encode()
    if max_text is None:
        (article,) = parse_feed(document, "x").articles
    else:
        (article,) = parse_feed(document, "x", max_text=max_text).articles
    assert article.text == text


def test_a_long_text_is_cut_once_in_one_piece() -> None:
    # Several megabytes in one item: the article keeps its start, its keys are those of what it keeps.
    body = "<p>" + "alpha beta gamma " * 200_000 + "</p>"
    document = rss(f"<item><title>Long read</title><description><![CDATA[{body}]]></description></item>").encode()
    (article,) = parse_feed(document, "x", max_text=1000).articles
    assert article.title == "Long read"
    assert len(article.text) <= 1000 and article.text.startswith("alpha beta gamma alpha")
    assert (
        article.keys
        == parse_feed(
            rss(f"<item><title>Long read</title><description>{article.text}</description></item>").encode(), "x"
        )
        .articles[0]
        .keys
    )


@pytest.mark.parametrize(
    ("channel", "ttl"),
    [("<ttl>60</ttl>", timedelta(hours=1)), ("<ttl>0</ttl>", None), ("<ttl>soon</ttl>", None), ("", None)],
)
def test_ttl(channel: str, ttl: timedelta | None) -> None:
    assert parse_feed(rss("<item><title>a</title></item>", channel=channel).encode(), "x").ttl == ttl


_C1 = {code: bytes([code]).decode("cp1252", errors="ignore") or None for code in range(0x80, 0xA0)}


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"ab \x00\x01\n", "\x80", "\x81", "\x93", "\x9f", "\ud800", "é", "“"])))
def test_repair_keeps_what_the_plain_version_keeps(text: str) -> None:
    assert parser._repair(text) == re.sub(r"[\x00\ud800-\udfff]", "", text).translate(_C1)


@pytest.mark.parametrize(
    "fields",
    [
        (2024, 5, 31, 22, 9, 0),
        (2016, 12, 31, 23, 59, 60),  # a leap second
        (2024, 2, 30, 12, 0, 0),  # a day the month does not have
        (2024, 13, 1, 0, 0, 0),
        (1, 1, 1, 0, 0, 0),
        (9999, 12, 31, 23, 59, 59),
        (0, 1, 1, 0, 0, 0),
        (10000, 1, 1, 0, 0, 0),
    ],
)
def test_published_is_the_instant_of_the_parsed_date(fields: tuple[int, ...]) -> None:
    value = time.struct_time((*fields, 0, 1, 0))
    try:
        expected: datetime | None = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        expected = None
    assert parser._published({"published_parsed": value}) == expected


_URL_PIECES = [*"aZ09._~!$&'()*+,=:@%/-?#; \t\\é[]", "..", "/./", "//", ":80", "http://", "https://", "HTTP://"]
_BASES = ["", "http://feed.example/dir/feed.xml", "https://a.example:8443/x/?q=1#f", "ftp://files.example/", "/dir/"]


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["", "http://", "https://", "HTTP://", "http:///", "ftp://", "javascript:"]),
    st.lists(st.sampled_from(_URL_PIECES), max_size=20).map("".join),
    st.sampled_from(_BASES),
)
def test_urls_are_joined_as_feedparser_joins_them(scheme: str, rest: str, base: str) -> None:
    assert parser._urljoin(base, scheme + rest) == feedparser.urls._urljoin(base, scheme + rest)


def _atom(link: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:base="https://base.example/news/"><title>t</title><entry xml:base="section/"><title>a</title>'
        f'<link href="{escape(link)}"/><id>{escape(link)}</id></entry></feed>'
    )


@pytest.mark.parametrize(
    "link",
    [
        "https://site.example/2024/05/story",
        "http://Site.Example:8080/a/../b/./c",
        "https://site.example/story?id=1&utm_source=rss#top",
        "https://site.example/a;params",
        "https:////site.example/extra-slashes",
        "/absolute-path",
        "../relative/story",
        "relative",
        "?page=2",
        "  https://site.example/padded  ",
        "mailto:editor@site.example",
        "javascript:alert(1)",
        "",
    ],
)
@pytest.mark.parametrize("base_url", ["http://feed.example/dir/feed.xml", None])
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_links_resolve_as_with_feedparser_alone(
    monkeypatch: pytest.MonkeyPatch, link: str, base_url: str | None, kind: str
) -> None:
    if kind == "rss":
        items = f"<item><title>a</title><link>{escape(link)}</link><guid>{escape(link)}</guid></item>"
        document = rss(items).encode()
    else:
        document = _atom(link).encode()
    resolved = parse_feed(document, "x", base_url=base_url)
    monkeypatch.setattr(feedparser.mixin, "_urljoin", feedparser.urls._urljoin)
    monkeypatch.setattr(feedparser.mixin, "make_safe_absolute_uri", feedparser.urls.make_safe_absolute_uri)
    assert resolved == parse_feed(document, "x", base_url=base_url)
