"""ntfy: a push notification to a topic, published as JSON.

Request (https://docs.ntfy.sh/publish/#publish-as-json): ``POST`` to the server's root of ``{"topic", "title",
"message", "tags", "click", "priority"}``. ``url`` is the topic's URL (``https://ntfy.sh/mytopic``), and a secret:
on a public server, whoever knows a topic can read it. With a ``token``, the request carries ``Authorization:
Bearer {token}`` (https://docs.ntfy.sh/publish/#access-tokens).

Content: plain text (``markdown`` is off), so nothing is markup; the feed's text is cleaned as everywhere, and
every ``@`` or ``<`` that could start a chat mention is still followed by U+200B, so that text copied into a chat
is inert too. ``title`` is ``rule: title``, ``message`` the source and time, the snippet (match marks removed)
and the matched terms; ``tags`` are ``newspaper`` (shown as 📰) and the rule's name; ``click`` opens the article;
``priority`` is the rule's ``priority`` when it has one (``min`` 1 to ``max`` or ``urgent`` 5,
https://docs.ntfy.sh/publish/#message-priority).

Limits: ``MESSAGE_BYTES`` of message (the default ``message-size-limit``; a longer one would turn into an
attachment), ``TITLE_BYTES`` of title and ``TAGS_BYTES`` of tags together (ntfy 2.28 refuses more with a 400).

Digest: the title names the rule and the part; the message lists the alerts (title, source and time, link), one
paragraph each; the priority is the highest of its alerts'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor.delivery.notify import digest
from monitor.delivery.notify.request import Request, Target, json_request
from monitor.delivery.notify.text import (
    break_mentions,
    excerpt,
    fit,
    one_line,
    split_marked,
    utc_label,
    utf8_len,
    web_url,
)
from monitor.store.message import AlertMessage

MESSAGE_BYTES = 4096
TITLE_BYTES = 1024
TAGS_BYTES = 512
PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}
TAG = "newspaper"

# Layout budgets (not platform limits), in bytes.
_TITLE_BYTES = 400
_RULE_BYTES = 200
_SOURCE_BYTES = 300
_TERMS_BYTES = 600
_DIGEST_TITLE_BYTES = 300
_SEPARATOR = "\n\n"
_UNTITLED = "(untitled)"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the ntfy message (title, message, tags, click, priority) for alert; the topic is added on sending."""
    article = alert.article
    rule, title = one_line(alert.rule), one_line(article.title) or _UNTITLED
    heading = f"{_fit(rule, _RULE_BYTES)}: {_fit(title, _TITLE_BYTES)}" if rule else _fit(title, _TITLE_BYTES)
    lines = [_fit(meta, _SOURCE_BYTES)] if (meta := _meta(article.source, article.published)) else []
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    tail = f"Matched: {_fit(terms, _TERMS_BYTES)}" if terms else ""
    snippet = one_line(excerpt(alert))
    if snippet:
        room = MESSAGE_BYTES - utf8_len("\n".join([*lines, tail])) - 2
        lines.append(fit(snippet, room, _snippet, utf8_len))
    message = "\n".join(line for line in [*lines, tail] if line)
    payload: dict[str, Any] = {"title": heading, "message": message or heading, "tags": _tags(rule)}
    url = web_url(article.url)
    if url:
        payload["click"] = url
    if alert.priority in PRIORITIES:
        payload["priority"] = PRIORITIES[alert.priority]
    return payload


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the notifications of a digest: one paragraph per alert, split to stay within ``MESSAGE_BYTES``."""
    items = [_digest_item(alert) for alert in alerts]
    levels = [PRIORITIES[a.priority] for a in alerts if a.priority in PRIORITIES]
    priority = max(levels) if levels else None
    costs = [(utf8_len(item) + len(_SEPARATOR),) for item in items]
    room = MESSAGE_BYTES - utf8_len(_window(window)) - len(_SEPARATOR)
    return digest.split(items, costs, (room,), lambda group, part: _digest(rule, window, part, group, priority))


def _digest(rule: str, window: str, part: digest.Part, items: Sequence[str], priority: int | None) -> dict[str, Any]:
    """Return one digest notification: rule and part in the title, the window and the alerts in the message."""
    rule = one_line(rule) or "(unnamed)"
    message = _SEPARATOR.join([_window(window), *items]).strip()
    payload: dict[str, Any] = {
        "title": f"Digest: {_fit(rule, _RULE_BYTES)} ({part.label()})",
        "message": message or part.label(),
        "tags": _tags(rule),
    }
    if priority is not None:
        payload["priority"] = priority
    return payload


def _window(window: str) -> str:
    """Return the digest's window as the first line of its message."""
    return _fit(one_line(window), _SOURCE_BYTES)


def _digest_item(alert: AlertMessage) -> str:
    """Return one alert of a digest: title, source and time, link."""
    article = alert.article
    lines = [_fit(one_line(article.title) or _UNTITLED, _DIGEST_TITLE_BYTES)]
    meta = _meta(article.source, article.published)
    if meta:
        lines.append(_fit(meta, _SOURCE_BYTES))
    url = web_url(article.url)
    if url:
        lines.append(url)
    return "\n".join(lines)


def _meta(source: str, published: datetime | None) -> str:
    """Return ``source · date`` (either may be missing) as one line of source text."""
    return " · ".join(part for part in (one_line(source), utc_label(published)) if part)


def _tags(rule: str) -> list[str]:
    """Return the notification's tags: the newspaper emoji, and the rule's name when there is one."""
    name = _fit(rule, _RULE_BYTES)
    return [TAG, name] if name else [TAG]


def _fit(s: str, limit: int) -> str:
    """Return s with mentions broken, cut to limit UTF-8 bytes."""
    return fit(s, limit, break_mentions, utf8_len)


def _snippet(snippet: str) -> str:
    """Return the snippet as plain text, its match marks removed."""
    return break_mentions("".join(text for text, _ in split_marked(snippet)))


def request(target: Target, _message_id: str, payload: dict[str, Any]) -> Request:
    """Return the request that publishes payload to the topic of the target's URL."""
    parts = urlsplit(target.url)
    root = parts.path.rstrip("/").rpartition("/")[0]
    url = urlunsplit(parts._replace(path=root or "/"))
    topic = topic_of(target.url)
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    return json_request("POST", url, {"topic": topic, **payload}, headers)


def topic_of(url: str) -> str:
    """Return the topic a topic URL names (the last segment of its path)."""
    return urlsplit(url).path.rstrip("/").rpartition("/")[2]


def pace_key(target: Target) -> str:
    """Return what ntfy's limits count: one visitor's requests (its address, or its token) to one server."""
    parts = urlsplit(target.url)
    return f"{parts.scheme}://{parts.netloc}\n{target.token or ''}"
