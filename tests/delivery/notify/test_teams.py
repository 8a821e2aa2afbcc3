from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from monitor.delivery.notify import teams
from monitor.delivery.notify.body import size

from .alerts import FEED_MARKUP, HOSTILE, NORMAL, THUMB, with_marks


def card(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the Adaptive Card of a Workflows payload, checking the envelope."""
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    return content


def elements(value: object) -> list[dict[str, Any]]:
    """Return every object with a ``type`` inside a card, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "type" in value:
            found.append(value)
        for item in value.values():
            found.extend(elements(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(elements(item))
    return found


def runs(block: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Return a RichTextBlock's runs as (text, weight) pairs."""
    assert block["type"] == "RichTextBlock"
    return [(run["text"], run.get("weight")) for run in block["inlines"]]


def test_render_normal() -> None:
    content = card(teams.render(NORMAL))
    assert content["fallbackText"] == "Otan: Le sommet de l'Otan à Madrid"
    assert [runs(block) for block in content["body"]] == [
        [("Otan", "Bolder")],
        [("Le sommet de l'Otan à Madrid", "Bolder")],
        [("Le Monde · 2022-06-15 10:00 UTC", None)],
        [("… avant le ", None), ("sommet de l'Otan", "Bolder"), (" prévu …", None)],
        [("Matched: ", "Bolder"), ("sommet de l'Otan", None)],
    ]
    assert content["actions"] == [{"type": "Action.OpenUrl", "title": "Open article", "url": NORMAL.article.url}]
    # The title is the article's link too.
    assert content["body"][1]["inlines"][0]["selectAction"] == {"type": "Action.OpenUrl", "url": NORMAL.article.url}


def test_a_match_in_the_title_quotes_the_first_sentence_of_the_text() -> None:
    content = card(teams.render(with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title")))
    assert runs(content["body"][3]) == [("Les Alliés se retrouvent à Madrid pour le sommet de l'Otan.", None)]
    assert [run for block in content["body"] for run, _ in runs(block)].count("Le sommet de l'Otan à Madrid") == 1


@pytest.mark.parametrize(
    ("changes", "blocks", "actions"),
    [
        ({"url": None}, 5, False),
        ({"url": "javascript:alert(1)"}, 5, False),
        ({"published": None, "source": ""}, 4, True),
    ],
)
def test_optional_parts(changes: dict[str, Any], blocks: int, actions: bool) -> None:
    content = card(teams.render(replace(NORMAL, article=replace(NORMAL.article, **changes))))
    assert len(content["body"]) == blocks
    assert ("actions" in content) is actions
    assert ("selectAction" in content["body"][1]["inlines"][0]) is actions


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("**a** b **c**", [("a", "Bolder"), (" b ", None), ("c", "Bolder")]),
        # Shown as typed; "<at>" only mentions with an entity list, and is broken in case it is copied.
        ("[x](http://e) *i* _u_ <at>bob</at>", [("[x](http://e) *i* _u_ <\u200bat>bob<\u200b/at>", None)]),
        ("@here and **@all**", [("@\u200bhere and ", None), ("@\u200ball", "Bolder")]),
        ("a lone ** mark", [("a lone ** mark", None)]),
    ],
)
def test_snippet_runs_are_plain_text(snippet: str, expected: list[tuple[str, str | None]]) -> None:
    body = card(teams.render(with_marks(NORMAL, snippet)))["body"]
    assert runs(body[3]) == expected


def test_the_articles_own_marks_are_never_bold() -> None:
    body = card(teams.render(HOSTILE))["body"]
    plain = "".join(text for text, weight in runs(body[3]) if weight is None)
    assert "a lone ** and **the feed's own bold** not a match <\u200bb>bold<\u200b/b>" in plain
    assert FEED_MARKUP.startswith("a lone ** and **the feed's own bold** \ue000not a match\ue001 <b>")


@pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])
def test_article_text_only_in_text_runs(alert: Any) -> None:
    # TextBlock reads Markdown; RichTextBlock runs show text as typed.
    types = {element["type"] for element in elements(card(teams.render(alert)))}
    assert types <= {"AdaptiveCard", "RichTextBlock", "TextRun", "Action.OpenUrl", "Container"}


def test_many_bold_words_shrink_the_snippet() -> None:
    # Every bold word is a run of its own (~40 bytes of JSON), so 3,000 characters could pass 28 KB.
    snippet = " ".join(f"**{THUMB}**" for _ in range(1000))
    payload = teams.render(with_marks(NORMAL, snippet))
    assert size(payload) <= teams.MAX_BYTES
    assert 0 < len(card(payload)["body"][3]["inlines"]) < 1000


@pytest.mark.parametrize(("ceiling", "longest"), [(teams.MAX_BYTES, 3000), (20_000, 1500), (17_000, 750)])
def test_snippet_shrinks_to_fit_bytes(monkeypatch: pytest.MonkeyPatch, ceiling: int, longest: int) -> None:
    monkeypatch.setattr(teams, "MAX_BYTES", ceiling)
    big = replace(
        NORMAL,
        rule=THUMB * 500,
        snippet=THUMB * 5000,
        highlights=(),
        matched=(THUMB * 1000,),
        article=replace(NORMAL.article, title=THUMB * 2000, source=THUMB * 500, url="https://x.example/" + "a" * 2000),
    )
    payload = teams.render(big)
    assert size(payload) <= ceiling
    (snippet,) = card(payload)["body"][3]["inlines"]
    assert longest - 8 < len(snippet["text"]) <= longest and snippet["text"].endswith("…")


def test_hostile_within_bytes() -> None:
    payload = teams.render(HOSTILE)
    assert size(payload) <= teams.MAX_BYTES
    content = card(payload)
    assert content["body"][1]["inlines"][0]["text"].endswith("…")
    assert content["actions"][0]["url"] == "https://evil.example/a%7Cb%3Ec?x=1&y=%3C2%3E#frag"
