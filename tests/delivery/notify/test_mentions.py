"""No chat payload carries a live mention, by every platform's own parsing rules (see ``mentions``)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.delivery.notify import FORMATS, AlertMessage, render, render_digest

from . import mentions
from .alerts import NORMAL, live_mentions, strings

CHAT_FORMATS = sorted(set(FORMATS) - {"generic"})
FIELDS = ("rule", "title", "source", "snippet", "matched")


def alert_with(text: str, field: str | None = None) -> AlertMessage:
    """Return NORMAL with text in one field, or in every field (the snippet's middle copy a match)."""
    every = field is None
    article = NORMAL.article
    if every or field in ("title", "source"):
        changes = {"title": text} if field == "title" else {"source": text} if field == "source" else {}
        article = replace(article, **(changes or {"title": text, "source": text}))
    return replace(
        NORMAL,
        rule=text if every or field == "rule" else NORMAL.rule,
        article=article,
        snippet=f"{text} {text} {text}" if every or field == "snippet" else NORMAL.snippet,
        highlights=((len(text) + 1, 2 * len(text) + 1),)
        if text and (every or field == "snippet")
        else NORMAL.highlights,
        opening=f"{text}. {text}" if every else NORMAL.opening,
        matched=(text,) if every or field == "matched" else NORMAL.matched,
    )


def payloads(name: str, alert: AlertMessage) -> list[dict[str, Any]]:
    """Return the single-alert payload of alert and the digest of it and NORMAL."""
    return [render(name, alert), *render_digest(name, [alert, NORMAL], alert.rule, "last hour")]


@pytest.mark.parametrize(
    ("model", "text", "found"),
    [
        # Mattermost's server trims "_" (and ":", ".", "-") before looking, and splits words at "." "-" ":".
        ("mattermost server", "_@all", ["@all"]),
        ("mattermost server", "__@someone", ["@someone"]),
        ("mattermost server", "a.@here b-@bob c:@channel", ["@here", "@bob", "@channel"]),
        ("mattermost server", "@all_ @bob.", ["@all_", "@all", "@bob.", "@bob"]),
        ("mattermost server", "\\_@all", ["@all"]),
        ("mattermost server", "&lt;!channel&gt; <!here> <@U1>", ["@here", "@U1"]),
        ("mattermost server", "e\u0301@bob", ["@bob"]),
        ("mattermost server", "x_@all mail@example.com é@bob :@all:", []),
        ("mattermost server", "_@\u200ball @\u200bhere", []),
        # Its web app starts a mention after anything but an ASCII letter or digit, and at each Markdown token.
        ("mattermost web app", "x\\_@all", ["@all"]),
        ("mattermost web app", "x_@all", ["_@all"]),
        ("mattermost web app", "é@bob x*@bob", ["@bob"]),
        ("mattermost web app", "mail@example.com x@all", []),
        ("mattermost web app", "_@\u200ball", []),
        ("slack", "<!channel> <!subteam^S1> <@U1> <#C1>", ["<!", "<!", "<@", "<#"]),
        ("slack", "&lt;!channel&gt; <\u200b!here> <https://x|y>", []),
        (
            "discord",
            "@everyone <@1> <@!2> <@&3> <#4> </ping:5>",
            ["@everyone", "<@1>", "<@!2>", "<@&3>", "<#4>", "</ping:5>"],
        ),
        ("discord", "@here x@everyone", ["@here", "@everyone"]),
        ("discord", "\\<@1> @\u200beveryone \\@here", []),
        ("teams", "<at>bob</at> <AT id='1'>", ["<at>", "<AT "]),
        ("teams", "<\u200bat>bob</at> at>", []),
        ("google chat", "<users/all> <users/123>", ["<users/", "<users/"]),
        ("google chat", "\uff1cusers/all\uff1e <\u200busers/all>", []),
    ],
)
def test_models_read_what_the_platforms_read(model: str, text: str, found: list[str]) -> None:
    assert mentions.MODELS[model](text) == found


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("text", ["_@all", "x_@all", "\\@all", "_@someone", "@here", "x*@channel", "é@bob"])
def test_mattermost_mentions_stay_broken(text: str, field: str) -> None:
    for payload in payloads("mattermost", alert_with(text, field)):
        assert mentions.live(payload) == []
    # Still readable: without the zero-width spaces and Markdown escapes, the text is what the feed said.
    shown = re.sub(r"\\(.)", r"\1", render("mattermost", alert_with(text, field))["text"].replace("\u200b", ""))
    assert text in shown or field not in ("rule", "title")


@pytest.mark.parametrize("name", CHAT_FORMATS)
@pytest.mark.parametrize(
    "text",
    [
        "_@all x_@all \\@all _@someone @here x:@channel a.@bob",
        "<!channel> <!here> <!everyone> <!subteam^S1> <@U1> <#C1>",
        "@everyone <@1> <@!2> <@&3> <#4> </ping:5>",
        "<at>bob</at> <users/all> <users/123>",
        "@\u200dall _\u200d@here <\u200d!channel> @\u200ball <\u200cusers/all>",
    ],
)
def test_no_live_mention_in_any_format(name: str, text: str) -> None:
    alert = alert_with(text)
    # Matched in the title, a message quotes the text's first sentence instead of the snippet.
    for payload in [*payloads(name, alert), *payloads(name, replace(alert, field="title"))]:
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []
        if name == "discord":
            assert payload["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("name", CHAT_FORMATS)
@pytest.mark.parametrize(
    ("snippet", "highlights"),
    [
        # A match that starts right after the "@" or "<" of a mention, or ends right before its name.
        ("@everyone @here", ((1, 9), (11, 15))),
        ("<!channel> <!here>", ((2, 9), (1, 2))),
        ("<users/all> <at>bob</at>", ((1, 6), (13, 15))),
        ("_@all x_@all x:@channel", ((2, 5), (1, 2), (8, 11))),
        ("<@U1> <@!2> </ping:5>", ((2, 4), (8, 9), (14, 18))),
        ("@ all", ((0, 1),)),
    ],
)
def test_a_match_inside_a_mention_does_not_complete_it(
    name: str, snippet: str, highlights: tuple[tuple[int, int], ...]
) -> None:
    ordered = tuple(sorted(highlights))
    alert = replace(NORMAL, snippet=snippet, highlights=ordered)
    for payload in payloads(name, alert):
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []
        # Copied from the screen, the bold match and the "@" before it still make no mention.
        assert [found for text in copied(payload) for found in live_mentions(text)] == []


def copied(payload: dict[str, Any]) -> list[str]:
    """Return the texts of a payload as a reader copies them: markup gone, Teams' runs of a block joined."""
    texts = [
        "".join(run["text"] for run in value["inlines"])
        for value in _objects(payload)
        if value.get("type") == "RichTextBlock"
    ]
    for text in strings(payload):
        text = re.sub(r"</?b>|\\(?=.)", "", text)
        texts.append(text.replace("*", ""))
    return texts


def _objects(value: object) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in _objects(item))]
    if isinstance(value, list):
        return [found for item in value for found in _objects(item)]
    return []


PIECES = st.sampled_from(
    [
        *"@_.-<!>:*\\/# \naxBé1",
        "\u0301",  # a combining mark: Mattermost's server splits words there
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "all",
        "channel",
        "here",
        "everyone",
        "users/",
        "at",
        "subteam^",
        "**",
    ]
)


@pytest.mark.parametrize("name", CHAT_FORMATS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(PIECES, max_size=24).map("".join))
def test_random_text_never_mentions(name: str, text: str) -> None:
    alert = alert_with(text)
    for payload in [*payloads(name, alert), *payloads(name, replace(alert, field="title"))]:
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []


@pytest.mark.parametrize("name", CHAT_FORMATS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(PIECES, max_size=24).map("".join), cuts=st.lists(st.integers(0, 80), max_size=6))
# A match ending right before "@": Teams starts a new run there, and a run opening "@_" is a mention to Mattermost.
@example(text="@atat@_", cuts=[0, 5])
def test_random_highlights_never_mention(name: str, text: str, cuts: list[int]) -> None:
    points = sorted({cut for cut in cuts if cut <= len(text)})
    highlights = tuple((a, b) for a, b in zip(points[::2], points[1::2], strict=False) if a < b)
    for payload in payloads(name, replace(NORMAL, snippet=text, highlights=highlights)):
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []
