"""Discord webhook payload: the rule as the ``content`` line and one rich embed.

The embed carries the title (linked when the article URL is a usable http(s) URL), the snippet as the
description (or the text's first sentence when the match is in the title: ``text.excerpt``), the source in the
footer, the publication time as ``timestamp`` and the matched terms in a field: the title and the rule appear
once each. Discord counts characters as code points, and the title, description, footer and field texts of all
embeds together must stay within ``EMBED_TOTAL_LIMIT``; the description gets whatever the others leave.

Escaping: article text in content, title, description and fields is Markdown, so ``\\``, ``*``, ``_``,
``~``, backtick, ``|``, ``[``, ``]`` and ``<`` (mentions, custom emoji, timestamps) get a backslash, as do
``>``, ``#``, ``-``, ``+`` and ``1.`` at the start of a line (quotes, headings, lists). The footer is not
Markdown and is only cleaned. The snippet's matched words are in ``**bold**``.

Mentions: ``allowed_mentions: {"parse": []}`` is what stops Discord pinging anyone. ``@everyone``, ``@here``
and any other ``@name`` are also split with U+200B (after ``clean``, which would remove it) so that a message
copied or quoted elsewhere does not ping either.

The sender posts with ``DISCORD_QUERY`` (``?wait=true``) so that Discord answers with the created message or
an error instead of an empty 204 that hides failures.

Digest: the content line names the rule, the window and the part (``5 alerts, part 1/2``); each alert is one
embed (linked title, short snippet, source in the footer, time). A message holds at most ``MAX_EMBEDS`` embeds
whose texts together stay within ``EMBED_TOTAL_LIMIT``. Discord has no byte limit of its own below its request
size cap, so the character limits are the binding ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.text import bold_marked, break_mentions, excerpt, fit, iso, one_line, web_url
from monitor.store.message import AlertMessage

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
EMBED_TOTAL_LIMIT = 6000
MAX_EMBEDS = 10

DISCORD_QUERY: dict[str, str] = {"wait": "true"}

# Layout budget (not a platform limit): keep the rule short in the content line.
_RULE_CHARS = 200
_WINDOW_CHARS = 200
_SOURCE_CHARS = 200
_DIGEST_SNIPPET_CHARS = 300

_MARKDOWN = re.compile(r"[\\*_~`|\[\]<]")
_LINE_START = re.compile(r"^([^\S\n]*)(?:([>#+-])|(\d+)\.(?=\s))", re.MULTILINE)
_MATCHED = "Matched"
_UNTITLED = "(untitled)"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Discord webhook payload (the rule as content, one embed, no allowed mentions) for alert."""
    article = alert.article
    rule, source = one_line(alert.rule), one_line(article.source)
    title = fit(one_line(article.title) or _UNTITLED, TITLE_LIMIT, _markdown)
    footer = fit(source, FOOTER_LIMIT, break_mentions)
    fields = _fields(alert.matched)
    used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    budget = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - used)
    description = fit(excerpt(alert), budget, _snippet)

    embed: dict[str, Any] = {"title": title}
    url = web_url(article.url)
    if url:
        embed["url"] = url
    if description:
        embed["description"] = description
    if footer:
        embed["footer"] = {"text": footer}
    published = iso(article.published)
    if published:
        embed["timestamp"] = published
    embed["fields"] = fields

    payload: dict[str, Any] = {"content": f"**{fit(rule, _RULE_CHARS, _markdown)}**"} if rule else {}
    return {**payload, "embeds": [embed], "allowed_mentions": {"parse": []}}


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the Discord messages of a digest: one embed per alert, split to stay within Discord's limits."""
    embeds = [_digest_embed(alert) for alert in alerts]
    costs = [(1, embed_chars(embed)) for embed in embeds]
    return digest.split(
        embeds, costs, (MAX_EMBEDS, EMBED_TOTAL_LIMIT), lambda group, part: _digest(rule, window, part, group)
    )


def embed_chars(embed: dict[str, Any]) -> int:
    """Return the characters of embed that count toward ``EMBED_TOTAL_LIMIT``."""
    texts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    texts += [embed.get("author", {}).get("name", "")]
    texts += [text for field in embed.get("fields", []) for text in (field["name"], field["value"])]
    return sum(len(text) for text in texts)


def _digest(rule: str, window: str, part: digest.Part, embeds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest message: a content line with rule, window and part, then the alert embeds."""
    rule, window = one_line(rule), one_line(window)
    head = [f"**{fit(rule, _RULE_CHARS, _markdown)}**" if rule else "", fit(window, _WINDOW_CHARS, _markdown)]
    content = " · ".join([*(text for text in head if text), part.label()])
    return {"content": fit(content, CONTENT_LIMIT, str), "embeds": list(embeds), "allowed_mentions": {"parse": []}}


def _digest_embed(alert: AlertMessage) -> dict[str, Any]:
    """Return the embed of one alert in a digest: linked title, short snippet, source and time."""
    article = alert.article
    embed: dict[str, Any] = {"title": fit(one_line(article.title) or _UNTITLED, TITLE_LIMIT, _markdown)}
    url = web_url(article.url)
    if url:
        embed["url"] = url
    description = fit(excerpt(alert), _DIGEST_SNIPPET_CHARS, _snippet)
    if description:
        embed["description"] = description
    source = fit(one_line(article.source), _SOURCE_CHARS, break_mentions)
    if source:
        embed["footer"] = {"text": source}
    published = iso(article.published)
    if published:
        embed["timestamp"] = published
    return embed


def _fields(matched: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return the embed fields: one listing the matched terms, or none when there are none."""
    terms = ", ".join(term for term in (one_line(t) for t in matched) if term)
    if not terms:
        return []
    return [{"name": _MATCHED, "value": fit(terms, FIELD_VALUE_LIMIT, _markdown), "inline": False}]


def _inline(s: str) -> str:
    """Return s with Discord's inline Markdown marks backslash-escaped and mentions broken."""
    return break_mentions(_MARKDOWN.sub(r"\\\g<0>", s))


def _line_starts(s: str) -> str:
    """Return s with quote, heading and list marks at the start of a line backslash-escaped."""
    return _LINE_START.sub(_escape_line_start, s)


def _escape_line_start(match: re.Match[str]) -> str:
    """Return the matched line start with its mark escaped (``\\>``, ``\\#``, ``1\\.``)."""
    indent, mark, number = match.groups()
    return f"{indent}\\{mark}" if mark else f"{indent}{number}\\."


def _markdown(s: str) -> str:
    """Return s with Discord Markdown and mentions neutralised."""
    return _line_starts(_inline(s))


def _snippet(snippet: str) -> str:
    """Return the snippet as Discord Markdown, matched words in bold."""
    return _line_starts(bold_marked(snippet, _inline))
