from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from monitor.delivery.notify import AlertMessage, slack

from .alerts import FEED_MARKUP, HOSTILE, NORMAL, orphans, strings, with_marks

LINK = re.compile(r"\*<(https?://[^|<>\s]+)\|([^<>|]*)>\*")


def blocks(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return the header, section and context blocks of a payload, checking their types."""
    header, section, context = payload["blocks"]
    assert (header["type"], section["type"], context["type"]) == ("header", "section", "context")
    return header, section, context


def test_render_normal() -> None:
    payload = slack.render(NORMAL)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == "Otan: Le sommet de l'Otan à Madrid"
    header, section, context = blocks(payload)
    assert header["text"] == {"type": "plain_text", "text": "Otan"}
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["verbatim"] is True
    assert section["text"]["text"].split("\n") == [
        f"*<{NORMAL.article.url}|Le sommet de l'Otan à Madrid>*",
        "Le Monde · 2022-06-15 10:00 UTC",
        ">… avant le *sommet de l'Otan* prévu …",
    ]
    assert context["elements"] == [{"type": "mrkdwn", "text": "Matched: sommet de l'Otan", "verbatim": True}]


@pytest.mark.parametrize(
    ("rule", "title", "matched", "kinds"),
    [
        ("Otan", "Le sommet", ("sommet",), ["header", "section", "context"]),
        ("Otan", "Le sommet", (), ["header", "section"]),  # a rule that matched through NOT only
        ("  ", "Le sommet", ("sommet",), ["section", "context"]),
    ],
)
def test_rule_and_title_appear_once(rule: str, title: str, matched: tuple[str, ...], kinds: list[str]) -> None:
    alert = replace(NORMAL, rule=rule, matched=matched, article=replace(NORMAL.article, title=title))
    payload = slack.render(alert)
    assert [block["type"] for block in payload["blocks"]] == kinds
    shown = json.dumps(payload["blocks"], ensure_ascii=False)
    assert shown.count(title) == 1
    assert shown.count('"Otan"') == (1 if rule.strip() else 0)


def test_a_match_in_the_title_quotes_the_first_sentence_of_the_text() -> None:
    alert = with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title")
    section = blocks(slack.render(alert))[1]["text"]["text"].split("\n")
    assert section[2:] == [">Les Alliés se retrouvent à Madrid pour le sommet de l'Otan."]
    assert sum(line.count("Le sommet de l'Otan à Madrid") for line in section) == 1
    untitled_text = slack.render(replace(alert, opening=""))
    assert blocks(untitled_text)[1]["text"]["text"].count("\n") == 1  # no quote: the title says it all


@pytest.mark.parametrize(
    ("changes", "first_line", "meta"),
    [
        ({"url": None}, "*Le sommet de l'Otan à Madrid*", "Le Monde · 2022-06-15 10:00 UTC"),
        ({"url": "javascript:alert(1)"}, "*Le sommet de l'Otan à Madrid*", "Le Monde · 2022-06-15 10:00 UTC"),
        ({"published": None}, f"*<{NORMAL.article.url}|Le sommet de l'Otan à Madrid>*", "Le Monde"),
        (
            {"title": "A|B > C <!here>", "url": "https://x.example/?a=1&b=|2|"},
            "*<https://x.example/?a=1&amp;b=%7C2%7C|A\u2223B &gt; C &lt;!here&gt;>*",
            "Le Monde · 2022-06-15 10:00 UTC",
        ),
        ({"title": ""}, f"*<{NORMAL.article.url}|(untitled)>*", "Le Monde · 2022-06-15 10:00 UTC"),
    ],
)
def test_section_head(changes: dict[str, Any], first_line: str, meta: str) -> None:
    alert = replace(NORMAL, article=replace(NORMAL.article, **changes))
    lines = blocks(slack.render(alert))[1]["text"]["text"].split("\n")
    assert lines[:2] == [first_line, meta]


@pytest.mark.parametrize(
    ("snippet", "quote"),
    [
        ("… avant le **sommet** prévu …", ">… avant le *sommet* prévu …"),
        ("un ** sommet ** prévu", ">un  *sommet*  prévu"),
        ("l'**Otan**s", ">l'*Otan*\u200bs"),
        ("pré**vu**", ">pré\u200b*vu*"),
        ("a*b*c _d_ ~e~ `f`", ">a\u2217b\u2217c \u02cdd\u02cd \u223ce\u223c \u02cbf\u02cb"),
        ("**5 * 3**", ">*5 \u2217 3*"),
        ("one\n> two\n\n\nthree", ">one\n>\u00ad&gt; two\n>\n>three"),
        ("<!channel> & <@U1> @here @all", ">&lt;!channel&gt; &amp; &lt;@\u200bU1&gt; @\u200bhere @\u200ball"),
        ("a lone ** mark", ">a lone \u2217\u2217 mark"),
        ("", None),
    ],
)
def test_snippet_quote(snippet: str, quote: str | None) -> None:
    alert = with_marks(NORMAL, snippet)
    lines = blocks(slack.render(alert))[1]["text"]["text"].split("\n")
    assert lines[2:] == ([] if quote is None else quote.split("\n"))


def test_render_hostile_respects_limits() -> None:
    payload = slack.render(HOSTILE)
    json.dumps(payload, allow_nan=False)
    header, section, context = blocks(payload)
    assert 0 < len(payload["text"]) <= slack.TEXT_LIMIT
    assert 0 < len(header["text"]["text"]) <= slack.HEADER_LIMIT
    assert 0 < len(section["text"]["text"]) <= slack.SECTION_LIMIT
    assert [0 < len(e["text"]) <= slack.CONTEXT_LIMIT for e in context["elements"]] == [True]
    # The 5,000-character title and 10,000-character snippet were cut, on grapheme boundaries.
    assert payload["text"].endswith("…")
    assert section["text"]["text"].endswith("…")
    assert all(orphans(text) == "" for text in strings(payload))


def test_render_hostile_neutralises_mentions_and_links() -> None:
    payload = slack.render(HOSTILE)
    for text in strings(payload):
        for token in ("<!channel>", "<!here>", "<@U123>", "<http://evil", "@everyone", "@here", "@channel", "@all"):
            assert token not in text
    section = blocks(payload)[1]["text"]["text"]
    # The only link is ours: one "<", one "|", one ">" before the snippet, URL percent-encoded.
    first = section.split("\n")[0]
    match = LINK.fullmatch(first)
    assert match is not None
    assert match.group(1) == "https://evil.example/a%7Cb%3Ec?x=1&amp;y=%3C2%3E#frag"
    assert match.group(2).startswith(
        "&lt;!channel&gt; &lt;!here&gt; @\u200beveryone @\u200bhere @\u200ball @\u200bchannel @\u200balice "
        "&lt;@\u200bU123&gt;"
    )
    assert section.count("<") == 1 and section.count(">") - section.count("\n>") == 1


@pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])
def test_mrkdwn_is_verbatim(alert: AlertMessage) -> None:
    _, section, context = blocks(slack.render(alert))
    assert section["text"]["verbatim"] is True
    assert all(element["verbatim"] is True for element in context["elements"])


def test_the_articles_own_marks_are_never_bold() -> None:
    quote = blocks(slack.render(HOSTILE))[1]["text"]["text"].split("\n")[2]
    escaped = FEED_MARKUP.replace("*", "\u2217").replace("<", "&lt;").replace(">", "&gt;").replace("\ue000", "")
    assert escaped.replace("\ue001", "") in quote
    assert "*b\u2223c*" not in quote and "*b|c*" in quote  # the real match is bold, its | kept as typed
