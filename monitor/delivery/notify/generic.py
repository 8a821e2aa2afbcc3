"""Generic JSON webhook: the alert as a plain, stable JSON object for any receiver.

Shape (times are ISO 8601 UTC such as ``2022-06-15T10:00:00Z``; unknown values are ``null``)::

    {"type": "monitor.alert", "id": 42,
     "rule": {"name": ..., "query": ...},
     "article": {"title": ..., "url": ..., "source": ..., "published": ..., "language": ...},
     "snippet": "... matched words ...", "highlights": [[start, end], ...], "field": "text",
     "matched": [...], "created_at": ...,
     "also_in": [{"title": ..., "url": ..., "source": ..., "published": ...}, ...]}

``snippet`` is plain text, as the article writes it, from the ``field`` that matched (``title`` or ``text``);
``highlights`` are the ``[start, end]`` offsets of its matched words, counted in characters (Unicode code points,
as Python and Go's ``[]rune`` count them, not UTF-16 units or bytes), sorted and apart: ``snippet[start:end]`` is a
matched word. An asterisk or underscore in the snippet is the article's own.

``also_in`` lists the other articles of the alert's story (the same story from other outlets) known when it is
sent, at most ``ALSO_IN_LIMIT`` of them; it is an empty list when there are none.

Text is only passed through ``clean``: it travels as JSON, and escaping it for display is the receiver's job.
The highlights are counted on the snippet as sent, cleaned and cut. So that a body stays under ``MAX_BYTES``,
each text is cut (on a grapheme boundary, with an ellipsis) past ``TEXT_LIMIT`` characters, a matched term past
``TERM_LIMIT`` and the list past ``TERMS_LIMIT`` terms; a URL longer than ``TEXT_LIMIT`` is ``null`` rather than
cut.

URLs (the article's and each ``also_in`` one) are only ever ``http`` or ``https`` URLs with a host and no spaces
or control characters, passed as the feed wrote them; anything else (``javascript:``, ``data:``, ``file:``, a
relative path) is ``null``, so a receiver that turns the URL into a link cannot be made to run a script.

Digest (one rule's alerts of a window; split into parts when the body would pass ``MAX_BYTES``)::

    {"type": "monitor.digest", "rule": {"name": ...}, "window": ...,
     "part": {"number": 1, "count": 2}, "total": 300, "alerts": [<alert objects as above>]}

With a ``secret``, requests are signed per Standard Webhooks (see ``signing``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from monitor.delivery.notify import digest
from monitor.delivery.notify.body import size
from monitor.delivery.notify.text import clean, iso, marked, truncate, unmarked
from monitor.store.message import AlertMessage, ArticleRef

TYPE = "monitor.alert"
DIGEST_TYPE = "monitor.digest"

# Many receivers sit behind a proxy that refuses bodies past 1 MiB (nginx's default client_max_body_size).
MAX_BYTES = 1_000_000
# With at most 4 UTF-8 bytes per character, these keep an alert's body near 700 kB at worst.
TEXT_LIMIT = 20_000
TERM_LIMIT = 500
TERMS_LIMIT = 100
# The other articles of a story listed under ``also_in``, each text cut (a URL dropped) past ALSO_IN_TEXT_LIMIT:
# at most some 240 kB more.
ALSO_IN_LIMIT = 20
ALSO_IN_TEXT_LIMIT = 1_000

_SCHEMES = ("http", "https")
# Browsers drop tabs and line breaks inside a URL ("java\tscript:"), so a URL with any of them is refused whole.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the generic JSON object for alert."""
    article = alert.article
    snippet, highlights = unmarked(truncate(clean(marked(alert.snippet, alert.highlights)), TEXT_LIMIT))
    return {
        "type": TYPE,
        "id": alert.id,
        "rule": {"name": _text(alert.rule), "query": _text(alert.query)},
        "article": {
            "title": _text(article.title),
            "url": _url(article.url, TEXT_LIMIT),
            "source": _text(article.source),
            "published": iso(article.published),
            "language": None if article.language is None else truncate(clean(article.language), TERM_LIMIT),
        },
        "snippet": snippet,
        "highlights": highlights,
        "field": alert.field,
        "matched": [truncate(clean(term), TERM_LIMIT) for term in alert.matched[:TERMS_LIMIT]],
        "created_at": iso(alert.created_at),
        "also_in": [_ref(other) for other in alert.also_in[:ALSO_IN_LIMIT]],
    }


def _ref(article: ArticleRef) -> dict[str, Any]:
    """Return the title, link, source and publication time of another article of the alert's story."""
    return {
        "title": truncate(clean(article.title), ALSO_IN_TEXT_LIMIT),
        "url": _url(article.url, ALSO_IN_TEXT_LIMIT),
        "source": truncate(clean(article.source), ALSO_IN_TEXT_LIMIT),
        "published": iso(article.published),
    }


def render_digest(alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the digest objects for a rule's alerts of a window, split to stay within ``MAX_BYTES`` each."""
    objects = [render(alert) for alert in alerts]
    room = (MAX_BYTES - size(_digest(rule, window, digest.widest(len(alerts)), [])),)
    costs = [(size(obj) + 1,) for obj in objects]
    return digest.split(objects, costs, room, lambda group, part: _digest(rule, window, part, group))


def _digest(rule: str, window: str, part: digest.Part, alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one digest object holding the given alert objects."""
    return {
        "type": DIGEST_TYPE,
        "rule": {"name": _text(rule)},
        "window": _text(window),
        "part": {"number": part.number, "count": part.count},
        "total": part.alerts,
        "alerts": list(alerts),
    }


def _text(s: str) -> str:
    """Return s cleaned and cut to ``TEXT_LIMIT`` characters."""
    return truncate(clean(s), TEXT_LIMIT)


def _url(url: str | None, limit: int) -> str | None:
    """Return url cleaned if it is an http(s) URL with a host of at most limit characters, else None."""
    if url is None:
        return None
    url = clean(url)
    if len(url) > limit or _SPACE_OR_CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # an impossible port raises too
    except ValueError:
        return None
    return url if parts.scheme.lower() in _SCHEMES and host else None
