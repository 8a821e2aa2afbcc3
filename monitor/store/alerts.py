"""Recording alerts in the storing transaction, once per story, with one pending delivery per webhook.

``AlertWrites`` holds the steps of ``storage.Tx`` that record alerts, on the transaction's base (``tx.Writes``).
A rule that alerts once per story does not alert again on a copy of a story it alerted within the window: the
copy stays recorded on the story, and the alert's message lists the story's other articles.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from monitor.ingest.article import ParsedArticle
from monitor.store.message import OPENING_CHARS, AlertMessage, ArticleRef, Highlights, unmark
from monitor.store.models import Alert, Article, Delivery
from monitor.store.tx import Writes, table_of

_INSERT_CHUNK = 200
_STORY_COPIES = 50


@dataclass(frozen=True)
class StoredArticle:
    """A newly stored article and its row id."""

    id: int
    article: ParsedArticle


class Explained(Protocol):
    """What explains a rule's hit, worked out when first read (``monitor.matching.Hit``)."""

    @property
    def matched(self) -> tuple[str, ...]: ...
    @property
    def field(self) -> str: ...
    @property
    def snippet(self) -> str: ...
    @property
    def highlights(self) -> Highlights: ...


@dataclass(frozen=True)
class NewAlert:
    """A rule's hit on a stored article, and the webhooks it goes to.

    With ``hit``, the matched terms, field, snippet and highlights are the hit's, read only for the alerts that are
    recorded (``explained``): a copy of a story that a rule already alerted never works them out.
    """

    article: StoredArticle
    rule: str
    query: str
    matched: tuple[str, ...]
    field: str
    snippet: str
    webhooks: tuple[str, ...]
    digest_every: timedelta | None = None
    highlights: Highlights = ()
    # With a window, the rule alerts once per story: not again for a copy of a story it alerted within the window.
    story_id: int | None = None
    story_window: timedelta | None = None
    hit: Explained | None = None

    def explained(self) -> NewAlert:
        """Return the alert with the matched terms, field, snippet and highlights of its hit, when it has one."""
        hit = self.hit
        if hit is None:
            return self
        return replace(
            self, matched=hit.matched, field=hit.field, snippet=hit.snippet, highlights=hit.highlights, hit=None
        )


class AlertWrites(Writes):
    """The alert-recording steps of a write transaction."""

    def record_alerts(
        self, alerts: Sequence[NewAlert], now: datetime, lone_stories: Set[int] = frozenset()
    ) -> list[AlertMessage]:
        """Insert alerts that are new per (rule, article) and one pending delivery per webhook; return them.

        ``lone_stories`` are stories this transaction opened for one article: no earlier alert can be on them, and
        they list no other copies.
        """
        kept: list[NewAlert] = []
        alerted: set[tuple[str, int]] = set()
        earlier = self._last_story_alerts(
            [a for a in alerts if a.story_window is not None and a.story_id not in lone_stories], now
        )
        for alert in alerts:
            story = alert.story_id
            if story is not None and alert.story_window is not None:
                if (alert.rule, story) in alerted:
                    continue
                last = earlier.get((alert.rule, story))
                if last is not None and last >= now - alert.story_window:
                    continue  # a copy of a story the rule already alerted: it stays recorded on the story
                alerted.add((alert.rule, story))
            kept.append(alert.explained())
        inserted: list[tuple[int, NewAlert]] = []
        deliveries: list[dict[str, Any]] = []
        for start in range(0, len(kept), _INSERT_CHUNK):
            chunk = kept[start : start + _INSERT_CHUNK]
            rows = [
                {
                    "rule": alert.rule,
                    "query": alert.query,
                    "article_id": alert.article.id,
                    "matched": list(alert.matched),
                    "field": alert.field,
                    "snippet": alert.snippet,
                    "highlights": [list(span) for span in alert.highlights],
                    "created_at": now,
                }
                for alert in chunk
            ]
            returned = self.insert_rows(table_of(Alert), rows, ["rule", "article_id"], ["id", "rule", "article_id"])
            ids = {(rule, article): alert_id for alert_id, rule, article in returned}
            for alert in chunk:
                alert_id = ids.get((alert.rule, alert.article.id))
                if alert_id is None:
                    continue  # recorded before
                inserted.append((alert_id, alert))
                due, digest_key = now, None
                if alert.digest_every is not None:
                    due, digest_key = digest_window(alert.rule, alert.digest_every, now)
                deliveries.extend(
                    {
                        "uid": f"msg_{uuid.uuid4().hex}",
                        "alert_id": alert_id,
                        "webhook": webhook,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": due,
                        "created_at": now,
                        "queued_at": now,
                        "digest_key": digest_key,
                    }
                    for webhook in alert.webhooks
                )
        self.insert_rows(table_of(Delivery), deliveries)
        copies = story_copies(self.session, [a.article.id for _, a in inserted if a.story_id not in lone_stories])
        return [_new_message(alert_id, alert, now, copies.get(alert.article.id, ())) for alert_id, alert in inserted]

    def _last_story_alerts(self, alerts: Sequence[NewAlert], now: datetime) -> dict[tuple[str, int], datetime]:
        """Return when each (rule, story) of these once-per-story alerts was last alerted, within the longest of
        their windows, in one query per chunk of stories."""
        stories = sorted({a.story_id for a in alerts if a.story_id is not None})
        windows = [a.story_window for a in alerts if a.story_window is not None]
        if not stories or not windows:
            return {}
        rules = sorted({a.rule for a in alerts})
        alert, article = table_of(Alert), table_of(Article)
        last: dict[tuple[str, int], datetime] = {}
        for start in range(0, len(stories), _INSERT_CHUNK):
            query = (
                sql_select(alert.c.rule, article.c.story_id, func.max(alert.c.created_at))
                .join(article, article.c.id == alert.c.article_id)
                .where(self.ids_in(article.c.story_id, stories[start : start + _INSERT_CHUNK]))
                .where(self.ids_in(alert.c.rule, rules), alert.c.created_at >= now - max(windows))
                .group_by(alert.c.rule, article.c.story_id)
            )
            last.update(((rule, story), at) for rule, story, at in self.session.execute(query))
        return last


def digest_window(rule: str, every: timedelta, now: datetime) -> tuple[datetime, str]:
    """Return when the digest window holding ``now`` closes, and the key its deliveries share."""
    span = every.total_seconds()
    start = datetime.fromtimestamp(now.timestamp() // span * span, tz=UTC)
    return start + every, f"{rule}|{start.isoformat()}"


def story_copies(session: Session, article_ids: Sequence[int]) -> dict[int, tuple[ArticleRef, ...]]:
    """Return, for each of these articles, the other articles of its story (oldest first, at most 50)."""
    stories_of: dict[int | None, int | None] = {}
    for start in range(0, len(article_ids), _INSERT_CHUNK):
        chunk = article_ids[start : start + _INSERT_CHUNK]
        stories_of.update(session.exec(select(Article.id, Article.story_id).where(col(Article.id).in_(chunk))).all())
    wanted = {story for story in stories_of.values() if story is not None}
    if not wanted:
        return {}
    members: dict[int, list[tuple[int, ArticleRef]]] = {}
    query = (
        sql_select(
            col(Article.id),
            col(Article.story_id),
            col(Article.title),
            col(Article.url),
            col(Article.source),
            col(Article.published_at),
        )
        .where(col(Article.story_id).in_(wanted))
        .order_by(col(Article.id))
    )
    for row_id, story, title, url, source, published in session.execute(query):
        members.setdefault(story or 0, []).append((row_id, ArticleRef(title, url, source, published, None)))
    return {
        article_id: tuple(ref for other, ref in members.get(story, []) if other != article_id)[:_STORY_COPIES]
        for article_id, story in stories_of.items()
        if article_id is not None and story is not None
    }


def _new_message(alert_id: int, alert: NewAlert, now: datetime, also_in: tuple[ArticleRef, ...] = ()) -> AlertMessage:
    article = alert.article.article
    return AlertMessage(
        id=alert_id,
        rule=alert.rule,
        query=alert.query,
        article=ArticleRef(article.title, article.url, article.source, article.published, article.language),
        snippet=alert.snippet,
        matched=alert.matched,
        created_at=now,
        field=alert.field,
        also_in=also_in,
        highlights=alert.highlights,
        opening=article.text[:OPENING_CHARS],
    )


def message_of(alert: Alert, article: Article, also_in: tuple[ArticleRef, ...] = ()) -> AlertMessage:
    """Return the message of a stored alert (one stored with ``**`` marks in its snippet read as highlights)."""
    if alert.highlights is None:
        snippet, highlights = unmark(alert.snippet)
    else:
        snippet, highlights = alert.snippet, tuple((start, end) for start, end in alert.highlights)
    return AlertMessage(
        id=alert.id or 0,
        rule=alert.rule,
        query=alert.query,
        article=ArticleRef(article.title, article.url, article.source, article.published_at, article.language),
        snippet=snippet,
        matched=tuple(alert.matched),
        created_at=alert.created_at,
        field=alert.field,
        also_in=also_in,
        highlights=highlights,
        opening=article.text[:OPENING_CHARS],
    )
