"""Zulip: a message to a stream and topic, through the bot API or an incoming webhook URL.

Requests:

- with ``bot_email`` and ``token`` (https://zulip.com/api/send-message): ``POST {url}/api/v1/messages``,
  form-encoded ``type=stream``, ``to``, ``topic`` and ``content``, signed in with HTTP basic authentication as
  ``bot_email:token``;
- without them, ``url`` is the incoming webhook URL of Zulip's Slack-compatible integration
  (https://zulip.com/integrations/doc/slack_incoming), ``…/api/v1/external/slack_incoming?api_key=…``: the
  content is posted as Slack's ``{"text": …}``, with ``stream`` and ``topic`` added to the URL's query when the
  settings give them. That integration turns Slack's ``*bold*`` into Zulip's ``**bold**``, so the content is
  sent with single stars; the feed's own stars are entities (below), so no other text changes.

A 429 says how long to wait in ``retry-after`` (https://zulip.com/api/rest-error-handling#rate-limit-exceeded),
as well as in the ``Retry-After`` header.

Escaping: Zulip's Markdown has no backslash escapes, but it reads HTML entities
(``zerver/lib/markdown/__init__.py``, ``build_inlinepatterns``). Every character of the feed's text that Zulip
reads as markup becomes a numeric entity: ``*`` (bold, and the ``@**name**`` mentions, ``@*group*`` group
mentions and ``#**stream**`` links), ``_``, ``~``, backtick, ``$`` (TeX), ``[``, ``]``, ``|``, ``#``, ``&``,
``<`` and ``>``, and ``-``, ``+``, ``=`` or ``1.`` where they begin a line (lists, rules, headings). With no
``*`` left, no mention is live; every ``@`` that could start one is followed by U+200B besides.

Limits: ``MAX_BYTES`` of content (https://zulip.com/api/send-message: 10,000 bytes; the server cuts longer
messages); a topic of at most ``TOPIC_LIMIT`` characters, checked with the settings. Layout budgets keep one
alert short.

Digest: a head line (rule, window, part), then one paragraph per alert (linked title, source and time, snippet).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.delivery.notify import digest
from monitor.delivery.notify.request import Request, Target, base, form_request, json_request, wait_in
from monitor.delivery.notify.text import (
    bold_marked,
    break_mentions,
    excerpt,
    fit,
    one_line,
    utc_label,
    utf8_len,
    web_url,
)
from monitor.store.message import AlertMessage

MAX_BYTES = 10_000
TOPIC_LIMIT = 60
STREAM_LIMIT = 60

# Layout budgets (not platform limits), in UTF-8 bytes of the rendered text.
_RULE_BYTES = 300
_TITLE_BYTES = 600
_SOURCE_BYTES = 300
_SNIPPET_BYTES = 2500
_TERMS_BYTES = 600
_WINDOW_BYTES = 300
_DIGEST_SNIPPET_BYTES = 400
_URL_BYTES = 2048
_SEPARATOR = "\n\n"
_UNTITLED = "(untitled)"

_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "*_~`$[]|#"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_LINE_START = re.compile(r"^(\s*)(?:([-+=])|(\d+)([.)]))")
_LINK_UNSAFE = str.maketrans({"(": "%28", ")": "%29"})


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the message content (Zulip Markdown) for alert; the stream and topic are added on sending."""
    article = alert.article
    rule = one_line(alert.rule)
    head = _link(one_line(article.title) or _UNTITLED, web_url(article.url))
    lines = [f"**{_fit(rule, _RULE_BYTES)}** · {head}" if rule else head]
    meta = _meta(article.source, article.published)
    if meta:
        lines.append(_line_start(_fit(meta, _SOURCE_BYTES)))
    content = "\n".join(lines)
    snippet = one_line(excerpt(alert))
    if snippet:
        content += f"{_SEPARATOR}> {fit(snippet, _SNIPPET_BYTES, _snippet, utf8_len)}"
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    if terms:
        content += f"{_SEPARATOR}Matched: {_fit(terms, _TERMS_BYTES)}"
    return {"content": content}


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the messages of a digest: one paragraph per alert, split to stay within ``MAX_BYTES``."""
    items = [_digest_item(alert) for alert in alerts]
    frame = utf8_len(_digest(rule, window, digest.widest(len(alerts)), [])["content"])
    costs = [(utf8_len(item) + len(_SEPARATOR),) for item in items]
    return digest.split(items, costs, (MAX_BYTES - frame,), lambda group, part: _digest(rule, window, part, group))


def _digest(rule: str, window: str, part: digest.Part, items: Sequence[str]) -> dict[str, Any]:
    """Return one digest message: the head with rule, window and part, then the alerts."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = " · ".join(text for text in (_fit(window, _WINDOW_BYTES), part.label()) if text)
    head = f"**Digest: {_fit(rule, _RULE_BYTES)}** · {line}"
    return {"content": "".join([head, *(_SEPARATOR + item for item in items)])}


def _digest_item(alert: AlertMessage) -> str:
    """Return one alert of a digest: linked title with source and time, then a short quoted snippet."""
    article = alert.article
    first = _link(one_line(article.title) or _UNTITLED, web_url(article.url))
    meta = _meta(article.source, article.published)
    if meta:
        first += f" · {_fit(meta, _SOURCE_BYTES)}"
    snippet = one_line(excerpt(alert))
    return f"{first}\n> {fit(snippet, _DIGEST_SNIPPET_BYTES, _snippet, utf8_len)}" if snippet else first


def _meta(source: str, published: datetime | None) -> str:
    """Return ``source · date`` (either may be missing) as one line of source text."""
    return " · ".join(part for part in (one_line(source), utc_label(published)) if part)


def _link(title: str, url: str | None) -> str:
    """Return the title as Markdown, linked to url when there is one."""
    label = _fit(title, _TITLE_BYTES)
    target = url.translate(_LINK_UNSAFE) if url else ""
    return f"[{label}]({target})" if target and len(target) <= _URL_BYTES else f"**{label}**"


def _fit(s: str, limit: int) -> str:
    """Return s escaped for Zulip's Markdown, cut to limit UTF-8 bytes."""
    return fit(s, limit, _escape, utf8_len)


def _escape(s: str) -> str:
    """Return s with every Markdown mark as an entity and mentions broken."""
    # Broken before the marks become entities too: "@_x" reads as a mention where entities are decoded first.
    return break_mentions(break_mentions(s).translate(_ENTITIES))


def _line_start(s: str) -> str:
    """Return s with a list, rule or heading mark that begins it as an entity."""
    return _LINE_START.sub(_entity_mark, s, count=1)


def _entity_mark(match: re.Match[str]) -> str:
    """Return the matched line start with its mark as an entity (``&#45;``, ``1&#46;``)."""
    indent, mark, number, dot = match.groups()
    return f"{indent}&#{ord(mark)};" if mark else f"{indent}{number}&#{ord(dot)};"


def _snippet(snippet: str) -> str:
    """Return the snippet as Zulip Markdown, its matched words in bold."""
    return bold_marked(snippet, _escape)


def request(target: Target, _message_id: str, payload: dict[str, Any]) -> Request:
    """Return the request that posts payload's content to the target's stream and topic."""
    content = str(payload["content"])
    if target.bot_email is None:
        # Every "*" left is ours (the feed's are entities): the integration turns "*x*" back into "**x**".
        return json_request("POST", _with_query(target), {"text": content.replace("**", "*")})
    fields = {"type": "stream", "to": target.stream or "", "topic": target.topic or "", "content": content}
    login = base64.b64encode(f"{target.bot_email}:{target.token or ''}".encode()).decode("ascii")
    return form_request(f"{base(target.url)}/api/v1/messages", fields, {"Authorization": f"Basic {login}"})


def _with_query(target: Target) -> str:
    """Return the incoming webhook URL with the settings' stream and topic in its query (the URL's own win)."""
    parts = urlsplit(target.url)
    given = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = {key: value for key, value in (("stream", target.stream), ("topic", target.topic)) if value}
    added = urlencode({key: value for key, value in extra.items() if key not in given})
    if not added:
        return target.url
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def pace_key(target: Target) -> str:
    """Return what Zulip's rate limit counts: the bot's requests to its server (or one webhook URL's)."""
    return target.url if target.bot_email is None else f"{base(target.url)}\n{target.bot_email}"


def identity(target: Target) -> str:
    """Return the stream and topic posted to, on their server (or the webhook URL)."""
    if target.bot_email is None:
        return f"{target.url}\n{target.stream or ''}\n{target.topic or ''}"
    return f"{base(target.url)}\n{target.stream or ''}\n{target.topic or ''}"


def shown(target: Target) -> str:
    """Return what ``monitor check`` says of the destination besides the server."""
    where = f"stream {target.stream}, topic {target.topic}" if target.stream else "the URL's stream"
    how = f"as {target.bot_email}" if target.bot_email else "through an incoming webhook"
    return f"{where} ({how})"


RETRY_AFTER = wait_in("retry-after")
