from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.normalize import canonical_url, clean_text, content_key, detect_language, fold, html_to_text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>l&#39;<b>Ukraine</b> r&eacute;clame</p><p>Suite</p>", "l'Ukraine réclame\nSuite"),
        ("Fish &amp; chips", "Fish & chips"),
        ("<script>alert(1)</script><style>p{}</style>Visible", "Visible"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>  lots   of\n\n\n  space </p>", "lots of\n\nspace"),
        ('<img alt="Photo of the summit" src="x.jpg">caption', "Photo of the summit caption"),
        ("tab\there\x00nul\x07bell", "tab herenulbell"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_clean_text_keeps_paragraphs() -> None:
    assert clean_text("a\r\n\r\n\r\nb\u00a0c") == "a\n\nb c"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM:80/a/b?utm_source=x&id=3#frag", "http://example.com/a/b?id=3"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/x?fbclid=1&gclid=2", "https://example.com/x"),
        ("https://example.com/x?b=2&a=1", "https://example.com/x?b=2&a=1"),
        ("https://EXAMPLE.com./Path", "https://example.com/Path"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("guid", "url", "prefix"),
    [
        ("https://example.com/story?utm_medium=rss", None, "url:https://example.com/story"),
        ("tag:example.com,2022:1", "https://example.com/story", "guid:"),
        (None, "https://example.com/story#top", "url:https://example.com/story"),
        (None, None, "sha256:"),
    ],
)
def test_content_key(guid: str | None, url: str | None, prefix: str) -> None:
    assert content_key(guid, url, "Title", "Text", scope="feed").startswith(prefix)


def test_content_key_scopes_opaque_guids_by_feed() -> None:
    assert content_key("42", None, "t", "x", scope="a") != content_key("42", None, "t", "x", scope="b")


def test_content_hash_ignores_case_and_punctuation() -> None:
    assert content_key(None, None, "Title!", "Some  text.", "a") == content_key(None, None, "title", "some text", "b")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Les ministres de la Défense de l'Alliance se sont réunis à Bruxelles pour parler de l'Ukraine.", "fr"),
        (
            "Die Verteidigungsminister der Allianz haben sich in Brüssel getroffen, um über die Ukraine zu sprechen.",
            "de",
        ),
        ("Міністри оборони Альянсу зустрілися в Брюсселі, щоб обговорити підтримку України.", "uk"),
        ("ok", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


# Plain versions of fold and canonical_url, the specification of the faster code in normalize.
_WORD = re.compile(r"\w+")
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hsenc|_hsmi|mkt_tok|"
    r"ocid|cmpid|xtor|at_medium|at_campaign|ito|ref_src|smid|sr_share)$",
    re.IGNORECASE,
)


def plain_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(_WORD.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch))))


def plain_canonical_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    if port is not None and {"http": 80, "https": 443}.get(scheme) != port:
        netloc += f":{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    path = parts.path or ("/" if scheme in ("http", "https") else "")
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=40), st.text(max_size=40)))
def test_fold_is_the_plain_version(text: str) -> None:
    assert fold(text) == plain_fold(text)


url_pieces = st.sampled_from(
    [
        *"/?#.:@-aZ;&=\\ \t\n\x01\x85\u3000éü",
        *["http", "https", "HTTP", "://", "example", ".com", "//", "x=1", "utm_source=y", "user", "%20", "[::1]"],
        *[":80", ":443", ":8080"],
    ]
)
urls = st.tuples(
    st.sampled_from(["", "http://", "https://", "HTTPS://", "https://host.org", "http://host.org."]),
    st.lists(url_pieces, max_size=10).map("".join),
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(urls)
def test_canonical_url_is_the_plain_version(url: str) -> None:
    assert canonical_url.__wrapped__(url) == plain_canonical_url(url)
