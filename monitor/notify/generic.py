"""Generic JSON webhook: the alert as a plain, stable JSON object for any receiver.

Shape (times are ISO 8601 UTC such as ``2022-06-15T10:00:00Z``; unknown values are ``null``)::

    {"type": "monitor.alert", "id": 42,
     "rule": {"name": ..., "query": ...},
     "article": {"title": ..., "url": ..., "source": ..., "published": ..., "language": ...},
     "snippet": "... **matched words** ...", "matched": [...], "created_at": ...}

Text is only passed through ``clean``: it travels as JSON, and escaping it for display is the receiver's job.
The snippet keeps its ``**word**`` marks.
"""

from __future__ import annotations

from typing import Any

from monitor.notify.message import AlertMessage
from monitor.notify.text import clean, iso

TYPE = "monitor.alert"


def render(alert: AlertMessage) -> dict[str, Any]:
    """Return the generic JSON object for alert."""
    article = alert.article
    return {
        "type": TYPE,
        "id": alert.id,
        "rule": {"name": clean(alert.rule), "query": clean(alert.query)},
        "article": {
            "title": clean(article.title),
            "url": None if article.url is None else clean(article.url),
            "source": clean(article.source),
            "published": iso(article.published),
            "language": None if article.language is None else clean(article.language),
        },
        "snippet": clean(alert.snippet),
        "matched": [clean(term) for term in alert.matched],
        "created_at": iso(alert.created_at),
    }
