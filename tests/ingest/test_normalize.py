from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest import normalize
from monitor.ingest.normalize import (
    MAX_KEY,
    article_keys,
    canonical_url,
    clean_text,
    content_key,
    cut,
    detect_language,
    fold,
    html_to_text,
    url_key,
)


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


@pytest.mark.parametrize(
    ("text", "size", "cut_text"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("a long article", 6, "a long"),
        ("a long article", 7, "a long"),  # the space it ends on is dropped
        ("mot café", 7, "mot caf"),  # é as one character
        ("mot cafe\u0301", 8, "mot caf"),  # e and its accent as two: never the e without it
        ("mot cafe\u0301\u0327", 9, "mot caf"),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", 8, "family"),  # not a joined emoji in part
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", 9, "family"),
        (
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467 and",
            12,
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("wave \U0001f44b\U0001f3fd", 6, "wave"),  # nor the hand without its skin tone
        ("flag \u2764\ufe0f", 6, "flag"),  # nor the heart without its variation selector
        ("Київ і Донбас", 4, "Київ"),
        ("x" + "\u0301" * 100, 50, "x" + "\u0301" * 49),  # a run of marks longer than any character: cut anywhere
    ],
)
def test_cut(text: str, size: int, cut_text: str) -> None:
    assert cut(text, size) == cut_text
    assert len(cut(text, size)) <= size


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["&amp;", "&#233;", "&#x1F600;", "&eacute", "&nbsp;", "&w;", "x", " ", ";", "&"]), max_size=60
    ),
    st.integers(13, 40),  # longer than the room given to a reference, as the real piece is
)
def test_long_texts_are_unescaped_as_in_one_piece(parts: list[str], piece: int) -> None:
    text = "".join(parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(normalize, "_UNESCAPE_PIECE", piece)
        patch.setattr(normalize, "_REFERENCE_ROOM", 12)
        assert normalize._unescape(text) == html.unescape(text)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.org/a", "url:https://example.org/a"),
        ("https://example.org/" + "a" * 576, "url:https://example.org/" + "a" * 576),  # 600 characters: kept
        ("https://example.org/" + "a" * 577, None),
        ("https://example.org/" + "й" * 700, None),
    ],
)
def test_url_keys_fit_their_column(url: str, key: str | None) -> None:
    found = url_key(url)
    assert len(found) <= MAX_KEY
    if key is not None:
        assert found == key
    else:
        assert re.fullmatch("url:sha256:[0-9a-f]{64}", found)
        assert url_key(url + "b") != found and url_key(url + "#fragment") == found
    assert content_key(None, url, "t", "x", scope="s") == found
    assert found in article_keys(None, url, "t", "x", scope="s")
