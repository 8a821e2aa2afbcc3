"""Replay one rule over stored articles and say what it would have alerted; nothing is sent or written.

Snippets are printed with their matches in ``**``, as ``monitor rules test`` prints them.

``replay`` reads the articles one by one (the caller streams them from the database), counts every match and
keeps the first ``limit`` of them for display; ``as_text`` and ``as_json`` render the result. An article read
with its page's full text is matched on it as it was when stored (``article.readable_text``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.delivery.notify.text import iso
from monitor.ingest.article import readable_text
from monitor.matching import Hit, Matcher
from monitor.matching.snippet import marked
from monitor.store.storage import SavedArticle


@dataclass(frozen=True)
class Match:
    """A stored article and the rule's hit on it."""

    article: SavedArticle
    hit: Hit


@dataclass
class Report:
    """How a replay went: the articles read, how many matched, and the matches kept for display."""

    scanned: int = 0
    matched: int = 0
    matches: list[Match] = field(default_factory=list)
    complete: bool = True  # False when the replay stopped at its deadline, before the oldest article


def replay(
    matcher: Matcher, articles: Iterable[SavedArticle], limit: int | None = None, until: float | None = None
) -> Report:
    """Return the matches of the matcher's first hit on each article, all counted, at most ``limit`` kept.

    With ``until`` (a ``time.monotonic`` deadline), the replay stops there: the report says it is not complete.
    """
    report = Report()
    for article in articles:
        if until is not None and time.monotonic() > until:
            report.complete = False
            break
        report.scanned += 1
        text = readable_text(article.text, article.full_text)
        hits = matcher.match(title=article.title, text=text, language=article.language)
        if not hits:
            continue
        report.matched += 1
        if limit is None or len(report.matches) < limit:
            report.matches.append(Match(article, hits[0].settled()))  # the other hits are never worked out
    return report


def as_json(match: Match) -> dict[str, Any]:
    """Return one match as a JSON object (times in ISO 8601 UTC)."""
    article, hit = match.article, match.hit
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "published": iso(article.published),
        "fetched": iso(article.fetched),
        "matched": list(hit.matched),
        "field": hit.field,
        "snippet": marked(hit.snippet, hit.highlights),
    }


def as_text(report: Report, since: datetime) -> str:
    """Return the matches as readable blocks (title; source, date and link; snippet), then a count line."""
    blocks = []
    for match in report.matches:
        article = match.article
        when = (article.published or article.fetched).strftime("%Y-%m-%d %H:%M UTC")
        where = " · ".join(part for part in (article.source, when, article.url) if part)
        blocks.append(f"{article.title}\n  {where}\n  {marked(match.hit.snippet, match.hit.highlights)}\n")
    scanned = "article" if report.scanned == 1 else "articles"
    count = f"{report.matched} of {report.scanned} {scanned} matched since {since:%Y-%m-%d %H:%M} UTC"
    if len(report.matches) < report.matched:
        count += f" ({len(report.matches)} listed)"
    return "\n".join([*blocks, count])
