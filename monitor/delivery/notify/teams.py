"""Microsoft Teams payload for a Workflows (Power Automate) webhook: one Adaptive Card 1.4 in a message.

Shape: ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <card>}]}``. The card shows the rule, the title (bold, large, and a link when the URL is a usable web
link), source and time, the snippet with matched words in bold (or the text's first sentence when the match is
in the title: ``text.excerpt``), the matched terms, and an "Open article" button for the link.

Escaping: all article text goes into ``TextRun`` elements of ``RichTextBlock``s, which Teams shows as typed,
with no Markdown (``TextBlock`` would read ``[x](url)`` as a link and ``**`` as bold); bold comes from the
run's ``weight``. Mentions in Teams need ``<at>`` tags *and* an entity list, which the card never has;
``<at>``, ``@here`` and the like are still split with U+200B (``break_mentions``) in case the text is copied
elsewhere.

Limits: Teams refuses messages over about 28 KB (``MAX_BYTES``, measured on the encoded body); the snippet is
shortened until the card fits, since every bold word adds a run of its own. Workflows answers
``202 Accepted``: the flow has the message, but posting it to the channel happens later.

Digest: the card's head names the rule, the window and the part (``5 alerts, part 1/2``); each alert is one
container (title, source and time, short snippet) that opens the article when clicked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import first_within, size
from monitor.delivery.notify.text import break_mentions, excerpt, fit, one_line, split_marked, utc_label, web_url
from monitor.store.message import AlertMessage, ArticleRef

CARD_VERSION = "1.4"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28_000

# Layout budgets (not platform limits).
_RULE_CHARS = 200
_TITLE_CHARS = 300
_SOURCE_CHARS = 200
_TERMS_CHARS = 1000
_FALLBACK_CHARS = 500
_SNIPPET_CHARS = (3000, 1500, 750, 300, 0)
_DIGEST_SNIPPET_CHARS = 300
_DIGEST_ALERTS = 50
_UNTITLED = "(untitled)"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Teams Workflows payload (one Adaptive Card) for alert."""
    return first_within(lambda snippet_chars: _message(_card(alert, snippet_chars)), _SNIPPET_CHARS, MAX_BYTES)


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the Teams messages of a digest: one container per alert, split to stay within ``MAX_BYTES``."""
    containers = [_digest_container(alert) for alert in alerts]
    room = (_DIGEST_ALERTS, MAX_BYTES - size(_digest(rule, window, digest.widest(len(alerts)), [])))
    costs = [(1, size(container) + 1) for container in containers]
    return digest.split(containers, costs, room, lambda group, part: _digest(rule, window, part, group))


def _message(card: dict[str, Any]) -> dict[str, Any]:
    """Return the Workflows message that carries card."""
    return {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _card(alert: AlertMessage, snippet_chars: int) -> dict[str, Any]:
    """Return the Adaptive Card of one alert, with at most snippet_chars of snippet."""
    article = alert.article
    rule, title = one_line(alert.rule), one_line(article.title) or _UNTITLED
    body: list[dict[str, Any]] = []
    if rule:
        body.append(_block([_run(fit(rule, _RULE_CHARS, break_mentions), weight="Bolder", isSubtle=True)]))
    url = web_url(article.url)
    heading = _run(fit(title, _TITLE_CHARS, break_mentions), size="Large", weight="Bolder")
    if url:
        heading["selectAction"] = {"type": "Action.OpenUrl", "url": url}
    body.append(_block([heading]))
    meta = _meta(article)
    if meta:
        body.append(_block([_run(meta, size="Small", isSubtle=True)]))
    snippet = _snippet_runs(fit(excerpt(alert), snippet_chars, break_mentions))
    if snippet:
        body.append(_block(snippet))
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    if terms:
        matched = [_run("Matched: ", weight="Bolder"), _run(fit(terms, _TERMS_CHARS, break_mentions))]
        body.append(_block(matched, spacing="Medium"))
    card = _card_frame(f"{rule}: {title}" if rule else title, body)
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open article", "url": url}]
    return card


def _digest(rule: str, window: str, part: digest.Part, containers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest message: a head with rule, window and part, then the alert containers."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = f"{fit(window, _RULE_CHARS, break_mentions)} · {part.label()}" if window else part.label()
    head = [
        _block([_run(f"Digest: {fit(rule, _RULE_CHARS, break_mentions)}", size="Large", weight="Bolder")]),
        _block([_run(line, size="Small", isSubtle=True)]),
    ]
    return _message(_card_frame(f"{rule}: {line}", [*head, *containers]))


def _digest_container(alert: AlertMessage) -> dict[str, Any]:
    """Return the container of one alert in a digest: title, source and time, short snippet."""
    article = alert.article
    title = fit(one_line(article.title) or _UNTITLED, _TITLE_CHARS, break_mentions)
    items = [_block([_run(title, weight="Bolder", color="Accent")])]
    meta = _meta(article)
    if meta:
        items.append(_block([_run(meta, size="Small", isSubtle=True)]))
    snippet = _snippet_runs(fit(excerpt(alert), _DIGEST_SNIPPET_CHARS, break_mentions))
    if snippet:
        items.append(_block(snippet))
    container: dict[str, Any] = {"type": "Container", "separator": True, "spacing": "Medium", "items": items}
    url = web_url(article.url)
    if url:
        container["selectAction"] = {"type": "Action.OpenUrl", "title": "Open article", "url": url}
    return container


def _card_frame(summary: str, body: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an Adaptive Card with body, its fallback text a plain summary."""
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": fit(summary, _FALLBACK_CHARS, break_mentions),
        "msteams": {"width": "Full"},
        "body": body,
    }


def _meta(article: ArticleRef) -> str:
    """Return ``source · time`` for an article, leaving out what is unknown."""
    parts = (fit(one_line(article.source), _SOURCE_CHARS, break_mentions), utc_label(article.published))
    return " · ".join(part for part in parts if part)


def _block(inlines: list[dict[str, Any]], **style: Any) -> dict[str, Any]:
    """Return a RichTextBlock of text runs."""
    return {"type": "RichTextBlock", "inlines": inlines, **style}


def _run(text: str, **style: Any) -> dict[str, Any]:
    """Return a TextRun: text shown as typed, styled by the keyword arguments."""
    return {"type": "TextRun", "text": text, **style}


def _snippet_runs(snippet: str) -> list[dict[str, Any]]:
    """Return text runs for a snippet, matched words in bold."""
    runs: list[dict[str, Any]] = []
    for text, matched in split_marked(snippet):
        if matched and text.strip():
            runs.append(_run(text, weight="Bolder"))
        elif runs and "weight" not in runs[-1]:
            runs[-1]["text"] += text
        else:
            runs.append(_run(text))
    return runs
