"""Slack incoming-webhook payload (Block Kit); Mattermost accepts the same JSON (it shows ``text``).

Layout: a ``header`` with the rule (plain text), a ``section`` in mrkdwn (the linked title, source and date, and
as a quote the snippet, or the text's first sentence when the match is in the title: ``text.excerpt``) and a
``context`` line with the matched terms: the title and the rule appear once each. ``text`` (``rule: title``) is
the fallback that notifications show.

Escaping, applied to all article text:

- ``&``, ``<`` and ``>`` become entities, so ``<!channel>``, ``<@U123>`` or ``<http://x|y>`` in a headline
  stay text; a ``>`` that starts a line gets a soft hyphen in front so it does not open a quote;
- mrkdwn has no escape for ``*``, ``_``, ``~`` and backtick, so they become lookalikes
  (U+2217, U+02CD, U+223C, U+02CB);
- ``|`` in a link label becomes U+2223, since Slack ends the URL at the first ``|``;
- ``@everyone``, ``@here``, ``@channel``, ``@all`` and ``@name`` are split with U+200B (Mattermost shows
  ``text`` and finds mentions in it); mrkdwn objects are also sent with ``verbatim: true`` so Slack neither
  parses bare mentions nor linkifies channel names.

The quote's matched words become Slack bold ``*word*``; asterisks of the article's own are lookalikes, as above.

Digest: a header and a context line (window, ``5 alerts, part 1/2``), then one section per alert (linked title,
source and date, a short quote); a message holds at most ``MAX_BLOCKS`` blocks and ``MAX_BYTES`` bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import size
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

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
CONTEXT_LIMIT = 3000
TEXT_LIMIT = 3000
MAX_BLOCKS = 50
# Slack documents no byte limit for a webhook body; it cuts text past 40,000 characters, used here as a ceiling.
MAX_BYTES = 40_000

# Layout budgets (not platform limits): leave most of the section to the snippet.
_TITLE_CHARS = 300
_SOURCE_CHARS = 200
_URL_CHARS = 1000
_DIGEST_SNIPPET_CHARS = 300

_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_LEADING_QUOTE = re.compile(r"^(?=&gt;|\uff1e)", re.MULTILINE)
_UNTITLED = "(untitled)"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the Slack webhook payload (text fallback and Block Kit blocks) for alert."""
    rule, title = one_line(alert.rule), one_line(alert.article.title)
    headline = f"{rule}: {title or _UNTITLED}" if rule else title or _UNTITLED
    blocks: list[dict[str, Any]] = []
    if rule:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": fit(rule, HEADER_LIMIT, _plain)}})
    blocks.append({"type": "section", "text": _verbatim(_section(alert, SECTION_LIMIT))})
    terms = ", ".join(term for term in (one_line(t) for t in alert.matched) if term)
    if terms:
        blocks.append({"type": "context", "elements": [_verbatim(_context(terms))]})
    return {"text": fit(headline, TEXT_LIMIT, _mrkdwn), "blocks": blocks}


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the Slack messages of a digest: one section per alert, split to stay within Slack's limits."""
    sections = [{"type": "section", "text": _verbatim(_section(alert, _DIGEST_SNIPPET_CHARS))} for alert in alerts]
    frame = _digest(rule, window, digest.widest(len(alerts)), [])
    room = (MAX_BLOCKS - len(frame["blocks"]), MAX_BYTES - size(frame))
    costs = [(1, size(section) + 1) for section in sections]
    return digest.split(sections, costs, room, lambda group, part: _digest(rule, window, part, group))


def _digest(rule: str, window: str, part: digest.Part, sections: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest message: header, context line with window and part, then the alert sections."""
    rule, window = one_line(rule) or "(unnamed)", one_line(window)
    line = f"{window} · {part.label()}" if window else part.label()
    return {
        "text": fit(f"{rule}: {line}", TEXT_LIMIT, _mrkdwn),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": fit(f"Digest: {rule}", HEADER_LIMIT, _plain)}},
            {"type": "context", "elements": [_verbatim(fit(line, CONTEXT_LIMIT, _mrkdwn))]},
            *sections,
        ],
    }


def _verbatim(text: str) -> dict[str, Any]:
    """Return a mrkdwn text object that Slack will not scan for mentions or channel names."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(alert: AlertMessage, quote_chars: int) -> str:
    """Return the section text: linked title, source and date, then at most quote_chars of snippet quote."""
    article = alert.article
    label = fit(one_line(article.title) or _UNTITLED, _TITLE_CHARS, _label)
    url = web_url(article.url)
    link = _escape(url) if url else None
    first = f"*<{link}|{label}>*" if link and len(link) <= _URL_CHARS else f"*{label}*"
    source = fit(one_line(article.source), _SOURCE_CHARS, _mrkdwn)
    meta = " · ".join(part for part in (source, utc_label(article.published)) if part)
    head = f"{first}\n{meta}" if meta else first
    quote = fit(excerpt(alert), min(quote_chars, SECTION_LIMIT - len(head) - 1), _quote)
    return f"{head}\n{quote}" if quote else head


def _context(terms: str) -> str:
    """Return the context line naming the matched terms."""
    prefix = "Matched: "
    return prefix + fit(terms, CONTEXT_LIMIT - len(prefix), _mrkdwn)


def _escape(s: str) -> str:
    """Return s with Slack's control characters as entities."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(s: str) -> str:
    """Return s escaped for a plain_text object."""
    return break_mentions(_escape(s))


def _inline(s: str) -> str:
    """Return s escaped for mrkdwn: entities, lookalikes for formatting marks, mentions broken."""
    return break_mentions(_escape(s).translate(_LOOKALIKES))


def _mrkdwn(s: str) -> str:
    """Return s escaped for mrkdwn, with no line opening a quote."""
    return _LEADING_QUOTE.sub("\u00ad", _inline(s))


def _label(s: str) -> str:
    """Return s escaped for the label of a ``<url|label>`` link."""
    return _mrkdwn(s).replace("|", "\u2223")


def _quote(snippet: str) -> str:
    """Return the snippet in mrkdwn as a block quote, matched words in bold."""
    pieces = split_marked(break_across_marks(snippet))
    out: list[str] = []
    for index, (text, matched) in enumerate(pieces):
        escaped = _inline(text)
        core = escaped.strip()
        if not matched or not core:
            out.append(escaped)
            continue
        lead, trail = escaped[: len(escaped) - len(escaped.lstrip())], escaped[len(escaped.rstrip()) :]
        before = out[-1][-1:] if out else ""
        after = pieces[index + 1][0][:1] if index + 1 < len(pieces) else ""
        # Slack only sees bold at word edges; inside a word, a zero-width space makes the edge.
        left = "\u200b" if before.isalnum() and not lead else lead
        right = "\u200b" if after.isalnum() and not trail else trail
        out.append(f"{left}*{core}*{right}")
    text = _LEADING_QUOTE.sub("\u00ad", "".join(out))
    return "\n".join(f">{line}" for line in text.split("\n")) if text else ""
