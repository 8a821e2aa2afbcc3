"""The Telegram format: ``sendMessage`` in HTML, within 4,096 UTF-16 code units, no link preview.

Pages: https://core.telegram.org/bots/api#sendmessage (text: 1-4096 characters after entities parsing;
link_preview_options), https://core.telegram.org/bots/api#html-style (the tags; ``<``, ``>`` and ``&`` as
entities), https://core.telegram.org/bots/api#responseparameters (retry_after),
https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this (1 a second, 20 a minute a group).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from monitor.delivery.notify import AlertMessage, Target, telegram

from .alerts import EMOJI, HOSTILE, NORMAL, broken_text
from .limits import TELEGRAM_TAGS, html_problems

TARGET = Target(url="https://api.telegram.org", token="123456:AAHsecretsecretsecretsecret", chat_id="-1001234")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_render_normal() -> None:
    url = NORMAL.article.url
    assert telegram.render(NORMAL) == {
        "text": (
            f'<b>Otan</b> · <a href="{url}">Le sommet de l\'Otan à Madrid</a>\nLe Monde · 2022-06-15 10:00 UTC\n'
            "<blockquote>… avant le <b>sommet de l'Otan</b> prévu …</blockquote>\nMatched: sommet de l'Otan"
        ),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


@pytest.mark.parametrize(
    ("title", "html"),
    [
        ("<b>bold</b> & <a href='x'>", "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href='x'&gt;"),
        ("@channel_admin look", "@\u200bchannel_admin look"),
        ("mail@example.com", "mail@example.com"),
        ("&amp; stays text", "&amp;amp; stays text"),
        ("<tg-spoiler>x</tg-spoiler>", "&lt;tg-spoiler&gt;x&lt;/tg-spoiler&gt;"),
    ],
)
def test_feed_text_is_escaped(title: str, html: str) -> None:
    alert = replace(NORMAL, rule="", article=replace(NORMAL.article, title=title, url=None))
    assert telegram.render(alert)["text"].split("\n")[0] == f"<b>{html}</b>"


@pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])
def test_within_4096_utf16_units_with_balanced_tags(alert: AlertMessage) -> None:
    text = telegram.render(alert)["text"]
    assert utf16(text) <= telegram.TEXT_LIMIT
    assert html_problems(text, TELEGRAM_TAGS) == []
    assert broken_text(text) == ""


def test_astral_emoji_count_twice() -> None:
    # Emoji beyond the BMP are two UTF-16 code units each: a text of them fills the limit at half the characters.
    snippet = " ".join(EMOJI * 800)
    text = telegram.render(replace(NORMAL, snippet=snippet))["text"]
    assert len(text) < telegram.TEXT_LIMIT < utf16(text) + 50 and utf16(text) <= telegram.TEXT_LIMIT
    assert broken_text(text) == ""


def test_digest_paragraphs_fit() -> None:
    messages = telegram.render_digest([replace(HOSTILE, id=i) for i in range(12)], "rule", "last hour")
    assert len(messages) > 1
    assert all(utf16(m["text"]) <= telegram.TEXT_LIMIT for m in messages)
    assert all(html_problems(m["text"], TELEGRAM_TAGS) == [] for m in messages)
    assert sum(len(m["text"].split("\n\n")) - 1 for m in messages) == 12


def test_request_puts_the_token_in_the_path_and_the_chat_in_the_body() -> None:
    request = telegram.request(TARGET, "msg_1", telegram.render(NORMAL))
    assert request.method == "POST"
    assert request.url == "https://api.telegram.org/bot123456:AAHsecretsecretsecretsecret/sendMessage"
    body = json.loads(request.content)
    assert body["chat_id"] == "-1001234" and body["parse_mode"] == "HTML"
    assert body["link_preview_options"] == {"is_disabled": True}
    own = telegram.request(replace(TARGET, url="http://127.0.0.1:8081/"), "msg_1", {})
    assert own.url == "http://127.0.0.1:8081/bot123456:AAHsecretsecretsecretsecret/sendMessage"


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        ('{"ok": false, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 7}}', 7),
        ('{"ok": false, "error_code": 429, "parameters": {}}', None),
        ('{"ok": false, "retry_after": 7}', None),
        ("<html>busy</html>", None),
    ],
)
def test_retry_after_from_the_parameters(answer: str, wait: float | None) -> None:
    assert telegram.RETRY_AFTER(answer) == wait


@pytest.mark.parametrize(
    ("chat_id", "group"),
    [("123456789", False), ("-1001234567890", True), ("-4242", True), ("@newsroom_channel", True), (None, False)],
)
def test_is_group(chat_id: str | None, group: bool) -> None:
    assert telegram.is_group(chat_id) is group


def test_pacing_counts_one_bot_in_one_chat() -> None:
    assert telegram.pace_key(TARGET) != telegram.pace_key(replace(TARGET, chat_id="42"))
    assert telegram.pace_key(TARGET) != telegram.pace_key(replace(TARGET, token="999:other"))
    assert telegram.shown(TARGET) == "chat -1001234"
