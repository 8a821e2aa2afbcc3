"""Every query and transaction, named by intent.

The engine (``engine.py``) makes concurrent writers wait for each other on SQLite. Articles, the alerts they
cause and the alerts' delivery rows are written in one transaction (the outbox).
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Integer, bindparam, delete, text, update
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from monitor.errors import StorageError
from monitor.ingest import stories
from monitor.ingest.article import ParsedArticle
from monitor.store import migrate
from monitor.store.alerts import AlertWrites, StoredArticle
from monitor.store.engine import READ_ONLY, make_engine, redact_url
from monitor.store.feeds import FeedStore, feed_row
from monitor.store.models import Article, ArticleKey, Feed, SeedFile, Story
from monitor.store.pages import PageStore, PageWrites
from monitor.store.probe import Answer, can_write
from monitor.store.tx import one_of, table_of

_INSERT_CHUNK = 200
_READ_CHUNK = 5000  # ids in one IN list on SQLite (it binds at most 32,766 values a statement)
# The columns of a SavedArticle, in the order of its fields.
_SAVED_COLUMNS = ("id", "title", "text", "url", "source", "published_at", "fetched_at", "full_text", "language")
STORY_LOCK = 0x6D6F6E73746F7279  # PostgreSQL advisory lock key held by the transaction filing in stories


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
    full_text: str | None = None
    language: str | None = None


class Storage(FeedStore, PageStore):
    """The database: opened once, shared by every job."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # The engine for queries that only read: on SQLite they never wait for (nor hold up) a writer.
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
        # For one statement that is its own transaction: no BEGIN and COMMIT, each a round trip on PostgreSQL.
        self.single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
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
        """Return storage on ``url``, its schema created if the database is new; raise StorageError if unusable.

        A database whose schema is behind the code is refused, with the command that upgrades it.
        """
        storage = cls(url)
        try:
            if migrate.is_empty(storage.engine):
                migrate.create(storage.engine)
            else:
                at, newest = migrate.current(storage.engine), migrate.head()
                if at != newest:
                    storage.close()
                    raise StorageError(
                        f"database {redact_url(url)}: the schema is at revision {at or 'none'}, this version "
                        f"needs {newest}: run `monitor db upgrade` first"
                    )
        except SQLAlchemyError as exc:
            storage.close()
            raise StorageError(f"database {redact_url(url)}: {type(exc).__name__}: {exc.args[0]}") from None
        return storage

    def ping(self) -> None:
        """Run a trivial query; raise if the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def probe(self) -> Answer:
        """Return ``"ok"``, or ``"busy"`` while another writer holds the lock; raise StorageError if it cannot write."""
        return can_write(self.engine)

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

    def seed_digest(self, path: str) -> str | None:
        """Return the digest of the seed file's last ingested content, if it was ingested."""
        with Session(self.reader) as session:
            seed = session.exec(select(SeedFile).where(SeedFile.path == path)).first()
            return seed.digest if seed else None

    def articles_since(self, since: datetime, batch: int = 500) -> Iterator[SavedArticle]:
        """Yield the articles fetched or published at ``since`` or later, newest first, ``batch`` rows a query."""
        table = table_of(Article)
        columns = [table.c[name] for name in _SAVED_COLUMNS]
        recent = (table.c.fetched_at >= since) | (table.c.published_at >= since)  # each side has its index
        before: int | None = None
        while True:
            query = sql_select(*columns).where(recent).order_by(table.c.id.desc()).limit(batch)
            if before is not None:
                query = query.where(table.c.id < before)
            # One short transaction per batch: a long scan never holds the database against the daemon.
            with self.reader.connect() as connection:
                rows = [SavedArticle(*row) for row in connection.execute(query)]
            yield from rows
            if len(rows) < batch:
                return
            before = rows[-1].id

    def article_ids_since(self, after: int, fetched_since: datetime) -> list[int]:
        """Return the ids of the articles stored with an id above ``after`` or fetched at ``fetched_since`` or later."""
        table = table_of(Article)
        query = sql_select(table.c.id).where((table.c.id > after) | (table.c.fetched_at >= fetched_since))
        with self.reader.connect() as connection:
            return [row_id for (row_id,) in connection.execute(query)]

    def articles_by_ids(self, ids: Sequence[int]) -> list[SavedArticle]:
        """Return the stored articles of these ids, highest id (newest) first."""
        table = table_of(Article)
        columns = [table.c[name] for name in _SAVED_COLUMNS]
        found: list[SavedArticle] = []
        with self.reader.connect() as connection:
            for start in range(0, len(ids), _INSERT_CHUNK):
                chunk = list(ids[start : start + _INSERT_CHUNK])
                query = sql_select(*columns).where(table.c.id.in_(chunk)).order_by(table.c.id.desc())
                found.extend(SavedArticle(*row) for row in connection.execute(query))
        found.sort(key=lambda article: -article.id)
        return found

    def unseen(self, articles: Sequence[ParsedArticle]) -> list[ParsedArticle]:
        """Return the articles that look new: none of their keys is stored, nor held by an earlier one of the list.

        A read that takes no lock, to spare known articles the work done before storing; the storing transaction
        checks again.
        """
        unique = _first_of_each(articles)
        found: list[ParsedArticle] = []
        postgres = self.engine.dialect.name == "postgresql"
        # On PostgreSQL each query is its own transaction: no BEGIN and ROLLBACK around it, two round trips.
        with (self.single if postgres else self.reader).connect() as connection:
            for start in range(0, len(unique), _INSERT_CHUNK):
                found.extend(_unseen_in(connection, unique[start : start + _INSERT_CHUNK], postgres))
        return found


class Tx(AlertWrites, PageWrites):
    """One write transaction: the steps of storing articles and their alerts."""

    def serialize_filing(self) -> None:
        """Wait until no other transaction is filing articles in stories, and keep the others waiting until commit.

        On PostgreSQL, with several instances on one database, this makes filing one at a time, so that two
        copies of a story stored at the same moment by two instances end up in one story. On SQLite the write
        lock taken when the transaction began already does.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})

    def filed_stories(self, since: datetime, batch: int = 2000) -> Iterator[tuple[int, bytes, datetime]]:
        """Yield (article id, signature, fetched at) of the articles filed in stories since ``since``, by id,
        ``batch`` rows a query (a long window's signatures are never held all at once)."""
        table = table_of(Article)
        after = 0
        while True:
            rows = self.session.execute(
                sql_select(table.c.id, table.c.signature, table.c.fetched_at)
                .where(table.c.fetched_at >= since, table.c.story_id.is_not(None), table.c.id > after)
                .order_by(table.c.id)
                .limit(batch)
            ).all()
            yield from ((row_id, bytes(sig), at) for row_id, sig, at in rows if sig)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def story_sketches(self, ids: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        """Return the story and signature of each of these articles that is filed in a story, by article id."""
        table = table_of(Article)
        found: dict[int, tuple[int, bytes]] = {}
        # One array on PostgreSQL; on SQLite, chunks that stay below its limit of bound values.
        step = len(ids) if self.postgres else _READ_CHUNK
        for start in range(0, len(ids), max(step, 1)):
            rows = self.session.execute(
                sql_select(table.c.id, table.c.story_id, table.c.signature).where(
                    self.ids_in(table.c.id, ids[start : start + step]),
                    table.c.story_id.is_not(None),
                    table.c.signature.is_not(None),
                )
            )
            found.update((row_id, (story, bytes(sig))) for row_id, story, sig in rows)
        return found

    def filed_after(self, turn: int) -> tuple[list[tuple[int, bytes, datetime]], int]:
        """Return the articles filed in stories after filing turn ``turn`` (by other instances), and the last turn.

        Each is (article id, signature, fetched at), as ``filed_stories`` gives them, in the order they were filed.
        """
        table = table_of(Article)
        rows = self.session.execute(
            sql_select(table.c.id, table.c.signature, table.c.fetched_at, table.c.story_seq)
            .where(table.c.story_seq > turn, table.c.story_id.is_not(None))
            .order_by(table.c.story_seq, table.c.id)
        ).all()
        last = max((int(row[3]) for row in rows), default=turn)
        return [(row_id, bytes(sig), at) for row_id, sig, at, _ in rows if sig], last

    def last_filing_turn(self) -> int:
        """Return the newest filing turn recorded (0 when none)."""
        return int(self.session.exec(select(func.max(Article.story_seq))).one() or 0)

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
        values = {
            "etag": etag,
            "last_modified": last_modified,
            "status": "ok",
            "last_error": None,
            "last_status_code": status_code,
            "last_checked_at": now,
            "last_success_at": now,
            "consecutive_failures": 0,
            "backoff_seconds": None,
            "error_kind": None,
            "next_poll_at": next_poll_at,
            "lease_until": None,
        }
        table = table_of(Feed)
        # The usual case, in one statement: the feed's row is there, at this address.
        done = self.session.execute(update(table).where(table.c.name == name, table.c.url == url).values(values))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            return
        # A new feed, in one statement too (skipped if its name is taken, by a row at another address).
        row = {**values, "name": name, "url": url, "created_at": now, "disabled_reason": None}
        if self.session.execute(self.insert_new(table, "name"), row).rowcount == 1:  # type: ignore[attr-defined]
            return
        feed = feed_row(self.session, name, url, now)  # a new address, which starts afresh
        for key, value in values.items():
            setattr(feed, key, value)

    def record_seed(self, path: str, digest: str, now: datetime) -> None:
        """Record that this content of a seed file has been ingested."""
        seed = self.session.exec(select(SeedFile).where(SeedFile.path == path)).first()
        if seed is None:
            self.session.add(SeedFile(path=path, digest=digest, ingested_at=now))
        else:
            seed.digest, seed.ingested_at = digest, now

    def save_new_articles(
        self, articles: Sequence[ParsedArticle], now: datetime, sketches: Mapping[str, bytes] | None = None
    ) -> list[StoredArticle]:
        """Insert the articles none of whose keys was seen before; return only those, with their ids.

        An article's keys are its content key and ``ParsedArticle.keys``; each is stored in ``article_keys``.
        ``sketches`` holds story signatures already worked out, by content key: they are stored with the rows.
        """
        known = sketches or {}
        unique = _first_of_each(articles)
        stored: list[StoredArticle] = []
        for start in range(0, len(unique), _INSERT_CHUNK):
            chunk = _unseen_in(self.session, unique[start : start + _INSERT_CHUNK], self.postgres)
            if not chunk:
                continue
            rows = [
                {
                    "content_key": a.content_key,
                    "source": a.source,
                    "title": a.title,
                    "url": a.url,
                    "text": a.text,
                    "full_text": a.full_text or None,
                    "author": a.author,
                    "language": a.language,
                    "published_at": a.published,
                    "fetched_at": now,
                    "signature": known.get(a.content_key),
                }
                for a in chunk
            ]
            inserted_rows = self.insert_rows(table_of(Article), rows, ["content_key"], ["id", "content_key"])
            ids = {key: row_id for row_id, key in inserted_rows}
            inserted = [StoredArticle(ids[a.content_key], a) for a in chunk if a.content_key in ids]
            stored.extend(self._claim_keys(inserted))
        return stored

    def _claim_keys(self, inserted: Sequence[StoredArticle]) -> list[StoredArticle]:
        """Store the keys of newly inserted articles; return those that got all theirs, fold the others away.

        An article that lost a key to another transaction since ``_unseen`` is a copy: its new keys are handed
        to the article that holds the lost one, and its row is deleted.
        """
        if not inserted:
            return []
        rows = [{"key": key, "article_id": item.id} for item in inserted for key in _keys(item.article)]
        claimed = {row.key for row in self.insert_rows(table_of(ArticleKey), rows, ["key"], ["key"])}
        new: list[StoredArticle] = []
        for item in inserted:
            keys = _keys(item.article)
            if claimed.issuperset(keys):
                new.append(item)
                continue
            lost = [key for key in keys if key not in claimed]
            holder = self.session.exec(select(ArticleKey.article_id).where(col(ArticleKey.key).in_(lost))).first()
            mine = col(ArticleKey.article_id) == item.id
            if holder is None:
                self.session.execute(delete(ArticleKey).where(mine))
            else:
                self.session.execute(update(ArticleKey).where(mine).values(article_id=holder))
            self.session.execute(delete(Article).where(col(Article.id) == item.id))
        return new

    def file_in_stories(
        self,
        stored: Sequence[StoredArticle],
        index: stories.StoryIndex,
        now: datetime,
        signatures: Mapping[str, bytes],
        turn: int = 0,
    ) -> dict[int, int]:
        """Put each stored article in the story of a similar recent one, or a new story; return article -> story.

        A new story takes the id of its first article. ``signatures`` holds every article's sketch, by content key,
        as ``save_new_articles`` stored it. The articles are added to ``index`` too; if the transaction fails, the
        caller drops the index. They are recorded as filed in filing turn ``turn`` (see ``filed_after``). The
        sketches of every candidate the index proposes for the batch are read in one query, then the articles are
        filed one after another, each able to join a story that an earlier one of the batch opened.
        """
        filed: dict[int, int] = {}
        opened: list[int] = []
        joined: list[dict[str, Any]] = []
        articles = [(item.id, signatures[item.article.content_key]) for item in stored]
        # The sketches of every stored candidate of the batch are read in one query.
        for (row, _), story_id in zip(articles, index.file_many(articles, now, self.story_sketches), strict=True):
            filed[row] = story_id
            if story_id == row:
                opened.append(row)
            else:
                joined.append({"row": row, "story": story_id})
        table = table_of(Article)
        if opened:
            rows = [{"id": row, "first_article_id": row, "created_at": now} for row in opened]
            self.insert_rows(table_of(Story), rows, ["id"])
        if self.postgres and filed:
            # One statement for them all, opened and joined: each row's story, from two arrays.
            pairs = (
                func.unnest(
                    bindparam(None, list(filed), type_=postgresql.ARRAY(Integer())),
                    bindparam(None, list(filed.values()), type_=postgresql.ARRAY(Integer())),
                )
                .table_valued("row", "story")
                .render_derived()
            )
            statement = update(table).where(table.c.id == pairs.c.row)
            self.session.execute(statement.values(story_id=pairs.c.story, story_seq=turn))
            return filed
        for start in range(0, len(opened), _INSERT_CHUNK):
            chunk = opened[start : start + _INSERT_CHUNK]
            values = {"story_id": table.c.id, "story_seq": turn}
            self.session.execute(update(table).where(table.c.id.in_(chunk)).values(values))
        if joined:
            values = {"story_id": bindparam("story"), "story_seq": turn}
            statement = update(table).where(table.c.id == bindparam("row")).values(values)
            self.session.execute(statement, joined)
        return filed


def lone_stories(filed: Mapping[int, int]) -> set[int]:
    """Return the stories that ``file_in_stories`` opened for one article, which no other article joined."""
    members = Counter(filed.values())
    return {story for article, story in filed.items() if article == story and members[story] == 1}


def _first_of_each(articles: Sequence[ParsedArticle]) -> list[ParsedArticle]:
    """Return the articles none of whose keys an earlier one of the list has."""
    unique: list[ParsedArticle] = []
    seen: set[str] = set()
    for item in articles:
        keys = _keys(item)
        if seen.isdisjoint(keys):
            unique.append(item)
        seen.update(keys)
    return unique


def _unseen_in(session: Session | Connection, chunk: Sequence[ParsedArticle], postgres: bool) -> list[ParsedArticle]:
    """Return the articles of chunk none of whose keys is stored yet (asked for as one array on PostgreSQL)."""
    keys = [key for item in chunk for key in _keys(item)]
    column = table_of(ArticleKey).c.key
    known = set(session.execute(sql_select(column).where(one_of(column, keys, postgres))).scalars())
    return [item for item in chunk if known.isdisjoint(_keys(item))]


def _keys(article: ParsedArticle) -> list[str]:
    """Return every key of an article, its content key first."""
    return list(dict.fromkeys((article.content_key, *article.keys)))
