"""Rocket.Chat incoming-webhook payload: one Markdown ``text``.

Request (https://docs.rocket.chat/docs/integrations, incoming webhooks): ``POST`` of ``{"text": …}`` as JSON to
the integration's URL, ``https://chat.example.org/hooks/{id}/{token}``; the URL is the secret.

Layout: ``*rule* · [title](url)``, then the source and time, the matched terms, and the snippet as a quote
(last, so that no line after it joins the quote).

Escaping, applied to all article text (and the rule name), after Rocket.Chat's message parser
(https://docs.rocket.chat/docs/message-formatting), which has no escape character:

- ``*``, ``_``, ``~``, backtick and backslash become lookalikes (U+2217, U+02CD, U+223C, U+02CB, U+2216), so the
  feed can neither format text nor open code, TeX or emphasis;
- ``](`` gets U+200B between its characters, so ``[label](url)`` in a headline is no link, and a ``<`` that
  could open ``<url|label>`` or a mention is followed by U+200B (``text.break_mentions``);
- ``#``, ``>``, ``-``, ``+`` and ``1.`` that begin a line get a soft hyphen in front, so no heading, quote or
  list starts there;
- Rocket.Chat notifies ``@all``, ``@here`` and ``@username`` found in a message: every ``@`` that could start a
  mention is followed by U+200B, which ends the name.

Limits: ``TEXT_LIMIT`` characters (the default ``Message_MaxAllowedSize``), counted in UTF-16 code units as the
server's JavaScript counts them.

Digest: a head line (rule, window, part), then one paragraph per alert (linked title, source and time, snippet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.text import (
    bold_marked,
    break_mentions,
    excerpt,
    fit,
    one_line,
    utc_label,
    utf16_len,
    web_url,
)
from monitor.store.message import AlertMessage

TEXT_LIMIT = 5000

# Layout budgets (not platform limits), in UTF-16 code units of the rendered text.
_RULE_CHARS = 200
_TITLE_CHARS = 400
_SOURCE_CHARS = 300
_SNIPPET_CHARS = 2000
_TERMS_CHARS = 500
_WINDOW_CHARS = 200
_DIGEST_SNIPPET_CHARS = 300
_URL_CHARS = 1500
_SEPARATOR = "\n\n"
_UNTITLED = "(untitled)"

_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb", "\\": "\u2216"})
_LINK_OPEN = re.compile(r"\](?=\()")
_LINE_START = re.compile(r"^(?=\s*(?:[#>+-]|\d+[.)]))")
_LINK_UNSAFE = str.maketrans({"(": "%28", ")": "%29"})


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Rocket.Chat webhook payload (one Markdown text) for alert."""
    article = alert.article
    rule = one_line(alert.rule)
    head = _link(one_line(article.title) or _UNTITLED, web_url(article.url))
    lines = [f"*{_fit(rule, _RULE_CHARS)}* · {head}" if rule else head]
    meta = _meta(article.source, article.published)
    if meta:
        lines.append(_line_start(_fit(meta, _SOURCE_CHARS)))
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    if terms:
        lines.append(f"Matched: {_fit(terms, _TERMS_CHARS)}")
    snippet = one_line(excerpt(alert))
    if snippet:
        lines.append(f"> {fit(snippet, _SNIPPET_CHARS, _snippet, utf16_len)}")
    return {"text": "\n".join(lines)}


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
    return {"text": "".join([f"*Digest: {_fit(rule, _RULE_CHARS)}* · {line}", *(_SEPARATOR + i for i in items)])}


def _digest_item(alert: AlertMessage) -> str:
    """Return one alert of a digest: linked title with source and time, then a short quoted snippet."""
    article = alert.article
    first = _link(one_line(article.title) or _UNTITLED, web_url(article.url))
    meta = _meta(article.source, article.published)
    if meta:
        first += f" · {_fit(meta, _SOURCE_CHARS)}"
    snippet = one_line(excerpt(alert))
    return f"{first}\n> {fit(snippet, _DIGEST_SNIPPET_CHARS, _snippet, utf16_len)}" if snippet else first


def _meta(source: str, published: datetime | None) -> str:
    """Return ``source · date`` (either may be missing) as one line of source text."""
    return " · ".join(part for part in (one_line(source), utc_label(published)) if part)


def _link(title: str, url: str | None) -> str:
    """Return the title as Markdown, linked to url when there is one, else in bold."""
    label = _fit(title, _TITLE_CHARS)
    target = url.translate(_LINK_UNSAFE) if url else ""
    return f"[{label}]({target})" if target and len(target) <= _URL_CHARS else f"*{label}*"


def _fit(s: str, limit: int) -> str:
    """Return s escaped for Rocket.Chat, cut to limit UTF-16 code units."""
    return fit(s, limit, _escape, utf16_len)


def _escape(s: str) -> str:
    """Return s with formatting marks as lookalikes, links opened by nothing, mentions broken."""
    return break_mentions(_LINK_OPEN.sub("]\u200b", s.translate(_LOOKALIKES)))


def _line_start(s: str) -> str:
    """Return s with a soft hyphen before a heading, quote or list mark that begins it."""
    return _LINE_START.sub("\u00ad", s, count=1)


def _snippet(snippet: str) -> str:
    """Return the snippet as Rocket.Chat Markdown, its matched words in bold (single stars)."""
    # Every "*" left is ours: the feed's are lookalikes.
    return bold_marked(snippet, _escape).replace("**", "*")
