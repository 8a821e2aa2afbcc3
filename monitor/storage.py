"""Every query and transaction, named by intent.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so that
concurrent writers wait for each other instead of failing with "database is locked". Articles, the alerts they
cause and the alerts' delivery rows are written in one transaction (the outbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, create_engine, select

from monitor.errors import StorageError
from monitor.ingest.article import ParsedArticle
from monitor.models import Alert, Article, Delivery, Feed, SeedFile
from monitor.notify.message import AlertMessage, ArticleRef

SQLITE_BUSY_TIMEOUT_MS = 30_000
_INSERT_CHUNK = 200


@dataclass(frozen=True)
class StoredArticle:
    """A newly stored article and its row id."""

    id: int
    article: ParsedArticle


@dataclass(frozen=True)
class NewAlert:
    """A rule's hit on a stored article, and the webhooks it goes to."""

    article: StoredArticle
    rule: str
    query: str
    matched: tuple[str, ...]
    field: str
    snippet: str
    webhooks: tuple[str, ...]


@dataclass(frozen=True)
class DueDelivery:
    """A claimed outbox row: which webhook, how many attempts so far, and the alert to send."""

    id: int
    uid: str
    webhook: str
    attempts: int
    created_at: datetime
    alert: AlertMessage


@dataclass(frozen=True)
class SavedArticle:
    """An article read back from the database, to replay rules over it."""

    id: int
    title: str
    text: str
    url: str | None
    source: str
    published: datetime | None
    fetched: datetime


@dataclass(frozen=True)
class FeedValidators:
    """What the last successful fetch of a feed left for a conditional request."""

    etag: str | None
    last_modified: str | None


def redact_url(url: str) -> str:
    """Return a database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid database URL)"


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database: invalid URL {redact_url(url)!r}: {exc}") from None
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if parsed.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Storage:
    """The database: opened once, shared by every job."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)

    @classmethod
    def open(cls, url: str) -> Storage:
        """Return storage on ``url`` with its tables created; raise StorageError if the database is unusable."""
        storage = cls(url)
        try:
            SQLModel.metadata.create_all(storage.engine)
        except SQLAlchemyError as exc:
            storage.close()
            raise StorageError(f"database {redact_url(url)}: {type(exc).__name__}: {exc.args[0]}") from None
        return storage

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Yield a write transaction, committed on exit and rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield Tx(session)

    def feed_validators(self, name: str) -> FeedValidators:
        """Return the ETag and Last-Modified kept from the feed's last successful fetch."""
        with Session(self.engine) as session:
            feed = session.exec(select(Feed).where(Feed.name == name)).first()
            return FeedValidators(feed.etag, feed.last_modified) if feed else FeedValidators(None, None)

    def record_feed_not_modified(self, name: str, url: str, now: datetime) -> None:
        """Record a 304 answer: the feed is healthy and unchanged."""
        with self.transaction() as tx:
            feed = tx.feed(name, url, now)
            feed.status, feed.last_error, feed.last_status_code = "not_modified", None, 304
            feed.last_checked_at = feed.last_success_at = now
            feed.consecutive_failures = 0

    def record_feed_failure(self, name: str, url: str, error: str, status_code: int | None, now: datetime) -> None:
        """Record a failed fetch or parse: status, error, time, and one more consecutive failure."""
        with self.transaction() as tx:
            feed = tx.feed(name, url, now)
            feed.status, feed.last_error, feed.last_status_code = "error", error, status_code
            feed.last_checked_at = now
            feed.consecutive_failures += 1

    def seed_digest(self, path: str) -> str | None:
        """Return the digest of the seed file's last ingested content, if it was ingested."""
        with Session(self.engine) as session:
            seed = session.exec(select(SeedFile).where(SeedFile.path == path)).first()
            return seed.digest if seed else None

    def articles_since(self, since: datetime, batch: int = 500) -> Iterator[SavedArticle]:
        """Yield the articles fetched or published at ``since`` or later, newest first, ``batch`` rows a query."""
        recent = (col(Article.fetched_at) >= since) | (col(Article.published_at) >= since)
        before: int | None = None
        while True:
            query = select(Article).where(recent).order_by(col(Article.id).desc()).limit(batch)
            if before is not None:
                query = query.where(col(Article.id) < before)
            # One short transaction per batch: a long scan never holds the database against the daemon.
            with Session(self.engine) as session:
                rows = [_saved(article) for article in session.exec(query)]
            yield from rows
            if len(rows) < batch:
                return
            before = rows[-1].id

    def claim_due_deliveries(self, now: datetime, limit: int, lease: timedelta) -> list[DueDelivery]:
        """Return up to ``limit`` pending deliveries that are due, leased to this worker until ``now + lease``."""
        with self.transaction() as tx:
            query = (
                select(Delivery, Alert, Article)
                .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                .join(Article, col(Article.id) == col(Alert.article_id))
                .where(Delivery.status == "pending", col(Delivery.next_attempt_at) <= now)
                .where((col(Delivery.claimed_until).is_(None)) | (col(Delivery.claimed_until) < now))
                .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
                .limit(limit)
                .with_for_update(of=Delivery, skip_locked=True)
            )
            rows = tx.session.exec(query).all()
            if rows:
                ids = [delivery.id for delivery, _, _ in rows]
                tx.session.execute(update(Delivery).where(col(Delivery.id).in_(ids)).values(claimed_until=now + lease))
            return [
                DueDelivery(d.id or 0, d.uid, d.webhook, d.attempts, d.created_at, _message(alert, article))
                for d, alert, article in rows
            ]

    def mark_sent(self, delivery_id: int, status_code: int, now: datetime) -> None:
        """Record a delivery the webhook accepted."""
        with self.transaction() as tx:
            tx.session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id)
                .values(
                    status="sent",
                    attempts=Delivery.attempts + 1,
                    sent_at=now,
                    last_status_code=status_code,
                    last_error=None,
                    claimed_until=None,
                )
            )

    def mark_failed(
        self, delivery_id: int, error: str, status_code: int | None, next_attempt_at: datetime | None
    ) -> None:
        """Record a failed attempt: retried at ``next_attempt_at``, or dead when it is None."""
        values: dict[str, Any] = {
            "attempts": Delivery.attempts + 1,
            "last_error": error,
            "last_status_code": status_code,
            "claimed_until": None,
        }
        if next_attempt_at is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = next_attempt_at
        with self.transaction() as tx:
            tx.session.execute(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))

    def delivery_counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status."""
        with Session(self.engine) as session:
            rows = session.exec(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
            return {status: count for status, count in rows}


class Tx:
    """One write transaction: the steps of storing articles and their alerts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def feed(self, name: str, url: str, now: datetime) -> Feed:
        """Return the feed's row, created on first use."""
        feed = self.session.exec(select(Feed).where(Feed.name == name)).first()
        if feed is None:
            feed = Feed(name=name, url=url, created_at=now)
            self.session.add(feed)
        elif feed.url != url:
            feed.url, feed.etag, feed.last_modified = url, None, None
        return feed

    def record_feed_success(
        self, name: str, url: str, etag: str | None, last_modified: str | None, status_code: int, now: datetime
    ) -> None:
        """Record a fetched and parsed feed with the validators for the next conditional request."""
        feed = self.feed(name, url, now)
        feed.etag, feed.last_modified = etag, last_modified
        feed.status, feed.last_error, feed.last_status_code = "ok", None, status_code
        feed.last_checked_at = feed.last_success_at = now
        feed.consecutive_failures = 0

    def record_seed(self, path: str, digest: str, now: datetime) -> None:
        """Record that this content of a seed file has been ingested."""
        seed = self.session.exec(select(SeedFile).where(SeedFile.path == path)).first()
        if seed is None:
            self.session.add(SeedFile(path=path, digest=digest, ingested_at=now))
        else:
            seed.digest, seed.ingested_at = digest, now

    def save_new_articles(self, articles: Sequence[ParsedArticle], now: datetime) -> list[StoredArticle]:
        """Insert the articles whose content key is new; return only those, with their ids."""
        unique: list[ParsedArticle] = []
        seen: set[str] = set()
        for item in articles:
            if item.content_key not in seen:
                seen.add(item.content_key)
                unique.append(item)
        stored: list[StoredArticle] = []
        for start in range(0, len(unique), _INSERT_CHUNK):
            chunk = unique[start : start + _INSERT_CHUNK]
            rows = [
                {
                    "content_key": a.content_key,
                    "source": a.source,
                    "title": a.title,
                    "url": a.url,
                    "text": a.text,
                    "author": a.author,
                    "language": a.language,
                    "published_at": a.published,
                    "fetched_at": now,
                }
                for a in chunk
            ]
            statement = (
                self._insert(Article)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["content_key"])
                .returning(col(Article.id), col(Article.content_key))
            )
            ids = {key: row_id for row_id, key in self.session.execute(statement)}
            stored.extend(StoredArticle(ids[a.content_key], a) for a in chunk if a.content_key in ids)
        return stored

    def record_alerts(self, alerts: Sequence[NewAlert], now: datetime) -> list[AlertMessage]:
        """Insert alerts that are new per (rule, article) and one pending delivery per webhook; return them."""
        messages: list[AlertMessage] = []
        for alert in alerts:
            statement = (
                self._insert(Alert)
                .values(
                    rule=alert.rule,
                    query=alert.query,
                    article_id=alert.article.id,
                    matched=list(alert.matched),
                    field=alert.field,
                    snippet=alert.snippet,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["rule", "article_id"])
                .returning(col(Alert.id))
            )
            alert_id = self.session.execute(statement).scalar()
            if alert_id is None:
                continue
            for webhook in alert.webhooks:
                self.session.add(
                    Delivery(
                        uid=f"msg_{uuid.uuid4().hex}",
                        alert_id=alert_id,
                        webhook=webhook,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            messages.append(_new_message(alert_id, alert, now))
        return messages

    def _insert(self, table: type[SQLModel]) -> Any:
        dialect = self.session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        return module.insert(table)


def _new_message(alert_id: int, alert: NewAlert, now: datetime) -> AlertMessage:
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
    )


def _saved(article: Article) -> SavedArticle:
    return SavedArticle(
        id=article.id or 0,
        title=article.title,
        text=article.text,
        url=article.url,
        source=article.source,
        published=article.published_at,
        fetched=article.fetched_at,
    )


def _message(alert: Alert, article: Article) -> AlertMessage:
    return AlertMessage(
        id=alert.id or 0,
        rule=alert.rule,
        query=alert.query,
        article=ArticleRef(article.title, article.url, article.source, article.published_at, article.language),
        snippet=alert.snippet,
        matched=tuple(alert.matched),
        created_at=alert.created_at,
        field=alert.field,
    )
