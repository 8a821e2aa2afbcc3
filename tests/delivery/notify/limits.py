"""Platform limits as the tests check them: each format's rules, written from the platforms' documentation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.delivery.notify import discord, generic, googlechat, mattermost, slack, teams
from monitor.delivery.notify.body import size

Checker = Callable[[dict[str, Any]], list[str]]


def _over(what: str, value: int, limit: int, *, empty_ok: bool = True) -> list[str]:
    """Return a complaint when value passes limit (or is zero and must not be)."""
    if value > limit:
        return [f"{what}: {value} > {limit}"]
    if not empty_ok and value == 0:
        return [f"{what}: empty"]
    return []


def _slack(payload: dict[str, Any]) -> list[str]:
    """Return the Slack limits payload breaks."""
    out = _over("text", len(payload["text"]), slack.TEXT_LIMIT, empty_ok=False)
    out += _over("blocks", len(payload["blocks"]), slack.MAX_BLOCKS)
    for block in payload["blocks"]:
        if block["type"] == "header":
            out += _over("header", len(block["text"]["text"]), slack.HEADER_LIMIT, empty_ok=False)
        elif block["type"] == "section":
            out += _over("section", len(block["text"]["text"]), slack.SECTION_LIMIT, empty_ok=False)
        else:
            out += _over("context elements", len(block["elements"]), 10)
            out += [f for e in block["elements"] for f in _over("context", len(e["text"]), slack.CONTEXT_LIMIT)]
    return out + _over("bytes", size(payload), slack.MAX_BYTES)


def _mattermost(payload: dict[str, Any]) -> list[str]:
    """Return the Mattermost limits payload breaks."""
    out = _over("text", len(payload["text"]), mattermost.TEXT_LIMIT, empty_ok=False)
    return out + _over("bytes", size(payload), mattermost.MAX_BYTES)


def _discord(payload: dict[str, Any]) -> list[str]:
    """Return the Discord limits payload breaks."""
    out = _over("content", len(payload["content"]), discord.CONTENT_LIMIT)
    out += _over("embeds", len(payload["embeds"]), discord.MAX_EMBEDS)
    out += _over("embed total", sum(discord.embed_chars(e) for e in payload["embeds"]), discord.EMBED_TOTAL_LIMIT)
    for embed in payload["embeds"]:
        out += _over("title", len(embed["title"]), discord.TITLE_LIMIT, empty_ok=False)
        out += _over("description", len(embed.get("description", "")), discord.DESCRIPTION_LIMIT)
        out += _over("footer", len(embed.get("footer", {}).get("text", "")), discord.FOOTER_LIMIT)
        out += _over("fields", len(embed.get("fields", [])), 25)
        for field in embed.get("fields", []):
            out += _over("field name", len(field["name"]), discord.FIELD_NAME_LIMIT, empty_ok=False)
            out += _over("field value", len(field["value"]), discord.FIELD_VALUE_LIMIT, empty_ok=False)
    if payload["allowed_mentions"] != {"parse": []}:
        out.append("allowed_mentions lets Discord ping")
    return out


def _teams(payload: dict[str, Any]) -> list[str]:
    """Return the Teams limits (and envelope rules) payload breaks."""
    (attachment,) = payload["attachments"]
    out = [] if payload["type"] == "message" else ["not a message"]
    if attachment["contentType"] != teams.CONTENT_TYPE or attachment["content"]["version"] != "1.4":
        out.append("not an Adaptive Card 1.4")
    return out + _over("bytes", size(payload), teams.MAX_BYTES)


def _googlechat(payload: dict[str, Any]) -> list[str]:
    """Return the Google Chat limits payload breaks."""
    # A message's text may hold 4,096 characters; fallbackText has no limit of its own and is kept within it.
    out = _over("fallbackText", len(payload["fallbackText"]), 4096, empty_ok=False)
    out += ["text"] if "text" in payload else []  # Chat would show it above the card
    out += _over("cards", len(payload["cardsV2"]), 1, empty_ok=False)
    return out + _over("bytes", size(payload), googlechat.MAX_BYTES)


def _generic(payload: dict[str, Any]) -> list[str]:
    """Return the generic format's own limits payload breaks."""
    alerts = payload["alerts"] if payload["type"] == generic.DIGEST_TYPE else [payload]
    out: list[str] = []
    for alert in alerts:
        texts = [alert["rule"]["name"], alert["rule"]["query"], alert["snippet"], alert["article"]["title"]]
        out += [f for text in texts for f in _over("text", len(text), generic.TEXT_LIMIT)]
        out += _over("terms", len(alert["matched"]), generic.TERMS_LIMIT)
    return out + _over("bytes", size(payload), generic.MAX_BYTES)


CHECKERS: dict[str, Checker] = {
    "slack": _slack,
    "mattermost": _mattermost,
    "discord": _discord,
    "teams": _teams,
    "googlechat": _googlechat,
    "generic": _generic,
}


def violations(format: str, payload: dict[str, Any]) -> list[str]:
    """Return every limit of the named format that payload breaks (empty when it fits)."""
    return CHECKERS[format](payload)
