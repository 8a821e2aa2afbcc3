"""Feed state queries: what polls left on each feed, who may poll it next, and how feeds are doing.

``FeedStore`` is a part of ``Storage`` (which it is mixed into); it needs the storage's engine and write
transactions (``tx.Writes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from monitor.store.models import Article, Feed
from monitor.store.tx import Writes, table_of


@dataclass(frozen=True)
class FeedState:
    """What the previous polls of a feed left: the validators of a conditional request, and when to poll next."""

    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    polled: bool = False  # whether the feed was ever fetched successfully at this URL


_STATE_COLUMNS = (
    "etag",
    "last_modified",
    "next_poll_at",
    "consecutive_failures",
    "disabled_reason",
    "last_success_at",
)
_NAMES_PER_QUERY = 500  # feed names bound in one query, well below every database's limit
_TABLE = table_of(Feed)
_AT = _TABLE.c.last_checked_at.type  # UTCDateTime: a bound time is stored in UTC, as the ORM stores it


def _time(key: str) -> Any:
    """Return a bound time parameter."""
    return bindparam(key, type_=_AT)


# A poll's own statements, built once (SQLAlchemy then reuses their compiled form): the claim of a due feed at
# its address, which returns its state, and the record of a 304.
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.name == bindparam("b_name"), _TABLE.c.url == bindparam("b_url"))
    .where(_TABLE.c.disabled_reason.is_(None))
    .where(_TABLE.c.next_poll_at.is_(None) | (_TABLE.c.next_poll_at <= _time("due_by")))
    .where(_TABLE.c.lease_until.is_(None) | (_TABLE.c.lease_until < _time("now")))
    .values(lease_until=_time("b_lease"))
    .returning(*(_TABLE.c[column] for column in _STATE_COLUMNS))
)
_NOT_MODIFIED = (
    update(_TABLE)
    .where(_TABLE.c.name == bindparam("b_name"), _TABLE.c.url == bindparam("b_url"))
    .values(
        status="not_modified",
        last_error=None,
        last_status_code=304,
        last_checked_at=_time("now"),
        last_success_at=_time("now"),
        consecutive_failures=0,
        backoff_seconds=None,
        error_kind=None,
        next_poll_at=_time("next"),
        lease_until=None,
    )
)


@dataclass(frozen=True)
class FeedVitals:
    """What the database knows of a feed's health: its polls, its recent article times, its last health event."""

    name: str
    url: str
    consecutive_failures: int
    last_success_at: datetime | None
    created_at: datetime
    last_error: str | None
    article_times: Sequence[datetime]  # newest first
    last_event_key: str | None


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


class FeedStore:
    """The queries on feeds' polling state and health."""

    engine: Engine
    reader: Engine

    def transaction(self) -> AbstractContextManager[Writes]:  # provided by Storage
        raise NotImplementedError

    def feed_state(self, name: str, url: str) -> FeedState:
        """Return what the previous polls of the feed at ``url`` left (nothing if its URL has changed since)."""
        return self.feed_states([(name, url)])[name]

    def feed_states(self, feeds: Sequence[tuple[str, str]]) -> dict[str, FeedState]:
        """Return, by name, what the previous polls of each feed given as (name, URL) left, in one query."""
        table = table_of(Feed)
        columns = [table.c[name] for name in ("name", "url", *_STATE_COLUMNS)]
        names = [name for name, _ in feeds]
        with self.reader.connect() as connection:
            rows = {
                row[0]: row[1:]
                for start in range(0, len(names), _NAMES_PER_QUERY)
                for row in connection.execute(
                    select(*columns).where(table.c.name.in_(names[start : start + _NAMES_PER_QUERY]))
                )
            }
        states: dict[str, FeedState] = {}
        for name, url in feeds:
            row = rows.get(name)
            if row is None or row[0] != url:
                states[name] = FeedState()
            else:
                states[name] = _state(row[1:])
        return states

    def claim_feed_poll(
        self, name: str, url: str, now: datetime, due_by: datetime, lease: timedelta
    ) -> FeedState | None:
        """Take the feed for one poll if it is due by ``due_by`` and no live lease holds it; return what its previous
        polls left if taken, else None.

        With several instances on one database, exactly one of them gets a due feed: the conditional UPDATE is
        atomic, and a row another instance just claimed no longer matches its WHERE clause. A known feed at the
        same address is claimed, and its state read, in that one statement.
        """
        values = {"b_name": name, "b_url": url, "due_by": due_by, "now": now, "b_lease": now + lease}
        with self.engine.begin() as connection:
            taken = connection.execute(_CLAIM, values).first()
        if taken is not None:
            return _state(taken)
        with self.transaction() as tx:
            row = {"name": name, "url": url, "status": "new", "consecutive_failures": 0, "created_at": now}
            tx.session.execute(tx.insert_new(table_of(Feed), "name"), [row])
            feed_row(tx.session, name, url, now)  # a changed URL starts afresh
            tx.session.flush()
            taken = tx.session.execute(_CLAIM, values).first()
            return _state(taken) if taken is not None else None

    def record_feed_not_modified(
        self, name: str, url: str, now: datetime, next_poll_at: datetime | None = None
    ) -> None:
        """Record a 304 answer: the feed is healthy and unchanged, and is next polled at ``next_poll_at``.

        The feed's row at this address is updated in one statement; a row gone or moved meanwhile is made anew.
        """
        with self.engine.begin() as connection:
            done = connection.execute(_NOT_MODIFIED, {"b_name": name, "b_url": url, "now": now, "next": next_poll_at})
        if done.rowcount == 1:
            return
        with self.transaction() as tx:
            feed = feed_row(tx.session, name, url, now)
            feed.status, feed.last_error, feed.last_status_code = "not_modified", None, 304
            feed.last_checked_at = feed.last_success_at = now
            feed.consecutive_failures, feed.backoff_seconds, feed.error_kind = 0, None, None
            feed.next_poll_at, feed.lease_until = next_poll_at, None

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
            feed = feed_row(tx.session, name, url, now)
            feed.status = "disabled" if disabled_reason else "error"
            feed.last_error, feed.last_status_code, feed.error_kind = error, status_code, kind
            feed.last_checked_at = now
            feed.consecutive_failures += 1
            feed.next_poll_at, feed.disabled_reason = next_poll_at, disabled_reason
            feed.backoff_seconds = round(backoff.total_seconds()) if backoff is not None else None
            feed.lease_until = None

    def feed_health(self, feeds: Sequence[tuple[str, str]], since: datetime) -> list[FeedHealth]:
        """Return the health of the feeds given as (name, URL), with their articles stored since ``since``."""
        names = [name for name, _ in feeds]
        with Session(self.reader) as session:
            rows = {feed.name: feed for feed in session.exec(select(Feed).where(col(Feed.name).in_(names)))}
            counts = session.exec(
                select(Article.source, func.count())
                .where(col(Article.source).in_(names), col(Article.fetched_at) >= since)
                .group_by(Article.source)
            ).all()
        recent = {source: count for source, count in counts}
        return [_health(name, url, rows.get(name), recent.get(name, 0)) for name, url in feeds]

    def feed_vitals(
        self, feeds: Sequence[tuple[str, str]], rhythm: int, events: str, event_prefix: Callable[[str], str]
    ) -> list[FeedVitals]:
        """Return the health vitals of the feeds given as (name, URL) that have been polled at their URL.

        A feed's vitals hold the times of its last ``rhythm`` articles and the content key of its last health
        event: the newest article of source ``events`` whose key starts with ``event_prefix(feed name)``.
        """
        articles = table_of(Article)
        # Compiled once, run for each feed on one connection: a statement costs a feed little beyond its rows.
        recent = (
            sql_select(articles.c.published_at, articles.c.fetched_at)
            .where(articles.c.source == bindparam("source"))
            .order_by(articles.c.id.desc())
            .limit(rhythm)
        )
        prefixes = {event_prefix(name): name for name, _ in feeds}
        vitals: list[FeedVitals] = []
        with Session(self.reader) as session:
            names = [name for name, _ in feeds]
            rows = {feed.name: feed for feed in session.exec(select(Feed).where(col(Feed.name).in_(names)))}
            last_keys = _last_event_keys(session, events, prefixes)
            connection = session.connection()
            for name, url in feeds:
                feed = rows.get(name)
                if feed is None or feed.url != url or feed.last_checked_at is None:
                    continue
                times = connection.execute(recent, {"source": name}).all()
                vitals.append(
                    FeedVitals(
                        name=name,
                        url=url,
                        consecutive_failures=feed.consecutive_failures,
                        last_success_at=feed.last_success_at,
                        created_at=feed.created_at,
                        last_error=feed.last_error,
                        article_times=sorted((p or f for p, f in times), reverse=True),
                        last_event_key=last_keys.get(name),
                    )
                )
        return vitals


def _last_event_keys(session: Session, events: str, prefixes: dict[str, str]) -> dict[str, str]:
    """Return the content key of each feed's newest health event (articles of source ``events`` whose key starts
    with the feed's prefix in ``prefixes``, prefix -> feed), by feed name; read newest first, until every feed has
    one or the events run out."""
    found: dict[str, str] = {}
    keys = session.exec(select(Article.content_key).where(Article.source == events).order_by(col(Article.id).desc()))
    for key in keys:
        # A feed's name may hold the separator itself: every prefix of the key that ends with it is tried.
        ends = (at for at, char in enumerate(key) if char == ":")
        for end in ends:
            name = prefixes.get(key[: end + 1])
            if name is not None and name not in found:
                found[name] = key
        if len(found) == len(prefixes):
            break
    return found


def feed_row(session: Session, name: str, url: str, now: datetime) -> Feed:
    """Return the feed's row, created on first use; a new address starts afresh."""
    feed = session.exec(select(Feed).where(Feed.name == name)).first()
    if feed is None:
        feed = Feed(name=name, url=url, created_at=now)
        session.add(feed)
    elif feed.url != url:
        # No validators, no back-off, no longer disabled.
        feed.url, feed.etag, feed.last_modified = url, None, None
        feed.consecutive_failures, feed.backoff_seconds, feed.disabled_reason = 0, None, None
    return feed


def _state(row: Sequence[Any]) -> FeedState:
    """Return the state of a feed from its ``_STATE_COLUMNS``."""
    etag, last_modified, next_poll_at, failures, disabled, last_success = row
    return FeedState(etag, last_modified, next_poll_at, failures, disabled, polled=last_success is not None)


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
