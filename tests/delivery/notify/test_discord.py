from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from monitor.delivery.notify import AlertMessage, discord

from .alerts import HOSTILE, NORMAL, orphans, strings, with_marks

UNESCAPED = re.compile(r"(?<!\\)[<*_~`|\[\]]")


def embed(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the single embed of a payload."""
    (only,) = payload["embeds"]
    assert isinstance(only, dict)
    return only


def markdown_texts(payload: dict[str, Any]) -> list[str]:
    """Return the payload texts Discord reads as Markdown (the footer is plain text)."""
    e = embed(payload)
    fields = [text for field in e["fields"] for text in (field["name"], field["value"])]
    return [payload.get("content", ""), e["title"], e.get("description", ""), *fields]


def test_render_normal() -> None:
    payload = discord.render(NORMAL)
    assert payload == {
        "content": "**Otan**",
        "embeds": [
            {
                "title": "Le sommet de l'Otan à Madrid",
                "url": NORMAL.article.url,
                "description": "… avant le **sommet de l'Otan** prévu …",
                "footer": {"text": "Le Monde"},
                "timestamp": "2022-06-15T10:00:00Z",
                "fields": [{"name": "Matched", "value": "sommet de l'Otan", "inline": False}],
            }
        ],
        "allowed_mentions": {"parse": []},
    }


@pytest.mark.parametrize(
    ("article", "snippet", "matched", "absent"),
    [
        ({"url": None}, NORMAL.snippet, NORMAL.matched, {"url"}),
        ({"url": "javascript:alert(1)"}, NORMAL.snippet, NORMAL.matched, {"url"}),
        ({"published": None}, NORMAL.snippet, NORMAL.matched, {"timestamp"}),
        ({}, "", NORMAL.matched, {"description"}),  # no snippet (nor highlights)
        ({}, NORMAL.snippet, (), set()),
    ],
)
def test_optional_embed_keys(article: dict[str, Any], snippet: str, matched: tuple[str, ...], absent: set[str]) -> None:
    highlights = NORMAL.highlights if snippet else ()
    alert = replace(NORMAL, article=replace(NORMAL.article, **article), snippet=snippet, matched=matched)
    alert = replace(alert, highlights=highlights)
    e = embed(discord.render(alert))
    assert absent.isdisjoint(e)
    assert {"title", "footer", "fields"} <= set(e)
    assert e["fields"] == ([] if not matched else e["fields"])
    assert all(field["name"] and field["value"] for field in e["fields"])


@pytest.mark.parametrize(
    ("snippet", "description"),
    [
        ("… avant le **sommet** prévu …", "… avant le **sommet** prévu …"),
        ("un ** sommet ** prévu", "un  **sommet**  prévu"),
        ("pré**vu**s", "pré**vu**s"),
        ("a*b*c _d_ ~e~ `f` ||g|| [h](http://x)", r"a\*b\*c \_d\_ \~e\~ \`f\` \|\|g\|\| \[h\](http://x)"),
        ("**5 * 3**", r"**5 \* 3**"),
        (r"back\*slash", r"back\\\*slash"),
        (
            "> quote\n# head\n-# small\n- item\n+ item\n12. item\n 3. x",
            "\\> quote\n\\# head\n\\-# small\n\\- item\n\\+ item\n12\\. item\n 3\\. x",
        ),
        ("a > b - c # d 1. e", "a > b - c # d 1. e"),
        (
            "<@123> <#456> <:e:789> <t:1:R> @everyone @here",
            "\\<\u200b@\u200b123> \\<\u200b#456> \\<:e:789> \\<\u200bt:1:R> @\u200beveryone @\u200bhere",
        ),
        ("a lone ** mark", r"a lone \*\* mark"),
    ],
)
def test_snippet_markdown(snippet: str, description: str) -> None:
    e = embed(discord.render(with_marks(NORMAL, snippet)))
    assert e["description"] == description


@pytest.mark.parametrize(("rule", "content"), [("Otan", "**Otan**"), ("a*b", "**a\\*b**"), (" ", None)])
def test_rule_and_title_appear_once(rule: str, content: str | None) -> None:
    payload = discord.render(replace(NORMAL, rule=rule))
    assert payload.get("content") == content
    shown = json.dumps(payload, ensure_ascii=False)
    assert shown.count("Le sommet de l'Otan à Madrid") == 1
    assert embed(payload)["footer"] == {"text": "Le Monde"}


def test_a_match_in_the_title_quotes_the_first_sentence_of_the_text() -> None:
    e = embed(discord.render(with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title")))
    assert e["description"] == "Les Alliés se retrouvent à Madrid pour le sommet de l'Otan."
    assert "description" not in embed(discord.render(replace(NORMAL, field="title", opening="")))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("A *b* _c_ | [d]", r"A \*b\* \_c\_ \| \[d\]"),
        ("> Line\nbreaks\n\n# go", r"\> Line breaks # go"),
        ("", "(untitled)"),
    ],
)
def test_title_markdown(title: str, expected: str) -> None:
    e = embed(discord.render(replace(NORMAL, article=replace(NORMAL.article, title=title))))
    assert e["title"] == expected


def test_render_hostile_respects_limits() -> None:
    payload = discord.render(HOSTILE)
    json.dumps(payload, allow_nan=False)
    e = embed(payload)
    assert len(payload["content"]) <= discord.CONTENT_LIMIT
    assert 0 < len(e["title"]) <= discord.TITLE_LIMIT
    assert 0 < len(e["description"]) <= discord.DESCRIPTION_LIMIT
    assert 0 < len(e["footer"]["text"]) <= discord.FOOTER_LIMIT
    assert 0 < len(e["fields"]) <= 25
    for field in e["fields"]:
        assert 0 < len(field["name"]) <= discord.FIELD_NAME_LIMIT
        assert 0 < len(field["value"]) <= discord.FIELD_VALUE_LIMIT
    total = len(e["title"]) + len(e["description"]) + len(e["footer"]["text"])
    total += sum(len(field["name"]) + len(field["value"]) for field in e["fields"])
    assert total <= discord.EMBED_TOTAL_LIMIT
    # The 5,000-character title and 10,000-character snippet were cut, on grapheme boundaries.
    assert e["title"].endswith("…") and e["description"].endswith("…")
    assert all(orphans(text) == "" for text in strings(payload))
    assert e["url"] == "https://evil.example/a%7Cb%3Ec?x=1&y=%3C2%3E#frag"
    assert e["timestamp"] == "2022-06-15T12:00:00Z"


def test_render_hostile_neutralises_mentions() -> None:
    payload = discord.render(HOSTILE)
    assert payload["allowed_mentions"] == {"parse": []}
    for text in strings(payload):
        assert "@everyone" not in text and "@here" not in text
    for text in markdown_texts(payload):
        without_bold = text.replace("**", "")
        assert UNESCAPED.search(without_bold) is None, without_bold[:200]
    # The footer is not Markdown: Discord shows it as typed, so it is cleaned but not escaped.
    footer = embed(payload)["footer"]["text"]
    assert footer == (
        "Evil <\u200b!channel> <\u200b!here> @\u200beveryone @\u200bhere @\u200ball @\u200bchannel @\u200balice"
        " <\u200b@\u200bU123> <\u200bhttp://evil|click> Source"
    )


@pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])
def test_query_and_mentions(alert: AlertMessage) -> None:
    assert discord.DISCORD_QUERY == {"wait": "true"}
    assert discord.render(alert)["allowed_mentions"] == {"parse": []}
