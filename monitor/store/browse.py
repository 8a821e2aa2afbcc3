"""What the web pages read: alerts with their deliveries and story copies, stories, and counts per day.

Every query reads through the storage's read-only engine, selects only the columns a page shows (never an
article's text beyond its opening), and is served by an index: alerts are paged newest first by id (``before``),
per rule by ``ix_alerts_rule_created``; counts per day read ``ix_articles_source_fetched`` and
``ix_alerts_created_at`` (revision ``0006``). Days are UTC days, as times are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlmodel import Session

from monitor.store.alerts import story_copies
from monitor.store.message import ArticleRef, Highlights, unmark
from monitor.store.models import Alert, Article, Delivery
from monitor.store.tx import table_of

_NAMES_PER_QUERY = 500


@dataclass(frozen=True)
class DeliveryStatus:
    """Where one delivery of an alert stands: ``pending``, ``sent`` or ``dead``, and its last error (redacted)."""

    webhook: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class AlertEntry:
    """One alert as the alerts page lists it."""

    id: int
    rule: str
    created_at: datetime
    article_id: int
    article: ArticleRef
    story_id: int | None
    snippet: str
    highlights: Highlights
    field: str
    matched: tuple[str, ...]
    deliveries: tuple[DeliveryStatus, ...]
    also_in: tuple[ArticleRef, ...]


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story: where it came from and when."""

    id: int
    title: str
    url: str | None
    source: str
    published: datetime | None
    fetched: datetime


@dataclass(frozen=True)
class HealthEvent:
    """A feed health alert: its message and when it was recorded."""

    feed: str
    title: str
    fetched: datetime


class Browse:
    """The read-only queries of the web pages, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def alerts(self, rule: str | None = None, before: int | None = None, limit: int = 50) -> list[AlertEntry]:
        """Return the newest alerts (older than alert ``before``, of ``rule`` only, when given), at most limit."""
        alerts, articles = table_of(Alert), table_of(Article)
        query = (
            select(
                alerts.c.id,
                alerts.c.rule,
                alerts.c.created_at,
                alerts.c.article_id,
                alerts.c.snippet,
                alerts.c.highlights,
                alerts.c.field,
                alerts.c.matched,
                articles.c.title,
                articles.c.url,
                articles.c.source,
                articles.c.published_at,
                articles.c.language,
                articles.c.story_id,
            )
            .join(articles, articles.c.id == alerts.c.article_id)
            .limit(limit)
        )
        if rule is not None:
            query = query.where(alerts.c.rule == rule).order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        else:
            query = query.order_by(alerts.c.id.desc())
        if before is not None:
            query = query.where(alerts.c.id < before)
        with Session(self.engine) as session:
            rows = session.execute(query).all()
            deliveries = _deliveries(session, [row.id for row in rows])
            copies = story_copies(session, [row.article_id for row in rows if row.story_id is not None])
        return [
            AlertEntry(
                id=row.id,
                rule=row.rule,
                created_at=row.created_at,
                article_id=row.article_id,
                article=ArticleRef(row.title, row.url, row.source, row.published_at, row.language),
                story_id=row.story_id,
                snippet=snippet,
                highlights=highlights,
                field=row.field,
                matched=tuple(row.matched or ()),
                deliveries=tuple(deliveries.get(row.id, ())),
                also_in=copies.get(row.article_id, ()),
            )
            for row in rows
            for snippet, highlights in [_snippet(row.snippet, row.highlights)]
        ]

    def alert_rules(self) -> list[str]:
        """Return the names of the rules that have alerts, sorted."""
        alerts = table_of(Alert)
        with self.engine.connect() as connection:
            return sorted(connection.execute(select(alerts.c.rule).distinct()).scalars())

    def story(self, story_id: int) -> list[StoryArticle]:
        """Return the articles of a story, in the order they were stored (empty for no such story)."""
        articles = table_of(Article)
        query = (
            select(
                articles.c.id,
                articles.c.title,
                articles.c.url,
                articles.c.source,
                articles.c.published_at,
                articles.c.fetched_at,
            )
            .where(articles.c.story_id == story_id)
            .order_by(articles.c.id)
        )
        with self.engine.connect() as connection:
            return [StoryArticle(*row) for row in connection.execute(query)]

    def articles_per_day(self, sources: Sequence[str], since: datetime) -> dict[str, dict[date, int]]:
        """Return, for each of these sources, how many articles it brought each day since ``since``."""
        articles = table_of(Article)
        found: dict[str, dict[date, int]] = {}
        with self.engine.connect() as connection:
            day = _day(articles.c.fetched_at, self.engine)
            for start in range(0, len(sources), _NAMES_PER_QUERY):
                chunk = sources[start : start + _NAMES_PER_QUERY]
                query = (
                    select(articles.c.source, day, func.count())
                    .where(articles.c.source.in_(chunk), articles.c.fetched_at >= since)
                    .group_by(articles.c.source, day)
                )
                for source, when, count in connection.execute(query):
                    found.setdefault(source, {})[_date(when)] = count
        return found

    def alerts_per_day(self, since: datetime) -> dict[str, dict[date, int]]:
        """Return, for each rule, how many alerts it made each day since ``since``."""
        alerts = table_of(Alert)
        day = _day(alerts.c.created_at, self.engine)
        query = (
            select(alerts.c.rule, day, func.count()).where(alerts.c.created_at >= since).group_by(alerts.c.rule, day)
        )
        found: dict[str, dict[date, int]] = {}
        with self.engine.connect() as connection:
            for rule, when, count in connection.execute(query):
                found.setdefault(rule, {})[_date(when)] = count
        return found

    def last_alerts(self, rules: Iterable[str], per_rule: int) -> dict[str, list[tuple[int, datetime, str]]]:
        """Return the last ``per_rule`` alerts of each rule as (alert id, time, article title), newest first."""
        alerts, articles = table_of(Alert), table_of(Article)
        found: dict[str, list[tuple[int, datetime, str]]] = {}
        with self.engine.connect() as connection:
            for rule in rules:
                query = (
                    select(alerts.c.id, alerts.c.created_at, articles.c.title)
                    .join(articles, articles.c.id == alerts.c.article_id)
                    .where(alerts.c.rule == rule)
                    .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
                    .limit(per_rule)
                )
                found[rule] = [(row_id, created, title) for row_id, created, title in connection.execute(query)]
        return found

    def health_events(self, source: str, limit: int) -> list[HealthEvent]:
        """Return the newest feed health alerts (articles of ``source``), the feed read from their content key."""
        articles = table_of(Article)
        query = (
            select(articles.c.content_key, articles.c.title, articles.c.fetched_at)
            .where(articles.c.source == source)
            .order_by(articles.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        # The key is ``health:<feed>:<event>:<start>``; a feed's name may hold a colon, the last two parts cannot.
        return [HealthEvent(key.split(":", 1)[-1].rsplit(":", 2)[0], title, at) for key, title, at in rows]


def _deliveries(session: Session, alert_ids: Sequence[int]) -> dict[int, list[DeliveryStatus]]:
    if not alert_ids:
        return {}
    table = table_of(Delivery)
    query = (
        select(
            table.c.alert_id,
            table.c.webhook,
            table.c.status,
            table.c.attempts,
            table.c.last_error,
            table.c.sent_at,
            table.c.next_attempt_at,
        )
        .where(table.c.alert_id.in_(alert_ids))
        .order_by(table.c.webhook)
    )
    found: dict[int, list[DeliveryStatus]] = {}
    for alert_id, *rest in session.execute(query):
        found.setdefault(alert_id, []).append(DeliveryStatus(*rest))
    return found


def _snippet(snippet: str, highlights: list[list[int]] | None) -> tuple[str, Highlights]:
    """Return a stored snippet as plain text and highlights (one stored with ``**`` marks read from them)."""
    if highlights is None:
        return unmark(snippet)
    return snippet, tuple((start, end) for start, end in highlights)


def _day(column: Any, engine: Engine) -> ColumnElement[Any]:
    """Return the UTC day of a time column as the database writes it (``YYYY-MM-DD``)."""
    if engine.dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as "YYYY-MM-DD HH:MM:SS.ffffff", in UTC
    return func.to_char(column, "YYYY-MM-DD")


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def days(until: date, count: int) -> list[date]:
    """Return the ``count`` days ending with ``until``, oldest first."""
    return [until - timedelta(days=offset) for offset in range(count - 1, -1, -1)]
