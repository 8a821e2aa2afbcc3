"""No chat payload carries a live mention, by every platform's own parsing rules (see ``mentions``)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.delivery.notify import FORMATS, AlertMessage, render, render_digest

from . import mentions
from .alerts import NORMAL

CHAT_FORMATS = sorted(set(FORMATS) - {"generic"})
FIELDS = ("rule", "title", "source", "snippet", "matched")


def alert_with(text: str, field: str | None = None) -> AlertMessage:
    """Return NORMAL with text in one field, or in every field (the snippet marked as a match too)."""
    every = field is None
    article = NORMAL.article
    if every or field in ("title", "source"):
        changes = {"title": text} if field == "title" else {"source": text} if field == "source" else {}
        article = replace(article, **(changes or {"title": text, "source": text}))
    return replace(
        NORMAL,
        rule=text if every or field == "rule" else NORMAL.rule,
        article=article,
        snippet=f"{text} **{text}** {text}" if every or field == "snippet" else NORMAL.snippet,
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
    for payload in payloads(name, alert_with(text)):
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []
        if name == "discord":
            assert payload["allowed_mentions"] == {"parse": []}


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
    for payload in payloads(name, alert_with(text)):
        assert mentions.live(payload) == []
        assert mentions.teams_entities(payload) == []
