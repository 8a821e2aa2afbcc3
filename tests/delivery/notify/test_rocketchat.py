"""The Rocket.Chat format: one Markdown ``text`` for an incoming webhook, inert and within 5,000 UTF-16 units.

Pages: https://docs.rocket.chat/docs/integrations (incoming webhook: POST {"text": ...} to /hooks/{id}/{token}),
https://docs.rocket.chat/docs/message-formatting (*bold*, _italic_, ~strike~, `code`, [label](url), <url|label>,
> quote, # heading, lists, @all, @here, @username), Message_MaxAllowedSize (5,000 by default).
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from monitor.delivery.notify import AlertMessage, rocketchat

from .alerts import EMOJI, HOSTILE, NORMAL, broken_text

# Rocket.Chat's markup, as its parser reads it: what feed text must not hold once rendered.
LIVE = re.compile(r"[*_~`]|\]\(|<(?=[a-z!@#])|(?<![\w\u200b])@(?=[\w.])|^\s*(?:[#>+-]|\d+[.)])\s", re.MULTILINE)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_render_normal() -> None:
    url = NORMAL.article.url
    assert rocketchat.render(NORMAL) == {
        "text": (
            f"*Otan* · [Le sommet de l'Otan à Madrid]({url})\nLe Monde · 2022-06-15 10:00 UTC\n"
            "Matched: sommet de l'Otan\n> … avant le *sommet de l'Otan* prévu …"
        )
    }


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("*b* _i_ ~s~ `c` \\[x\\]", "\u2217b\u2217 \u02cdi\u02cd \u223cs\u223c \u02cbc\u02cb \u2216[x\u2216]"),
        ("[click](https://evil.example)", "[click]\u200b(https://evil.example)"),
        (
            "<https://evil.example|click> @all @here @bob",
            "<\u200bhttps://evil.example|click> @\u200ball @\u200bhere @\u200bbob",
        ),
    ],
)
def test_feed_marks_are_inert(title: str, text: str) -> None:
    alert = replace(NORMAL, rule="", article=replace(NORMAL.article, title=title, url=None))
    first = rocketchat.render(alert)["text"].split("\n")[0]
    assert first == f"*{text}*"
    assert LIVE.findall(first[1:-1]) == []


@pytest.mark.parametrize("source", ["# heading", "> quote", "- item", "1. first", "+ plus"])
def test_a_line_never_starts_markup(source: str) -> None:
    alert = replace(NORMAL, article=replace(NORMAL.article, source=source, published=None))
    line = rocketchat.render(alert)["text"].split("\n")[1]
    assert line == "\u00ad" + source and LIVE.findall(line) == []


@pytest.mark.parametrize("alert", [NORMAL, HOSTILE, replace(NORMAL, snippet=" ".join(EMOJI * 900))])
def test_within_5000_utf16_units(alert: AlertMessage) -> None:
    text = rocketchat.render(alert)["text"]
    assert utf16(text) <= rocketchat.TEXT_LIMIT and broken_text(text) == ""


def test_digest_paragraphs_fit() -> None:
    messages = rocketchat.render_digest([replace(HOSTILE, id=i) for i in range(20)], "rule", "last hour")
    assert len(messages) > 1 and all(utf16(m["text"]) <= rocketchat.TEXT_LIMIT for m in messages)
    assert sum(len(m["text"].split("\n\n")) - 1 for m in messages) == 20
