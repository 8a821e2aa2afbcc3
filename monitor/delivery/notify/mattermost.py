"""Mattermost incoming-webhook payload: a Markdown ``text`` line and one Slack-style attachment.

Layout: ``text`` is ``**rule** · [title](url)``; the attachment's Markdown ``text`` is the snippet (matched
words in ``**bold**``), or the text's first sentence when the match is in the title (``text.excerpt``), and its
fields give the source, the publication time and the matched terms.
``fallback`` is the plain summary Mattermost uses where it cannot show the attachment.

Escaping, applied to all article text (and the rule name):

- ``&``, ``<`` and ``>`` become entities, as for Slack: Mattermost turns ``<!channel>`` in webhook text into a
  real ``@channel`` and ``<url|label>`` into a link, while Markdown shows the entities as the characters;
- Markdown marks get a backslash: ``\\``, ``*``, ``_``, ``~``, backtick, ``|``, ``[`` and ``]`` anywhere, and
  ``#``, ``-``, ``+``, ``=`` and ``1.`` at the start of a line (headings, lists, rules);
- every ``@channel``, ``@here``, ``@all`` and ``@username`` is split with U+200B: Mattermost's server finds
  mentions in the raw text, and a zero-width space ends the word, so nobody is notified.

Limits: ``TEXT_LIMIT`` is the message length every server version accepts (Mattermost 5.0 and later take
16,383 characters and split longer webhook text into several posts); ``MAX_BYTES`` is the request body limit
servers applied by default before 9.x (``MaximumPayloadSizeBytes``, 300 kB since).

Digest: ``text`` names the rule, the window and the part (``5 alerts, part 1/2``); each alert is one
attachment (linked title, source and time, short snippet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import size
from monitor.delivery.notify.text import bold_marked, break_mentions, excerpt, fit, one_line, utc_label, web_url
from monitor.store.message import AlertMessage

TEXT_LIMIT = 4000
MAX_BYTES = 100_000

# Layout budgets (not platform limits): short lines, the attachment mostly snippet.
_RULE_CHARS = 200
_TITLE_CHARS = 300
_SOURCE_CHARS = 200
_SNIPPET_CHARS = 3000
_TERMS_CHARS = 1000
_URL_CHARS = 2048
_DIGEST_SNIPPET_CHARS = 300
_DIGEST_ATTACHMENTS = 50
_COLOR = "#1c58d9"

_MARKDOWN = re.compile(r"[\\*_~`|\[\]]")
_LINE_START = re.compile(r"^([^\S\n]*)(?:([#+=-])|(\d+)([.)]))", re.MULTILINE)
_UNTITLED = "(untitled)"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Mattermost webhook payload (Markdown text and one attachment) for alert."""
    article = alert.article
    rule = one_line(alert.rule)
    fields = [
        {"title": "Source", "value": fit(one_line(article.source), _SOURCE_CHARS, _markdown), "short": True},
        {"title": "Published", "value": utc_label(article.published), "short": True},
        {"title": "Matched", "value": fit(_terms(alert.matched), _TERMS_CHARS, _markdown), "short": False},
    ]
    attachment: dict[str, Any] = {
        "fallback": _fallback(rule, article.title),
        "color": _COLOR,
        "text": fit(excerpt(alert), _SNIPPET_CHARS, _snippet),
        "fields": [field for field in fields if field["value"]],
    }
    return {"text": _headline(rule, article.title, article.url), "attachments": [attachment]}


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the Mattermost messages of a digest: one attachment per alert, split to stay within the limits."""
    attachments = [_digest_attachment(alert) for alert in alerts]
    room = (_DIGEST_ATTACHMENTS, MAX_BYTES - size(_digest(rule, window, digest.widest(len(alerts)), [])))
    costs = [(1, size(attachment) + 1) for attachment in attachments]
    return digest.split(attachments, costs, room, lambda group, part: _digest(rule, window, part, group))


def _digest(rule: str, window: str, part: digest.Part, attachments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest message: a line with rule, window and part, then the alert attachments."""
    rule, window = one_line(rule), one_line(window)
    head = [f"**{fit(rule, _RULE_CHARS, _markdown)}**" if rule else "", fit(window, _RULE_CHARS, _markdown)]
    text = " · ".join([*(item for item in head if item), part.label()])
    return {"text": fit(text, TEXT_LIMIT, str), "attachments": list(attachments)}


def _digest_attachment(alert: AlertMessage) -> dict[str, Any]:
    """Return the attachment of one alert in a digest: linked title, source and time, short snippet."""
    article = alert.article
    source = fit(one_line(article.source), _SOURCE_CHARS, _markdown)
    meta = " · ".join(item for item in (source, utc_label(article.published)) if item)
    snippet = fit(excerpt(alert), _DIGEST_SNIPPET_CHARS, _snippet)
    lines = [f"**{_link(article.title, article.url)}**", meta, snippet]
    return {
        "fallback": _fallback(one_line(alert.rule), article.title),
        "color": _COLOR,
        "text": "\n".join(line for line in lines if line),
    }


def _headline(rule: str, title: str, url: str | None) -> str:
    """Return the message text: the rule in bold, then the linked title."""
    link = _link(title, url)
    return f"**{fit(rule, _RULE_CHARS, _markdown)}** · {link}" if rule else link


def _link(title: str, url: str | None) -> str:
    """Return the title as a Markdown link to url, or as text when url is not a usable web link."""
    label = fit(one_line(title) or _UNTITLED, _TITLE_CHARS, _markdown)
    target = web_url(url)
    # Percent-encode parentheses so that the first ")" of the URL does not end the link.
    target = target.replace("(", "%28").replace(")", "%29") if target else None
    return f"[{label}]({target})" if target and len(target) <= _URL_CHARS else label


def _fallback(rule: str, title: str) -> str:
    """Return the plain summary of an alert, entities and broken mentions only."""
    headline = one_line(title) or _UNTITLED
    return fit(f"{rule}: {headline}" if rule else headline, _RULE_CHARS + _TITLE_CHARS, _plain)


def _terms(matched: tuple[str, ...]) -> str:
    """Return the matched terms as one comma-separated line."""
    return ", ".join(term for term in (one_line(t) for t in matched) if term)


def _escape(s: str) -> str:
    """Return s with Slack's control characters as entities."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(s: str) -> str:
    """Return s with entities for ``&``, ``<``, ``>`` and mentions broken."""
    return break_mentions(_escape(s))


def _inline(s: str) -> str:
    """Return s with entities, Markdown marks backslash-escaped and mentions broken."""
    return break_mentions(_MARKDOWN.sub(r"\\\g<0>", _escape(s)))


def _line_starts(s: str) -> str:
    """Return s with heading, list and rule marks at the start of a line backslash-escaped."""
    return _LINE_START.sub(_escape_line_start, s)


def _escape_line_start(match: re.Match[str]) -> str:
    """Return the matched line start with its mark escaped (``\\#``, ``\\-``, ``1\\.``)."""
    indent, mark, number, dot = match.groups()
    return f"{indent}\\{mark}" if mark else f"{indent}{number}\\{dot}"


def _markdown(s: str) -> str:
    """Return s as inert Mattermost Markdown."""
    return _line_starts(_inline(s))


def _snippet(snippet: str) -> str:
    """Return the snippet as Mattermost Markdown, matched words in bold."""
    return _line_starts(bold_marked(snippet, _inline))
