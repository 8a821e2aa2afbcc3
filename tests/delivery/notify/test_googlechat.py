from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from monitor.delivery.notify import googlechat
from monitor.delivery.notify.body import size

from .alerts import HOSTILE, NORMAL, THUMB, with_marks

# The only tags a card text may hold are ours.
OUR_TAGS = re.compile(r'</?b>|<br>|<a href="https://[^"<>\s]+">|</a>')


def widgets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the widgets of the single card section of a payload."""
    (card,) = payload["cardsV2"]
    (section,) = card["card"]["sections"]
    return list(section["widgets"])


def test_render_normal() -> None:
    payload = googlechat.render(NORMAL)
    # No "text": Chat would show it above the card, saying the rule and the title twice.
    assert set(payload) == {"fallbackText", "cardsV2"}
    assert payload["fallbackText"] == "Otan: Le sommet de l'Otan à Madrid"
    assert payload["cardsV2"][0]["card"]["header"] == {"title": "Otan", "subtitle": "Le Monde · 2022-06-15 10:00 UTC"}
    url = NORMAL.article.url
    assert widgets(payload) == [
        {"textParagraph": {"text": f'<b><a href="{url}">Le sommet de l\'Otan à Madrid</a></b>'}},
        {"textParagraph": {"text": "… avant le <b>sommet de l'Otan</b> prévu …"}},
        {"decoratedText": {"topLabel": "Matched", "text": "sommet de l'Otan", "wrapText": True}},
        {"buttonList": {"buttons": [{"text": "Open article", "onClick": {"openLink": {"url": url}}}]}},
    ]


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("A *b* _c_ ~d~ `e`", "Otan: A \u2217b\u2217 \u02cdc\u02cd \u223cd\u223c \u02cbe\u02cb"),
        ("<users/all> <https://evil|click>", "Otan: \uff1cusers/all\uff1e \uff1chttps://evil|click\uff1e"),
        ("[x](http://e) @all @here", "Otan: [x]\u200b(http://e) @\u200ball @\u200bhere"),
        ("", "Otan: (untitled)"),
    ],
)
def test_text_fallback_is_inert(title: str, text: str) -> None:
    alert = replace(NORMAL, article=replace(NORMAL.article, title=title))
    assert googlechat.render(alert)["fallbackText"] == text


def test_a_match_in_the_title_quotes_the_first_sentence_of_the_text() -> None:
    payload = googlechat.render(with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title"))
    paragraph = widgets(payload)[1]["textParagraph"]["text"]
    assert paragraph == "Les Alliés se retrouvent à Madrid pour le sommet de l'Otan."
    assert json.dumps(payload["cardsV2"], ensure_ascii=False).count("Le sommet de l'Otan à Madrid") == 1


@pytest.mark.parametrize(
    ("snippet", "html"),
    [
        ("… avant le **sommet** prévu …", "… avant le <b>sommet</b> prévu …"),
        (
            "<b>x</b> & <a href='javascript:x'>y</a>",
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='javascript:x'&gt;y&lt;/a&gt;",
        ),
        ("one\ntwo", "one<br>two"),
        ("<users/all> @all", "&lt;users/all&gt; @\u200ball"),
        ("<**users/all**>", "&lt;\u200b<b>users/all</b>&gt;"),  # a match right after "<" still breaks it
        ("a **b** c", "a <b>b</b> c"),
    ],
)
def test_snippet_html(snippet: str, html: str) -> None:
    assert widgets(googlechat.render(with_marks(NORMAL, snippet)))[1]["textParagraph"]["text"] == html


def test_the_articles_own_asterisks_stay_text() -> None:
    alert = replace(NORMAL, snippet="**Breaking** NATO", highlights=((13, 17),))
    assert widgets(googlechat.render(alert))[1]["textParagraph"]["text"] == "**Breaking** <b>NATO</b>"


@pytest.mark.parametrize(
    ("url", "link", "button"),
    [
        ("https://x.example/?a=1&b=2", '<a href="https://x.example/?a=1&amp;b=2">', "https://x.example/?a=1&b=2"),
        ("javascript:alert(1)", None, None),
        (None, None, None),
    ],
)
def test_links(url: str | None, link: str | None, button: str | None) -> None:
    found = widgets(googlechat.render(replace(NORMAL, article=replace(NORMAL.article, url=url))))
    title = found[0]["textParagraph"]["text"]
    assert (link in title) if link else ("<a " not in title)
    buttons = [w["buttonList"]["buttons"][0]["onClick"]["openLink"]["url"] for w in found if "buttonList" in w]
    assert buttons == ([button] if button else [])


def test_hostile_card_html_holds_only_our_tags() -> None:
    payload = googlechat.render(HOSTILE)
    assert size(payload) <= googlechat.MAX_BYTES
    assert "<" not in payload["fallbackText"] and ">" not in payload["fallbackText"]
    for widget in widgets(payload):
        for key in ("textParagraph", "decoratedText"):
            if key in widget:
                leftover = OUR_TAGS.sub("", widget[key]["text"])
                assert "<" not in leftover and ">" not in leftover, leftover[:200]


BIG = replace(
    NORMAL,
    rule=THUMB * 500,
    snippet=THUMB * 5000,
    highlights=(),
    matched=(THUMB * 1000,),
    article=replace(NORMAL.article, title=THUMB * 2000, source=THUMB * 500, url="https://x.example/" + "a" * 2000),
)


@pytest.mark.parametrize(("ceiling", "longest"), [(googlechat.MAX_BYTES, 4000), (25_000, 2000), (20_000, 1000)])
def test_snippet_shrinks_to_fit_bytes(monkeypatch: pytest.MonkeyPatch, ceiling: int, longest: int) -> None:
    monkeypatch.setattr(googlechat, "MAX_BYTES", ceiling)
    payload = googlechat.render(BIG)
    assert size(payload) <= ceiling
    snippet = widgets(payload)[1]["textParagraph"]["text"]
    assert longest - 8 < len(snippet) <= longest and snippet.endswith("…")
