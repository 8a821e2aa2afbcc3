"""SQLModel tables: feeds and seed files (sources), articles with their keys, stories and pages, alerts,
deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Store datetimes as naive UTC and hand them back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Feed(SQLModel, table=True):
    """A configured feed and what its last fetches left behind."""

    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    url: str = Field(sa_type=Text)
    etag: str | None = Field(default=None, sa_type=Text)
    last_modified: str | None = Field(default=None, max_length=100)
    status: str = Field(default="new", max_length=20)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_status_code: int | None = None
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Polling state.
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    backoff_seconds: int | None = None
    error_kind: str | None = Field(default=None, max_length=20)
    disabled_reason: str | None = Field(default=None, sa_type=Text)
    # The instance polling the feed holds it until then; a dead instance's lease runs out and another takes over.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SeedFile(SQLModel, table=True):
    """A file under ``seeds/`` and the digest of its last ingested content."""

    __tablename__ = "seed_files"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(unique=True, max_length=500)
    digest: str = Field(max_length=64)
    ingested_at: datetime = Field(sa_type=UTCDateTime)


class Article(SQLModel, table=True):
    """One article, unique by its content key whichever source brought it."""

    __tablename__ = "articles"
    # Articles per feed and day (the web pages); articles published within a window (rules backtest, workbench).
    __table_args__ = (Index("ix_articles_source_fetched", "source", "fetched_at"),)

    id: int | None = Field(default=None, primary_key=True)
    content_key: str = Field(unique=True, max_length=600)
    source: str = Field(max_length=500, index=True)
    title: str = Field(sa_type=Text)
    url: str | None = Field(default=None, sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    author: str | None = Field(default=None, sa_type=Text)
    language: str | None = Field(default=None, max_length=20)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    fetched_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The story of near-duplicates it belongs to, and its MinHash signature (``ingest.stories``, 512 bytes) to rebuild
    # the index.
    story_id: int | None = Field(default=None, foreign_key="stories.id", index=True)
    signature: bytes | None = Field(default=None, sa_type=LargeBinary)
    # The turn in which it was filed in its story: filing is serialized across instances, so an instance learns
    # the sketches others filed since its last turn by this number.
    story_seq: int | None = Field(default=None, sa_type=BigInteger, index=True)
    # The main text of its page, for a feed with full text and a page that gave one (``ingest.pages``).
    full_text: str | None = Field(default=None, sa_type=Text)


class Page(SQLModel, table=True):
    """An article page fetched for its full text, once per canonical URL: what came of it, and its validators."""

    __tablename__ = "pages"

    id: int | None = Field(default=None, primary_key=True)
    url_key: str = Field(unique=True, max_length=600)  # ``normalize.url_key`` of the article's link
    feed: str = Field(max_length=200, index=True)  # the feed it was fetched for
    outcome: str = Field(max_length=20)  # ``ok``, or the kind of failure
    status_code: int | None = None
    etag: str | None = Field(default=None, sa_type=Text)
    last_modified: str | None = Field(default=None, max_length=100)
    fetched_at: datetime = Field(sa_type=UTCDateTime, index=True)


class ArticleKey(SQLModel, table=True):
    """One of the keys an article is known by (GUID in its feed, canonical URL, fingerprint); each key is unique."""

    __tablename__ = "article_keys"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=600)
    article_id: int = Field(foreign_key="articles.id", index=True)


class Story(SQLModel, table=True):
    """Near-duplicate articles from several outlets: the same story, alerted once per rule within a window."""

    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    first_article_id: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class Alert(SQLModel, table=True):
    """A rule matching an article; unique per (rule, article)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "article_id", name="uq_alerts_rule_article"),
        # A rule's alerts newest first, and alerts per rule and day (the web pages).
        Index("ix_alerts_rule_created", "rule", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=200)
    query: str = Field(sa_type=Text)
    article_id: int = Field(foreign_key="articles.id", index=True)
    matched: list[str] = Field(default_factory=list, sa_type=JSON)
    field: str = Field(default="text", max_length=20)
    snippet: str = Field(default="", sa_type=Text)
    # [start, end] of each matched word in the snippet; null for an alert recorded with ``**`` marks in its snippet.
    highlights: list[list[int]] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Delivery(SQLModel, table=True):
    """The outbox row of one alert for one webhook: status, attempts, next attempt, last error (redacted)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "webhook", name="uq_deliveries_alert_webhook"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_webhook_due", "webhook", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True, max_length=64)
    alert_id: int = Field(foreign_key="alerts.id")
    webhook: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_status_code: int | None = None
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # When the delivery (re-)entered the queue: the retry schedule gives up counting from here.
    queued_at: datetime = Field(sa_type=UTCDateTime)
    # Deliveries of a digest rule share the key of their window and go out together when it closes.
    digest_key: str | None = Field(default=None, max_length=300)


class WebhookState(SQLModel, table=True):
    """What delivery learned about a webhook: dead deliveries in a row, and whether it is gone.

    The URL itself is never stored; ``url_digest`` (its SHA-256) tells whether the settings now name another URL,
    which lifts a ``disabled`` verdict.
    """

    __tablename__ = "webhook_states"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    url_digest: str = Field(max_length=64)
    consecutive_dead: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The one instance sending its deliveries, until then: renewed before every request, so two instances never
    # send to one webhook at once; a dead instance's lease runs out and another takes over.
    lease_holder: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookPace(SQLModel, table=True):
    """The pacing state of one webhook URL, shared by every instance: the next free slot and the hour's count.

    Keyed, like ``WebhookState``, by the SHA-256 of the URL, never the URL itself.
    """

    __tablename__ = "webhook_paces"

    id: int | None = Field(default=None, primary_key=True)
    url_digest: str = Field(unique=True, max_length=64)
    next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    in_window: int = 0
