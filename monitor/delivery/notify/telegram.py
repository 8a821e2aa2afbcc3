"""Telegram: a message from a bot to a chat, through the Bot API's ``sendMessage``.

Request (https://core.telegram.org/bots/api#sendmessage): ``POST {url}/bot{token}/sendMessage`` with a JSON body
holding ``chat_id``, ``text``, ``parse_mode`` ``HTML`` and ``link_preview_options`` ``{"is_disabled": true}``.
``url`` is the Bot API server, ``https://api.telegram.org`` unless the settings name one of your own. The token
is part of the request's path: it is never logged, and errors only name the server. A 429 says how long to wait
in ``parameters.retry_after`` (https://core.telegram.org/bots/api#responseparameters).

Formatting (https://core.telegram.org/bots/api#html-style): ``<b>``, ``<a href>`` and ``<blockquote>`` only;
every ``<``, ``>`` and ``&`` from the feed becomes an entity, and a link is only ever an http(s) URL. Telegram
notifies a member named as ``@username`` in a group: every ``@`` that could start a mention is followed by
U+200B, which ends the name.

Limits: ``TEXT_LIMIT`` characters of text after entities are parsed, counted in UTF-16 code units. The limit is
checked here on the HTML as sent, which is never shorter, so a message is never refused for its length.

Pacing (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): about one message a
second to a chat, and at most 20 a minute to a group (see ``delivery.pacing``).

Digest: a head (rule, window, part), then one paragraph per alert (linked title, source and time, snippet).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.request import Request, Target, base, json_request, wait_in
from monitor.delivery.notify.text import (
    break_across_marks,
    break_mentions,
    excerpt,
    fit,
    one_line,
    split_marked,
    utc_label,
    utf16_len,
    web_url,
)
from monitor.store.message import AlertMessage

API_URL = "https://api.telegram.org"
TEXT_LIMIT = 4096

# Layout budgets (not platform limits), in UTF-16 code units of the rendered text.
_RULE_CHARS = 200
_TITLE_CHARS = 600
_SOURCE_CHARS = 300
_TERMS_CHARS = 500
_WINDOW_CHARS = 200
_URL_CHARS = 1000
_DIGEST_SNIPPET_CHARS = 300
_SEPARATOR = "\n\n"
_UNTITLED = "(untitled)"
_OPTIONS: dict[str, Any] = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the ``sendMessage`` fields (text in HTML, no link preview) for alert; the chat is added on sending."""
    article = alert.article
    rule, title = one_line(alert.rule), one_line(article.title) or _UNTITLED
    head = _link(title, web_url(article.url))
    if rule:
        head = f"<b>{_fit(rule, _RULE_CHARS)}</b> · {head}"
    lines = [head]
    meta = _meta(article.source, article.published)
    if meta:
        lines.append(_fit(meta, _SOURCE_CHARS))
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    tail = f"Matched: {_fit(terms, _TERMS_CHARS)}" if terms else ""
    text = "\n".join(lines)
    snippet = one_line(excerpt(alert))
    if snippet:
        room = TEXT_LIMIT - utf16_len(text) - utf16_len(tail) - 2
        quote = fit(snippet, room - len("<blockquote></blockquote>"), _snippet, utf16_len)
        text += f"\n<blockquote>{quote}</blockquote>" if quote else ""
    return {"text": f"{text}\n{tail}" if tail else text, **_OPTIONS}


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the messages of a digest: one paragraph per alert, split to stay within ``TEXT_LIMIT``."""
    items = [_digest_item(alert) for alert in alerts]
    frame = utf16_len(_digest(rule, window, digest.widest(len(alerts)), [])["text"])
    costs = [(utf16_len(item) + len(_SEPARATOR),) for item in items]
    return digest.split(items, costs, (TEXT_LIMIT - frame,), lambda group, part: _digest(rule, window, part, group))


def _digest(rule: str, window: str, part: digest.Part, items: Sequence[str]) -> dict[str, Any]:
    """Return one digest message: the head with rule, window and part, then the alerts."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = " · ".join(text for text in (_fit(window, _WINDOW_CHARS), part.label()) if text)
    head = f"<b>Digest: {_fit(rule, _RULE_CHARS)}</b>\n{line}"
    return {"text": "".join([head, *(_SEPARATOR + item for item in items)]), **_OPTIONS}


def _digest_item(alert: AlertMessage) -> str:
    """Return one alert of a digest: linked title, source and time, a short snippet."""
    article = alert.article
    lines = [_link(one_line(article.title) or _UNTITLED, web_url(article.url))]
    meta = _meta(article.source, article.published)
    if meta:
        lines.append(_fit(meta, _SOURCE_CHARS))
    snippet = one_line(excerpt(alert))
    if snippet:
        lines.append(fit(snippet, _DIGEST_SNIPPET_CHARS, _snippet, utf16_len))
    return "\n".join(lines)


def _meta(source: str, published: datetime | None) -> str:
    """Return ``source · date`` (either may be missing) as one line of source text."""
    return " · ".join(part for part in (one_line(source), utc_label(published)) if part)


def _link(title: str, url: str | None) -> str:
    """Return the title as HTML, linked to url when there is one, else in bold."""
    label = _fit(title, _TITLE_CHARS)
    href = html.escape(url, quote=True) if url else ""
    return f'<a href="{href}">{label}</a>' if href and len(href) <= _URL_CHARS else f"<b>{label}</b>"


def _fit(s: str, limit: int) -> str:
    """Return s escaped for Telegram's HTML, cut to limit UTF-16 code units."""
    return fit(s, limit, _escape, utf16_len)


def _escape(s: str) -> str:
    """Return s with ``&``, ``<`` and ``>`` as entities and mentions broken."""
    return break_mentions(html.escape(s, quote=False))


def _snippet(snippet: str) -> str:
    """Return the snippet as Telegram HTML, its matched words in bold."""
    out: list[str] = []
    for text, matched in split_marked(break_across_marks(snippet)):
        escaped = _escape(text)
        out.append(f"<b>{escaped}</b>" if matched and escaped.strip() else escaped)
    return "".join(out)


def request(target: Target, _message_id: str, payload: dict[str, Any]) -> Request:
    """Return the ``sendMessage`` request of payload to the target's chat."""
    url = f"{base(target.url)}/bot{target.token or ''}/sendMessage"
    return json_request("POST", url, {"chat_id": target.chat_id, **payload})


def pace_key(target: Target) -> str:
    """Return what Telegram's limits count: one bot's messages to one chat."""
    return f"{base(target.url)}\n{target.token or ''}\n{target.chat_id or ''}"


def identity(target: Target) -> str:
    """Return the chat posted to, through its Bot API server."""
    return f"{base(target.url)}\n{target.chat_id or ''}"


def shown(target: Target) -> str:
    """Return what ``monitor check`` says of the destination besides the server."""
    return f"chat {target.chat_id}"


def is_group(chat_id: str | None) -> bool:
    """Return whether a chat id names a group or a channel (negative, or ``@name``), not a person."""
    return bool(chat_id) and (chat_id or "").startswith(("-", "@"))


RETRY_AFTER = wait_in("parameters", "retry_after")
