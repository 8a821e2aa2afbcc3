"""The Zulip format: Markdown content with the feed's marks as entities, sent by the bot API or a webhook URL.

Pages: https://zulip.com/api/send-message (form-encoded type, to, topic, content; 10,000 bytes; basic auth with
the bot's email and API key), https://zulip.com/api/rest-error-handling#rate-limit-exceeded (retry-after),
https://zulip.com/integrations/doc/slack_incoming (the Slack-compatible incoming webhook),
https://zulip.com/help/format-your-message-using-markdown (mentions @**name**, @*group*, #**stream**, TeX $$).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.delivery.notify import Target, zulip

from .alerts import HOSTILE, NORMAL

BOT = Target(
    url="https://zulip.example.org",
    stream="news",
    topic="alerts",
    bot_email="alerts-bot@zulip.example.org",
    token="0123456789abcdefABCDEF0123456789",
)
HOOK = Target(url="https://zulip.example.org/api/v1/external/slack_incoming?api_key=KEY123456", stream="news")
# Zulip's own patterns (zerver/lib/markdown/__init__.py, zerver/lib/mention.py): what would act in a message.
LIVE = re.compile(r"@_?\*\*|@_?\*[^*]|#\*\*|\$\$|~~|`|^\s*(?:[-+*>#|]|\d+[.)])\s|\[[^\]]*\]\(", re.MULTILINE)


def test_render_normal() -> None:
    url = NORMAL.article.url
    assert zulip.render(NORMAL) == {
        "content": (
            f"**Otan** · [Le sommet de l'Otan à Madrid]({url})\nLe Monde · 2022-06-15 10:00 UTC\n\n"
            "> … avant le **sommet de l'Otan** prévu …\n\nMatched: sommet de l'Otan"
        )
    }


@pytest.mark.parametrize(
    ("title", "escaped"),
    [
        (
            "@**all** @*editors* @_**Bob**",
            "@&#42;&#42;all&#42;&#42; @&#42;editors&#42; @\u200b&#95;&#42;&#42;Bob&#42;&#42;",
        ),
        (
            "#**general** $$\\int$$ ~~x~~",
            "&#35;&#42;&#42;general&#42;&#42; &#36;&#36;\\int&#36;&#36; &#126;&#126;x&#126;&#126;",
        ),
        ("[click](https://evil.example) `code`", "&#91;click&#93;(https://evil.example) &#96;code&#96;"),
        ("<time:1700000000> & | a", "&lt;\u200btime:1700000000&gt; &amp; &#124; a"),
        ("@all and @everyone", "@\u200ball and @\u200beveryone"),
    ],
)
def test_feed_marks_are_entities(title: str, escaped: str) -> None:
    alert = replace(NORMAL, rule="", article=replace(NORMAL.article, title=title, url=None))
    assert zulip.render(alert)["content"].split("\n")[0] == f"**{escaped}**"
    assert LIVE.findall(escaped) == []


@pytest.mark.parametrize(
    ("source", "line"),
    [("- list", "&#45; list"), ("1. first", "1&#46; first"), ("=== rule", "&#61;== rule"), ("> quote", "&gt; quote")],
)
def test_a_line_never_starts_markup(source: str, line: str) -> None:
    alert = replace(NORMAL, article=replace(NORMAL.article, source=source, published=None))
    assert zulip.render(alert)["content"].split("\n")[1] == line


def test_hostile_stays_within_10000_bytes_and_inert() -> None:
    content = zulip.render(HOSTILE)["content"]
    assert len(content.encode()) <= zulip.MAX_BYTES
    head, quote = content.split("\n\n> ")[0], content.split("\n\n> ")[1].split("\n\n")[0]
    label = head.split(" · [", 1)[1].rsplit("](", 1)[0]  # the title, as the label of our link
    for text in (label, quote.replace("**", ""), head.split("\n")[1]):
        assert LIVE.findall(text) == [], text[:200]


def test_bot_request_is_a_form_signed_with_the_bot() -> None:
    request = zulip.request(BOT, "msg_1", {"content": "**hi**"})
    assert (request.method, request.url) == ("POST", "https://zulip.example.org/api/v1/messages")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    login = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert login == "alerts-bot@zulip.example.org:0123456789abcdefABCDEF0123456789"
    form = parse_qs(request.content.decode())
    assert form == {"type": ["stream"], "to": ["news"], "topic": ["alerts"], "content": ["**hi**"]}


@pytest.mark.parametrize(
    ("target", "query"),
    [
        (HOOK, {"api_key": ["KEY123456"], "stream": ["news"]}),
        (replace(HOOK, topic="alerts"), {"api_key": ["KEY123456"], "stream": ["news"], "topic": ["alerts"]}),
        (replace(HOOK, url=HOOK.url + "&stream=ops", topic=None), {"api_key": ["KEY123456"], "stream": ["ops"]}),
    ],
)
def test_webhook_request_speaks_slack(target: Target, query: dict[str, list[str]]) -> None:
    request = zulip.request(target, "msg_1", zulip.render(NORMAL))
    assert request.method == "POST" and request.headers["Content-Type"] == "application/json"
    assert parse_qs(urlsplit(request.url).query) == query
    text = json.loads(request.content)["text"]
    # The integration turns Slack's *bold* into **bold**; nothing else of ours has a star.
    assert text.startswith("*Otan* · [Le sommet") and "*sommet de l'Otan*" in text and "**" not in text


def test_digest_fits_and_says_its_part() -> None:
    messages = zulip.render_digest([replace(HOSTILE, id=i) for i in range(40)], "rule", "last hour")
    assert len(messages) > 1
    assert all(len(m["content"].encode()) <= zulip.MAX_BYTES for m in messages)
    assert f"40 alerts, part 1/{len(messages)}" in messages[0]["content"]


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (
            '{"code": "RATE_LIMIT_HIT", "msg": "API usage exceeded", "result": "error", "retry-after": 28.7}',
            28.7,
        ),
        ('{"result": "error", "msg": "Stream does not exist"}', None),
    ],
)
def test_retry_after(answer: str, wait: float | None) -> None:
    assert zulip.RETRY_AFTER(answer) == wait


def test_pace_identity_and_what_check_shows() -> None:
    assert zulip.pace_key(BOT) == zulip.pace_key(replace(BOT, stream="other"))
    assert zulip.identity(BOT) != zulip.identity(replace(BOT, topic="other"))
    assert zulip.shown(BOT) == "stream news, topic alerts (as alerts-bot@zulip.example.org)"
    assert zulip.shown(replace(HOOK, stream=None)) == "the URL's stream (through an incoming webhook)"
    assert "KEY123456" not in zulip.shown(HOOK)
