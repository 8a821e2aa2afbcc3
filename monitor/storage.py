"""Every query and transaction, named by intent.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so that
concurrent writers wait for each other instead of failing with "database is locked". Articles, the alerts they
cause and the alerts' delivery rows are written in one transaction (the outbox).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, event, func, inspect
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
    digest_every: timedelta | None = None


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
class FeedState:
    """What the previous polls of a feed left: the validators of a conditional request, and when to poll next."""

    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    disabled_reason: str | None = None


@dataclass(frozen=True)
class FeedHealth:
    """How a configured feed is doing, as ``monitor feeds`` shows it."""

    name: str
    url: str
    status: str
    last_success_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None
    error_kind: str | None
    last_status_code: int | None
    consecutive_failures: int
    next_poll_at: datetime | None
    disabled_reason: str | None
    recent_articles: int


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
        self._lock: IO[str] | None = None

    @property
    def single_instance(self) -> bool:
        """Return whether only one process may use this database at a time (SQLite: one machine, one file)."""
        return self.engine.dialect.name == "sqlite"

    def lock_single_instance(self) -> None:
        """Take the lock that keeps a second daemon off the same SQLite file; raise StorageError if it is held."""
        database = self.engine.url.database
        if not self.single_instance or not database or database == ":memory:":
            return
        path = Path(f"{database}.lock")
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StorageError(
                f"database {database}: already in use by a running monitor ({holder}); SQLite allows one "
                "instance per file: stop the other one, or move to PostgreSQL to run several"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock = handle

    @classmethod
    def open(cls, url: str) -> Storage:
        """Return storage on ``url`` with its tables created; raise StorageError if the database is unusable."""
        storage = cls(url)
        try:
            SQLModel.metadata.create_all(storage.engine)
            _add_missing_feed_columns(storage.engine)
        except SQLAlchemyError as exc:
            storage.close()
            raise StorageError(f"database {redact_url(url)}: {type(exc).__name__}: {exc.args[0]}") from None
        return storage

    def close(self) -> None:
        """Close every pooled connection and let go of the single-instance lock."""
        self.engine.dispose()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Yield a write transaction, committed on exit and rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield Tx(session)

    def feed_state(self, name: str, url: str) -> FeedState:
        """Return what the previous polls of the feed at ``url`` left (nothing if its URL has changed since)."""
        with Session(self.engine) as session:
            feed = session.exec(select(Feed).where(Feed.name == name)).first()
        if feed is None or feed.url != url:
            return FeedState()
        return FeedState(
            feed.etag, feed.last_modified, feed.next_poll_at, feed.consecutive_failures, feed.disabled_reason
        )

    def record_feed_not_modified(
        self, name: str, url: str, now: datetime, next_poll_at: datetime | None = None
    ) -> None:
        """Record a 304 answer: the feed is healthy and unchanged, and is next polled at ``next_poll_at``."""
        with self.transaction() as tx:
            feed = tx.feed(name, url, now)
            feed.status, feed.last_error, feed.last_status_code = "not_modified", None, 304
            feed.last_checked_at = feed.last_success_at = now
            feed.consecutive_failures, feed.backoff_seconds, feed.error_kind = 0, None, None
            feed.next_poll_at = next_poll_at

    def record_feed_failure(
        self,
        name: str,
        url: str,
        error: str,
        status_code: int | None,
        now: datetime,
        *,
        kind: str = "error",
        next_poll_at: datetime | None = None,
        backoff: timedelta | None = None,
        disabled_reason: str | None = None,
    ) -> None:
        """Record a failed fetch or parse: its error and kind, one more consecutive failure, the next poll.

        With a ``disabled_reason`` (a 410 Gone), the feed is disabled until its URL changes.
        """
        with self.transaction() as tx:
            feed = tx.feed(name, url, now)
            feed.status = "disabled" if disabled_reason else "error"
            feed.last_error, feed.last_status_code, feed.error_kind = error, status_code, kind
            feed.last_checked_at = now
            feed.consecutive_failures += 1
            feed.next_poll_at, feed.disabled_reason = next_poll_at, disabled_reason
            feed.backoff_seconds = round(backoff.total_seconds()) if backoff is not None else None

    def feed_health(self, feeds: Sequence[tuple[str, str]], since: datetime) -> list[FeedHealth]:
        """Return the health of the feeds given as (name, URL), with their articles stored since ``since``."""
        names = [name for name, _ in feeds]
        with Session(self.engine) as session:
            rows = {feed.name: feed for feed in session.exec(select(Feed).where(col(Feed.name).in_(names)))}
            counts = session.exec(
                select(Article.source, func.count())
                .where(col(Article.source).in_(names), col(Article.fetched_at) >= since)
                .group_by(Article.source)
            ).all()
        recent = {source: count for source, count in counts}
        return [_health(name, url, rows.get(name), recent.get(name, 0)) for name, url in feeds]

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
            # A new address starts afresh: no validators, no back-off, no longer disabled.
            feed.url, feed.etag, feed.last_modified = url, None, None
            feed.consecutive_failures, feed.backoff_seconds, feed.disabled_reason = 0, None, None
        return feed

    def record_feed_success(
        self,
        name: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        status_code: int,
        now: datetime,
        next_poll_at: datetime | None = None,
    ) -> None:
        """Record a fetched and parsed feed with the validators for the next conditional request and its next poll."""
        feed = self.feed(name, url, now)
        feed.etag, feed.last_modified = etag, last_modified
        feed.status, feed.last_error, feed.last_status_code = "ok", None, status_code
        feed.last_checked_at = feed.last_success_at = now
        feed.consecutive_failures, feed.backoff_seconds, feed.error_kind = 0, None, None
        feed.next_poll_at = next_poll_at

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
            due, digest_key = now, None
            if alert.digest_every is not None:
                due, digest_key = digest_window(alert.rule, alert.digest_every, now)
            for webhook in alert.webhooks:
                self.session.add(
                    Delivery(
                        uid=f"msg_{uuid.uuid4().hex}",
                        alert_id=alert_id,
                        webhook=webhook,
                        next_attempt_at=due,
                        created_at=now,
                        queued_at=now,
                        digest_key=digest_key,
                    )
                )
            messages.append(_new_message(alert_id, alert, now))
        return messages

    def _insert(self, table: type[SQLModel]) -> Any:
        dialect = self.session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        return module.insert(table)


def digest_window(rule: str, every: timedelta, now: datetime) -> tuple[datetime, str]:
    """Return when the digest window holding ``now`` closes, and the key its deliveries share."""
    span = every.total_seconds()
    start = datetime.fromtimestamp(now.timestamp() // span * span, tz=UTC)
    return start + every, f"{rule}|{start.isoformat()}"


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


def _add_missing_feed_columns(engine: Engine) -> None:
    """Add the feed columns that a database made by an older version lacks (all of them nullable)."""
    table = SQLModel.metadata.tables["feeds"]
    present = {column["name"] for column in inspect(engine).get_columns(table.name)}
    missing = [column for column in table.columns if column.name not in present]
    if not missing:
        return
    with engine.begin() as connection:
        for column in missing:
            kind = column.type.compile(engine.dialect)
            connection.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')


def _health(name: str, url: str, feed: Feed | None, recent: int) -> FeedHealth:
    if feed is None:
        return FeedHealth(name, url, "new", None, None, None, None, None, 0, None, None, recent)
    return FeedHealth(
        name=name,
        url=url,
        status=feed.status,
        last_success_at=feed.last_success_at,
        last_checked_at=feed.last_checked_at,
        last_error=feed.last_error,
        error_kind=feed.error_kind,
        last_status_code=feed.last_status_code,
        consecutive_failures=feed.consecutive_failures,
        next_poll_at=feed.next_poll_at,
        disabled_reason=feed.disabled_reason,
        recent_articles=recent,
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


def message_of(alert: Alert, article: Article) -> AlertMessage:
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
