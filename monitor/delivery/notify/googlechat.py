"""Google Chat incoming-webhook payload: a ``cardsV2`` card with a one-line ``fallbackText``.

Layout: the card header shows the rule and ``source · time``; its section holds the linked title in bold, the
snippet (matched words in bold; the text's first sentence when the match is in the title: ``text.excerpt``), the
matched terms and an "Open article" button when the URL is a usable web link. ``fallbackText`` (``rule:
title``) is what notifications show; a message's ``text`` would be shown above the card, saying it all twice.

Escaping, applied to all article text:

- card text is Chat's small HTML subset, so ``&``, ``<`` and ``>`` become entities and line breaks ``<br>``;
  the header is plain text and is only cleaned;
- ``fallbackText`` is plain text, but is written as Chat's ``text`` syntax would need it, where ``<users/all>``
  notifies everyone and ``<url|label>`` is a link: ``<``
  and ``>`` become the lookalikes U+FF1C and U+FF1E, ``*``, ``_``, ``~`` and backtick become U+2217, U+02CD,
  U+223C and U+02CB, and ``](`` gets a zero-width space so Markdown-mode apps see no link either;
- ``@here``, ``<users/all>`` and the like are split with U+200B everywhere (``break_mentions``): Chat only
  notifies through ``<users/...>`` in ``text``, but the header is plain text and any text may be copied elsewhere.
- the snippet's own ``*`` or ``<b>`` are text: card HTML shows them as written.

Limits: a message, text and cards together, must stay within 32,000 bytes (``MAX_BYTES``, measured on the
encoded body); the snippet is shortened until it fits.

Digest: the header names the rule, the window and the part (``5 alerts, part 1/2``); each alert is one
section (linked title, source and time, short snippet).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import first_within, size
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
from monitor.store.message import AlertMessage, ArticleRef

MAX_BYTES = 32_000

# Layout budgets (not platform limits); card budgets count the HTML as written.
_RULE_CHARS = 200
_TITLE_CHARS = 1000
_SOURCE_CHARS = 200
_TERMS_CHARS = 1000
_FALLBACK_CHARS = 500
_URL_CHARS = 2048
_SNIPPET_CHARS = (4000, 2000, 1000, 400, 0)
_DIGEST_SNIPPET_CHARS = 500
_DIGEST_ALERTS = 50
_UNTITLED = "(untitled)"

_CHAT_MARKS = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb", "<": "\uff1c", ">": "\uff1e"})


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Google Chat webhook payload (text fallback and one card) for alert."""
    return first_within(lambda snippet_chars: _alert(alert, snippet_chars), _SNIPPET_CHARS, MAX_BYTES)


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the Google Chat messages of a digest: one section per alert, split to stay within the limits."""
    sections = [_digest_section(alert) for alert in alerts]
    room = (_DIGEST_ALERTS, MAX_BYTES - size(_digest(rule, window, digest.widest(len(alerts)), [])))
    costs = [(1, size(section) + 1) for section in sections]
    return digest.split(sections, costs, room, lambda group, part: _digest(rule, window, part, group))


def _alert(alert: AlertMessage, snippet_chars: int) -> dict[str, Any]:
    """Return the payload of one alert, with at most snippet_chars of snippet HTML."""
    article = alert.article
    rule, title = one_line(alert.rule), one_line(article.title) or _UNTITLED
    widgets: list[dict[str, Any]] = [{"textParagraph": {"text": f"<b>{_link(article)}</b>"}}]
    snippet = fit(excerpt(alert), snippet_chars, _snippet)
    if snippet:
        widgets.append({"textParagraph": {"text": snippet}})
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    if terms:
        matched = {"topLabel": "Matched", "text": fit(terms, _TERMS_CHARS, _html), "wrapText": True}
        widgets.append({"decoratedText": matched})
    url = web_url(article.url)
    if url:
        button = {"text": "Open article", "onClick": {"openLink": {"url": url}}}
        widgets.append({"buttonList": {"buttons": [button]}})
    header = {"title": fit(rule or title, _RULE_CHARS, break_mentions)}
    meta = _meta(article)
    if meta:
        header["subtitle"] = meta
    card = {"header": header, "sections": [{"widgets": widgets}]}
    return {
        "fallbackText": fit(f"{rule}: {title}" if rule else title, _FALLBACK_CHARS, _chat),
        "cardsV2": [{"cardId": "alert", "card": card}],
    }


def _digest(rule: str, window: str, part: digest.Part, sections: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest message: a header with rule, window and part, then the alert sections."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = f"{fit(window, _RULE_CHARS, break_mentions)} · {part.label()}" if window else part.label()
    header = {"title": f"Digest: {fit(rule, _RULE_CHARS, break_mentions)}", "subtitle": line}
    return {
        "fallbackText": fit(f"{rule}: {line}", _FALLBACK_CHARS, _chat),
        "cardsV2": [{"cardId": "digest", "card": {"header": header, "sections": list(sections)}}],
    }


def _digest_section(alert: AlertMessage) -> dict[str, Any]:
    """Return the card section of one alert in a digest: linked title, source and time, short snippet."""
    article = alert.article
    lines = [f"<b>{_link(article)}</b>", html.escape(_meta(article), quote=False)]
    lines.append(fit(excerpt(alert), _DIGEST_SNIPPET_CHARS, _snippet))
    return {"widgets": [{"textParagraph": {"text": "<br>".join(line for line in lines if line)}}]}


def _link(article: ArticleRef) -> str:
    """Return the article title as HTML, linked when its URL is a usable web link."""
    label = fit(one_line(article.title) or _UNTITLED, _TITLE_CHARS, _html)
    url = web_url(article.url)
    href = html.escape(url, quote=True) if url else None
    return f'<a href="{href}">{label}</a>' if href and len(href) <= _URL_CHARS else label


def _meta(article: ArticleRef) -> str:
    """Return ``source · time`` as plain text, leaving out what is unknown."""
    parts = (fit(one_line(article.source), _SOURCE_CHARS, break_mentions), utc_label(article.published))
    return " · ".join(part for part in parts if part)


def _chat(s: str) -> str:
    """Return s with Chat's text syntax (marks, ``<...>`` links and mentions) made inert."""
    return break_mentions(s.translate(_CHAT_MARKS)).replace("](", "]\u200b(")


def _html(s: str) -> str:
    """Return s as card HTML: entities, line breaks as ``<br>``, mentions broken."""
    return break_mentions(html.escape(s, quote=False)).replace("\n", "<br>")


def _snippet(snippet: str) -> str:
    """Return the snippet as card HTML, matched words in bold."""
    out: list[str] = []
    for text, matched in split_marked(break_across_marks(snippet)):
        escaped = _html(text)
        out.append(f"<b>{escaped}</b>" if matched and text.strip() else escaped)
    return "".join(out)
