"""Matrix: an ``m.notice`` in a room, sent with the client-server API as the bot user of an access token.

Request (https://spec.matrix.org/v1.11/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid):
``PUT {homeserver}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txnId}`` with ``Authorization: Bearer
{token}``. The transaction id is the delivery's stable id, so a request made again (a daemon killed between
sending and recording it) is the same event to the homeserver, which answers with the first one's id instead of
posting it twice. A room alias (``#name:server``) is resolved to its id once, with ``GET
/_matrix/client/v3/directory/room/{alias}``. A 429 with ``errcode`` ``M_LIMIT_EXCEEDED`` says how long to wait
in ``retry_after_ms``.

Content (https://spec.matrix.org/v1.11/client-server-api/#mroommessage-msgtypes): ``body`` is plain text and
``formatted_body`` HTML (``format`` ``org.matrix.custom.html``) with only tags the spec recommends clients allow
(``p``, ``b``, ``a``, ``br``, ``blockquote``, ``ul``, ``li``, ``em``). Everything from the feed is HTML-escaped;
a link is only ever an http(s) URL.

Mentions: ``m.mentions: {}`` says the message mentions nobody, and servers and clients that know intentional
mentions then ignore ``@room`` and display names in the text
(https://spec.matrix.org/v1.11/client-server-api/#user-and-room-mentions). Older ones match ``@room`` in
``body``: every ``@`` that could start a mention is followed by U+200B (``text.break_mentions``), so they find
none either.

Limits: a whole event may take 65,536 bytes (https://spec.matrix.org/v1.11/client-server-api/#size-limits);
``MAX_BYTES`` keeps the content well within it, leaving room for the event's envelope and signatures. Layout
budgets keep one alert short.

Digest: a head (rule, window, part), then one list item per alert, at most ``MAX_DIGEST_ALERTS`` a message.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import size
from monitor.delivery.notify.request import Lookup, Request, Target, base, json_field, json_request, wait_in
from monitor.delivery.notify.text import (
    break_across_marks,
    break_mentions,
    excerpt,
    fit,
    one_line,
    split_marked,
    utc_label,
    web_url,
)
from monitor.store.message import AlertMessage

MAX_BYTES = 48_000
MAX_DIGEST_ALERTS = 50
MSGTYPE = "m.notice"
HTML_FORMAT = "org.matrix.custom.html"
API = "/_matrix/client/v3"

# Layout budgets (not platform limits), in characters of the rendered text.
_RULE_CHARS = 300
_TITLE_CHARS = 600
_SOURCE_CHARS = 300
_SNIPPET_CHARS = 2000
_TERMS_CHARS = 600
_WINDOW_CHARS = 300
_DIGEST_SNIPPET_CHARS = 400
_URL_CHARS = 2048
_UNTITLED = "(untitled)"
_ROOM_ID = re.compile(r"![!-~]{1,254}")  # printable ASCII, no space: it goes, percent-encoded, in a path


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the ``m.room.message`` content (plain body, HTML body, no mentions) for alert."""
    article = alert.article
    rule, title = one_line(alert.rule), one_line(article.title) or _UNTITLED
    url = web_url(article.url)
    meta = _meta(article.source, article.published)
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    snippet = one_line(excerpt(alert))

    plain = [f"{fit(rule, _RULE_CHARS, _plain)}: {fit(title, _TITLE_CHARS, _plain)}" if rule else _text(title)]
    rich = [f"<b>{fit(rule, _RULE_CHARS, _html)}</b>: " if rule else "", _link(title, url, _TITLE_CHARS)]
    if url:
        plain.append(url)
    if meta:
        plain.append(fit(meta, _SOURCE_CHARS, _plain))
        rich.append(f"<br>{fit(meta, _SOURCE_CHARS, _html)}")
    body = "\n".join(plain)
    formatted = f"<p>{''.join(rich)}</p>"
    if snippet:
        body += "\n> " + fit(snippet, _SNIPPET_CHARS, _plain_snippet)
        formatted += f"<blockquote>{fit(snippet, _SNIPPET_CHARS, _html_snippet)}</blockquote>"
    if terms:
        body += "\nMatched: " + fit(terms, _TERMS_CHARS, _plain)
        formatted += f"<p>Matched: {fit(terms, _TERMS_CHARS, _html)}</p>"
    return content(body, formatted)


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the contents of a digest: one list item per alert, split to stay within ``MAX_BYTES``."""
    items = [_digest_item(alert) for alert in alerts]
    frame = _digest(rule, window, digest.widest(len(alerts)), [])
    costs = [(1, size(plain) + size(rich)) for plain, rich in items]
    room = (MAX_DIGEST_ALERTS, MAX_BYTES - size(frame))
    return digest.split(items, costs, room, lambda group, part: _digest(rule, window, part, group))


def content(body: str, formatted: str) -> dict[str, Any]:
    """Return an ``m.notice`` content with a plain and an HTML body that mentions nobody."""
    return {"msgtype": MSGTYPE, "body": body, "format": HTML_FORMAT, "formatted_body": formatted, "m.mentions": {}}


def _digest(rule: str, window: str, part: digest.Part, items: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Return one digest message: the head with rule, window and part, then the alerts as a list."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = " · ".join(text for text in (fit(window, _WINDOW_CHARS, _plain), part.label()) if text)
    rich_line = " · ".join(text for text in (fit(window, _WINDOW_CHARS, _html), part.label()) if text)
    body = f"Digest: {fit(rule, _RULE_CHARS, _plain)}\n{line}" + "".join(f"\n\n{plain}" for plain, _ in items)
    head = f"<p><b>Digest: {fit(rule, _RULE_CHARS, _html)}</b><br>{rich_line}</p>"
    listed = f"<ul>{''.join(rich for _, rich in items)}</ul>" if items else ""
    return content(body, head + listed)


def _digest_item(alert: AlertMessage) -> tuple[str, str]:
    """Return one alert of a digest as plain text and as an HTML list item."""
    article = alert.article
    title, url = one_line(article.title) or _UNTITLED, web_url(article.url)
    meta = _meta(article.source, article.published)
    snippet = one_line(excerpt(alert))
    plain = ["• " + fit(title, _TITLE_CHARS, _plain)]
    rich = [_link(title, url, _TITLE_CHARS)]
    if url:
        plain.append(url)
    if meta:
        plain.append(fit(meta, _SOURCE_CHARS, _plain))
        rich.append(f"<br>{fit(meta, _SOURCE_CHARS, _html)}")
    if snippet:
        plain.append(fit(snippet, _DIGEST_SNIPPET_CHARS, _plain_snippet))
        rich.append(f"<br><em>{fit(snippet, _DIGEST_SNIPPET_CHARS, _html_snippet)}</em>")
    return "\n".join(plain), f"<li>{''.join(rich)}</li>"


def _meta(source: str, published: datetime | None) -> str:
    """Return ``source · date`` (either may be missing) as one line of source text."""
    return " · ".join(part for part in (one_line(source), utc_label(published)) if part)


def _link(title: str, url: str | None, limit: int) -> str:
    """Return the title as HTML, linked to url when there is one."""
    label = fit(title, limit, _html)
    href = html.escape(url, quote=True) if url else ""
    return f'<a href="{href}">{label}</a>' if href and len(href) <= _URL_CHARS else f"<b>{label}</b>"


def _text(s: str) -> str:
    """Return a title alone as the plain body's first line."""
    return fit(s, _TITLE_CHARS, _plain)


def _plain(s: str) -> str:
    """Return s for the plain body: mentions broken."""
    return break_mentions(s)


def _html(s: str) -> str:
    """Return s as HTML text: ``&``, ``<`` and ``>`` as entities, mentions broken."""
    return break_mentions(html.escape(s, quote=False))


def _plain_snippet(snippet: str) -> str:
    """Return the snippet as plain text, its match marks removed."""
    return _plain("".join(text for text, _ in split_marked(break_across_marks(snippet))))


def _html_snippet(snippet: str) -> str:
    """Return the snippet as HTML, its matched words in bold."""
    out: list[str] = []
    for text, matched in split_marked(break_across_marks(snippet)):
        escaped = _html(text)
        out.append(f"<b>{escaped}</b>" if matched and escaped.strip() else escaped)
    return "".join(out)


def request(target: Target, message_id: str, payload: dict[str, Any]) -> Request:
    """Return the PUT that sends payload to the target's room, under the delivery's id as transaction id."""
    room, txn = quote(target.room or "", safe=""), quote(message_id, safe="")
    url = f"{base(target.url)}{API}/rooms/{room}/send/m.room.message/{txn}"
    return json_request("PUT", url, payload, _authorization(target))


def _alias_request(target: Target) -> Request | None:
    """Return the directory request that resolves the target's room alias, or None for a room id."""
    if not target.room or not target.room.startswith("#"):
        return None
    url = f"{base(target.url)}{API}/directory/room/{quote(target.room, safe='')}"
    return Request("GET", url, _authorization(target), b"")


def _alias_answer(target: Target, text: str) -> Target | None:
    """Return the target with the room id a directory answer gives, or None when it gives none."""
    room_id = json_field(text, "room_id")
    if isinstance(room_id, str) and _ROOM_ID.fullmatch(room_id):
        return replace(target, room=room_id)
    return None


def _authorization(target: Target) -> dict[str, str]:
    """Return the header that signs a request in as the token's user."""
    return {"Authorization": f"Bearer {target.token or ''}"}


def pace_key(target: Target) -> str:
    """Return what a homeserver's rate limit counts: the user of the token, on its homeserver."""
    return f"{base(target.url)}\n{target.token or ''}"


def identity(target: Target) -> str:
    """Return the room posted to, on its homeserver."""
    return f"{base(target.url)}\n{target.room or ''}"


def shown(target: Target) -> str:
    """Return what ``monitor check`` says of the destination besides the homeserver."""
    return f"room {target.room}"


ALIAS = Lookup(_alias_request, _alias_answer)
RETRY_AFTER = wait_in("retry_after_ms", scale=0.001, when=("errcode", "M_LIMIT_EXCEEDED"))
