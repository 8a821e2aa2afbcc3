from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.delivery.notify import AlertMessage, generic

from .alerts import CONTROLS, HOSTILE, MENTIONS, NORMAL, RTL_OVERRIDE, ZERO_WIDTH_RUN, strings, with_marks

NORMAL_PAYLOAD: dict[str, Any] = {
    "type": "monitor.alert",
    "id": 42,
    "rule": {"name": "Otan", "query": '"sommet de l\'Otan" OR Madrid'},
    "article": {
        "title": "Le sommet de l'Otan à Madrid",
        "url": "https://www.lemonde.fr/international/article/2022/06/15/otan-madrid_6130000_3210.html",
        "source": "Le Monde",
        "published": "2022-06-15T10:00:00Z",
        "language": "fr",
    },
    "snippet": "… avant le sommet de l'Otan prévu …",
    "highlights": [[11, 27]],
    "field": "text",
    "matched": ["sommet de l'Otan"],
    "created_at": "2022-06-15T10:05:30Z",
    "also_in": [
        {
            "title": "Sommet de l'Otan : les Alliés réunis à Madrid",
            "url": "https://www.lefigaro.fr/international/sommet-otan-madrid-20220615",
            "source": "Le Figaro",
            "published": "2022-06-15T10:20:00Z",
        }
    ],
}

UNKNOWNS = replace(
    NORMAL,
    id=7,
    article=replace(NORMAL.article, url=None, published=None, language=None),
    matched=(),
    created_at=datetime(2022, 6, 15, 12, 5, 30, tzinfo=timezone(timedelta(hours=2))),
    also_in=(),
)
UNKNOWNS_PAYLOAD = {
    **NORMAL_PAYLOAD,
    "id": 7,
    "article": {**NORMAL_PAYLOAD["article"], "url": None, "published": None, "language": None},
    "matched": [],
    "created_at": "2022-06-15T10:05:30Z",
    "also_in": [],
}

DIRTY = with_marks(
    NORMAL,
    f"{RTL_OVERRIDE}… avant le **sommet de l'Otan** prévu …{CONTROLS}",
    rule="\u202eOtan\x00",
    article=replace(NORMAL.article, title=f"Le sommet{ZERO_WIDTH_RUN} de l'Otan\x07 à Madrid\n\n\n\n"),
    matched=("sommet\u200b de l'Otan",),
)
DIRTY_PAYLOAD = {
    **NORMAL_PAYLOAD,
    "snippet": "… avant le sommet de l'Otan prévu …[31m",  # the highlight moved with the characters cleaned away
    "matched": ["sommet de l'Otan"],
}


@pytest.mark.parametrize(
    ("alert", "expected"),
    [(NORMAL, NORMAL_PAYLOAD), (UNKNOWNS, UNKNOWNS_PAYLOAD), (DIRTY, DIRTY_PAYLOAD)],
    ids=["normal", "unknowns", "dirty"],
)
def test_render_exact(alert: AlertMessage, expected: dict[str, Any]) -> None:
    payload = generic.render(alert)
    assert payload == expected
    assert json.loads(json.dumps(payload, allow_nan=False)) == expected


def test_render_hostile_is_cleaned_not_escaped() -> None:
    payload = generic.render(HOSTILE)
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    for forbidden in (RTL_OVERRIDE, "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2060", "\ufeff", "\u200b"):
        assert forbidden not in text
    # The receiver escapes: article text reaches it whole and unaltered apart from cleaning.
    assert payload["article"]["title"].startswith(MENTIONS)
    assert len(payload["article"]["title"]) > 4_900
    assert len(payload["snippet"]) > 9_900
    assert payload["article"]["published"] == "2022-06-15T12:00:00Z"
    assert payload["matched"][0] == MENTIONS
    assert all(isinstance(s, str) for s in strings(payload))


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        ({"snippet": "s" * 30_000, "highlights": ()}, ("snippet",), "s" * (generic.TEXT_LIMIT - 1) + "…"),
        ({"query": "q" * 20_000}, ("rule", "query"), "q" * 20_000),
        ({"matched": ("m" * 600,)}, ("matched", 0), "m" * (generic.TERM_LIMIT - 1) + "…"),
        ({"article": replace(NORMAL.article, title="t" * 20_001)}, ("article", "title"), "t" * 19_999 + "…"),
        ({"article": replace(NORMAL.article, url="https://x.example/" + "a" * 20_000)}, ("article", "url"), None),
    ],
)
def test_text_caps(changes: dict[str, Any], path: tuple[str | int, ...], expected: str | None) -> None:
    value: Any = generic.render(replace(NORMAL, **changes))
    for key in path:
        value = value[key]
    assert value == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.lemonde.fr/a.html?x=1&y=2#top", "https://www.lemonde.fr/a.html?x=1&y=2#top"),
        ("HTTP://Example.COM/café", "HTTP://Example.COM/café"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("  https://example.com/padded \n", "https://example.com/padded"),
        ("https://example.com/\u202egpj.exe", "https://example.com/gpj.exe"),
        ("javascript:alert(document.cookie)", None),
        ("JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("\x00javascript:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", None),
        ("vbscript:msgbox(1)", None),
        ("file:///etc/passwd", None),
        ("ftp://example.com/", None),
        ("//example.com/relative", None),
        ("/relative/path", None),
        ("not a url", None),
        ("https://", None),
        ("https:///path-only", None),
        ("https://example.com/with space", None),
        ("https://example.com:99999/", None),
        ("", None),
        (None, None),
    ],
)
def test_only_web_urls(url: str | None, expected: str | None) -> None:
    other = replace(NORMAL.also_in[0], url=url)
    payload = generic.render(replace(NORMAL, article=replace(NORMAL.article, url=url), also_in=(other,)))
    assert payload["article"]["url"] == expected
    assert payload["also_in"][0]["url"] == expected


def test_also_in_url_capped() -> None:
    long = "https://x.example/" + "a" * generic.ALSO_IN_TEXT_LIMIT
    payload = generic.render(replace(NORMAL, also_in=(replace(NORMAL.also_in[0], url=long),)))
    assert payload["also_in"][0]["url"] is None


def test_terms_capped() -> None:
    payload = generic.render(replace(NORMAL, matched=tuple(f"t{i}" for i in range(500))))
    assert payload["matched"] == [f"t{i}" for i in range(generic.TERMS_LIMIT)]


@pytest.mark.parametrize(
    ("snippet", "highlights", "sent", "words"),
    [
        # The article's own asterisks are text: only the highlights say where the matches are.
        ("**Breaking** NATO summit", ((13, 17), (18, 24)), "**Breaking** NATO summit", ["NATO", "summit"]),
        ("__a__ *b*", ((2, 3),), "__a__ *b*", ["a"]),
        # Cleaning removes characters; the highlights follow the ones that stay.
        ("\x00a\u200b\u202eb NATO", ((6, 10),), "ab NATO", ["NATO"]),
        ("  \u202e NATO  ", ((4, 8),), "NATO", ["NATO"]),
        # Private-use characters of the article's own are the markers' and are dropped from the snippet.
        ("\ue000x\ue001 NATO", ((4, 8),), "x NATO", ["NATO"]),
        ("NATO", (), "NATO", []),
    ],
)
def test_snippet_is_plain_text_with_highlights(
    snippet: str, highlights: tuple[tuple[int, int], ...], sent: str, words: list[str]
) -> None:
    payload = generic.render(replace(NORMAL, snippet=snippet, highlights=highlights))
    assert payload["snippet"] == sent
    assert [payload["snippet"][start:end] for start, end in payload["highlights"]] == words


def test_a_highlight_cut_with_the_snippet_ends_before_the_ellipsis() -> None:
    snippet = "a " * 10_000 + "NATO summit"
    payload = generic.render(replace(NORMAL, snippet=snippet, highlights=((0, 1), (19_990, 20_011))))
    assert len(payload["snippet"]) <= generic.TEXT_LIMIT and payload["snippet"].endswith("…")
    (first, last) = payload["highlights"]
    assert first == [0, 1] and last[1] <= len(payload["snippet"]) - 1
    assert payload["snippet"][last[0] : last[1]].startswith("a a")


def test_a_match_in_the_title_says_so() -> None:
    payload = generic.render(with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title"))
    assert (payload["field"], payload["snippet"], payload["highlights"]) == (
        "title",
        "Le sommet de l'Otan à Madrid",
        [[3, 9]],
    )


def test_digest_shape() -> None:
    (message,) = generic.render_digest([NORMAL, UNKNOWNS], "\u202eOtan", "2022-06-15T10:00Z/PT1H")
    assert message == {
        "type": "monitor.digest",
        "rule": {"name": "Otan"},
        "window": "2022-06-15T10:00Z/PT1H",
        "part": {"number": 1, "count": 1},
        "total": 2,
        "alerts": [NORMAL_PAYLOAD, UNKNOWNS_PAYLOAD],
    }
