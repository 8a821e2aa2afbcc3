"""What instances share about each webhook: who sends its deliveries (a lease), its pacing, and its health.

**One sender per webhook.** An instance sends a webhook's deliveries only while it holds the webhook's lease
(``take_lease``), and renews the lease before every request, in the same transaction that reserves the
request's pacing slot (``take_turn``). A renewal succeeds only if the lease never lapsed, so an instance that
was stalled past its lease stops instead of sending what another may have sent meanwhile. The lease outlives a
request's deadline: while its holder lives, no other instance can take it, however long pacing or a slow
webhook keeps the queue busy; the lease of a dead instance runs out and another takes over.

**Shared pacing.** Each webhook URL's pacing state (``PaceState``: the next free slot, and the requests of the
current hour) is a row that every instance reads and updates under a row lock, so two instances, or two webhook
names with one URL, never each send at the platform's full rate.

**Health.** Dead deliveries in a row, and a webhook the platform said is gone. Every row is keyed by the webhook's
name or by the SHA-256 of its URL, so the URL itself is never stored.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, Update, bindparam, func, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from monitor.store.models import WebhookPace, WebhookState
from monitor.store.storage import Storage
from monitor.store.tx import Writes, table_of

T = TypeVar("T")


@dataclass(frozen=True)
class PaceState:
    """One webhook URL's pacing: the next free slot, and the start and count of the current hour's requests."""

    next_at: datetime | None = None
    window_start: datetime | None = None
    in_window: int = 0


@dataclass(frozen=True)
class Turn:
    """Who asks to send to a webhook and when: its name, the lease's holder, the time, the lease to renew, and
    what its requests are paced by (its URL, or a key shared with others)."""

    name: str
    holder: str
    now: datetime
    lease: timedelta
    url: str


@dataclass(frozen=True)
class Success:
    """A request the webhook at ``url`` accepted at ``at``."""

    url: str
    at: datetime


@dataclass(frozen=True)
class WebhookHealth:
    """What delivery learned about one webhook."""

    name: str
    consecutive_dead: int
    last_error: str | None
    last_success_at: datetime | None
    disabled_reason: str | None


def url_digest(url: str) -> str:
    """Return the SHA-256 of a webhook URL: enough to notice a changed URL without storing it."""
    return hashlib.sha256(url.encode()).hexdigest()


class Webhooks:
    """Webhook leases, pacing states and health, over the shared storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def take_lease(self, name: str, url: str, holder: str, now: datetime, lease: timedelta) -> bool:
        """Make ``holder`` the webhook's sender until ``now + lease`` unless a live lease is another's; say if so."""
        with self.storage.transaction() as tx:
            row = {"name": name, "url_digest": url_digest(url), "consecutive_dead": 0, "updated_at": now}
            tx.session.execute(tx.insert_new(table_of(WebhookState), "name"), [row])
            taken = tx.session.execute(
                update(WebhookState)
                .where(col(WebhookState.name) == name)
                .where(
                    col(WebhookState.lease_holder).is_(None)
                    | (col(WebhookState.lease_holder) == holder)
                    | (col(WebhookState.lease_until) < now)
                )
                .values(lease_holder=holder, lease_until=now + lease)
            )
            return bool(getattr(taken, "rowcount", 0))

    def take_turn(
        self,
        name: str,
        holder: str,
        now: datetime,
        lease: timedelta,
        url: str,
        pace: Callable[[PaceState], tuple[PaceState, T]],
    ) -> T | None:
        """Renew ``holder``'s unbroken lease and apply ``pace`` to the URL's pacing, in one transaction.

        Return what ``pace`` returned, or None (and change nothing) if the lease lapsed or is another's.
        """
        with self.storage.transaction() as tx:
            return self.turn(tx, Turn(name, holder, now, lease, url), pace)

    def turn(
        self, tx: Writes, turn: Turn, pace: Callable[[PaceState], tuple[PaceState, T]], success: Success | None = None
    ) -> T | None:
        """Renew the turn's unbroken lease and apply ``pace`` to its pacing, in ``tx``; with ``success``, record
        first that the webhook took the last request (``note_sent``).

        Return what ``pace`` returned, or None (and change no pacing) if the lease lapsed or is another's.
        """
        # Core statements: the ORM's bookkeeping of an UPDATE cost more than the database's work here.
        table = table_of(WebhookState)
        renew = (
            update(table)
            .where(table.c.name == turn.name, table.c.lease_holder == turn.holder, table.c.lease_until >= turn.now)
            .values(lease_until=turn.now + turn.lease)
        )
        if success is not None:
            # The usual case in one statement: the success noted on the row of this URL, whose lease is renewed.
            noted = renew.where(table.c.url_digest == url_digest(success.url)).values(
                consecutive_dead=0, last_success_at=success.at, updated_at=success.at
            )
            if getattr(tx.session.execute(noted), "rowcount", 0):
                return _paced(tx, turn.url, pace)
            self.note_sent(tx, turn.name, success.url, success.at)
            tx.session.flush()
        if not getattr(tx.session.execute(renew), "rowcount", 0):
            return None
        return _paced(tx, turn.url, pace)

    def turn_at_once(
        self,
        turn: Turn,
        pace: Callable[[PaceState], tuple[PaceState, T]],
        success: Success | None = None,
        also: tuple[Update, Mapping[str, Any]] | None = None,
    ) -> T | None:
        """Do what ``turn`` does in one round trip to PostgreSQL when nothing stands in the way; with ``also``, an
        UPDATE with RETURNING and its parameters, run it in the same statement, whatever becomes of the lease.

        One statement, its own transaction, runs ``also``, renews the
        lease (noting ``success``) and reads the pacing state; a pace that changes the state writes it only if
        no one changed it meanwhile. Anything else (a lease to check again, a first request to the URL, a state
        changed by another) goes the way of ``turn``, in a transaction. The statements are built once, with
        parameters, and reused.
        """
        params: dict[str, Any] = {
            "turn_name": turn.name,
            "turn_holder": turn.holder,
            "turn_now": turn.now,
            "turn_until": turn.now + turn.lease,
            "pace_digest": url_digest(turn.url),
        }
        if success is not None:
            params.update(success_digest=url_digest(success.url), at=success.at)
        if also is not None:
            params.update(also[1])
        with self.storage.single.connect() as connection:
            row = connection.execute(_turn_query(success is not None, also and also[0]), params).one()
        renewed, known, old = row[0], row[-4] is not None, PaceState(*row[-3:])
        if not renewed:
            if success is None:
                return None
            with self.storage.transaction() as tx:  # noted on a row of another URL, or the lease lapsed
                return self.turn(tx, turn, pace, success)
        if not known:  # the URL's first request: its row is made under a lock
            return self.update_pace(turn.url, pace)
        new, result = pace(old)
        if new == old:
            return result
        changes = {"new_next_at": new.next_at, "new_window_start": new.window_start, "new_in_window": new.in_window}
        was = {"old_next_at": old.next_at, "old_window_start": old.window_start, "old_in_window": old.in_window}
        with self.storage.single.connect() as connection:
            written = connection.execute(_PACE_IF_UNCHANGED, {"pace_digest": params["pace_digest"], **changes, **was})
        if getattr(written, "rowcount", 0):
            return result
        return self.update_pace(turn.url, pace)  # another took a slot meanwhile: under the row lock this time

    def update_pace(self, url: str, pace: Callable[[PaceState], tuple[PaceState, T]]) -> T:
        """Apply ``pace`` to the URL's pacing state under a row lock; return what it returned."""
        with self.storage.transaction() as tx:
            return _paced(tx, url, pace)

    def pace_state(self, url: str) -> PaceState:
        """Return the URL's pacing state."""
        with Session(self.storage.reader) as session:
            row = session.exec(select(WebhookPace).where(WebhookPace.url_digest == url_digest(url))).first()
        return PaceState() if row is None else PaceState(row.next_at, row.window_start, row.in_window)

    def release_lease(self, name: str, holder: str) -> None:
        """Let go of the webhook's lease if ``holder`` has it."""
        with self.storage.transaction() as tx:
            tx.session.execute(
                update(WebhookState)
                .where(col(WebhookState.name) == name, col(WebhookState.lease_holder) == holder)
                .values(lease_holder=None, lease_until=None)
            )

    def release_leases(self) -> int:
        """Free every webhook lease, for a daemon alone on its database that starts afresh; return how many."""
        with self.storage.transaction() as tx:
            statement = (
                update(WebhookState)
                .where(col(WebhookState.lease_holder).is_not(None))
                .values(lease_holder=None, lease_until=None)
            )
            return int(getattr(tx.session.execute(statement), "rowcount", 0) or 0)

    def health(self) -> dict[str, WebhookHealth]:
        """Return what is known of each webhook that has had a delivery die or be sent."""
        with Session(self.storage.reader) as session:
            states = session.exec(select(WebhookState)).all()
            return {
                s.name: WebhookHealth(s.name, s.consecutive_dead, s.last_error, s.last_success_at, s.disabled_reason)
                for s in states
            }

    def disabled_reason(self, name: str, url: str) -> str | None:
        """Return why the webhook is disabled, unless its URL changed since (which lifts the verdict)."""
        with Session(self.storage.reader) as session:
            state = session.exec(select(WebhookState).where(WebhookState.name == name)).first()
        if state is None or state.disabled_reason is None or state.url_digest != url_digest(url):
            return None
        return state.disabled_reason

    def note(
        self,
        name: str,
        url: str,
        now: datetime,
        *,
        dead: int = 0,
        error: str | None = None,
        disable: str | None = None,
    ) -> int:
        """Record deliveries that died (maybe disabling the webhook); return how many died in a row to it."""
        with self.storage.transaction() as tx:
            return _note(tx, name, url, now, dead=dead, error=error, disable=disable)

    def note_sent(self, tx: Writes, name: str, url: str, now: datetime) -> None:
        """Record, in the transaction that marks deliveries sent, that the webhook took them."""
        done = tx.session.execute(
            update(WebhookState)
            .where(col(WebhookState.name) == name, col(WebhookState.url_digest) == url_digest(url))
            .values(consecutive_dead=0, last_success_at=now, updated_at=now)
        )
        if not getattr(done, "rowcount", 0):  # no row yet, or another URL: start it afresh
            _note(tx, name, url, now, sent=True)


def _note(
    tx: Writes,
    name: str,
    url: str,
    now: datetime,
    *,
    sent: bool = False,
    dead: int = 0,
    error: str | None = None,
    disable: str | None = None,
) -> int:
    """Record a webhook's latest outcome; return how many deliveries died in a row to it."""
    digest = url_digest(url)
    state = tx.session.exec(select(WebhookState).where(WebhookState.name == name)).first()
    if state is None:
        state = WebhookState(name=name, url_digest=digest, updated_at=now)
        tx.session.add(state)
    if state.url_digest != digest:
        state.url_digest, state.disabled_reason, state.consecutive_dead = digest, None, 0
    if sent:
        state.consecutive_dead, state.last_success_at = 0, now
    state.consecutive_dead += dead
    state.last_error = error or state.last_error
    state.disabled_reason = disable or state.disabled_reason
    state.updated_at = now
    return state.consecutive_dead


def _paced(tx: Writes, url: str, pace: Callable[[PaceState], tuple[PaceState, T]]) -> T:
    """Apply ``pace`` to the URL's pacing row, created if need be and locked until the transaction ends."""
    digest = url_digest(url)
    table = table_of(WebhookPace)
    columns = (table.c.next_at, table.c.window_start, table.c.in_window)
    query = sql_select(*columns).where(table.c.url_digest == digest).with_for_update()
    row = tx.session.execute(query).first()
    if row is None:
        tx.session.execute(tx.insert_new(table, "url_digest"), [{"url_digest": digest, "in_window": 0}])
        row = tx.session.execute(query).one()
    old = PaceState(*row)
    new, result = pace(old)
    if new != old:
        values = {"next_at": new.next_at, "window_start": new.window_start, "in_window": new.in_window}
        tx.session.execute(update(table).where(table.c.url_digest == digest).values(values))
    return result


@functools.cache
def _turn_query(success: bool, also: Update | None) -> Select[Any]:
    """Return the statement of ``Webhooks.turn_at_once``: its UPDATEs as CTEs, then the pacing row's values."""
    states, paces = table_of(WebhookState), table_of(WebhookPace)
    renew = (
        update(states)
        .where(states.c.name == bindparam("turn_name"), states.c.lease_holder == bindparam("turn_holder"))
        .where(states.c.lease_until >= bindparam("turn_now"))
        .values(lease_until=bindparam("turn_until"))
    )
    if success:
        renew = renew.where(states.c.url_digest == bindparam("success_digest")).values(
            consecutive_dead=0, last_success_at=bindparam("at"), updated_at=bindparam("at")
        )
    renewed = renew.returning(states.c.id).cte("renewed")
    columns: list[Any] = [
        sql_select(func.count()).select_from(renewed).scalar_subquery(),
    ]
    if also is not None:
        columns.append(sql_select(func.count()).select_from(also.cte("done")).scalar_subquery())
    for column in (paces.c.id, paces.c.next_at, paces.c.window_start, paces.c.in_window):
        columns.append(sql_select(column).where(paces.c.url_digest == bindparam("pace_digest")).scalar_subquery())
    return sql_select(*columns)


def _pace_if_unchanged() -> Update:
    """Return the UPDATE of a pacing row that writes it only if it still holds the state read before."""
    paces = table_of(WebhookPace)
    return (
        update(paces)
        .where(paces.c.url_digest == bindparam("pace_digest"), paces.c.in_window == bindparam("old_in_window"))
        .where(paces.c.next_at.is_not_distinct_from(bindparam("old_next_at", type_=paces.c.next_at.type)))
        .where(paces.c.window_start.is_not_distinct_from(bindparam("old_window_start", type_=paces.c.next_at.type)))
        .values(
            next_at=bindparam("new_next_at"),
            window_start=bindparam("new_window_start"),
            in_window=bindparam("new_in_window"),
        )
    )


_PACE_IF_UNCHANGED = _pace_if_unchanged()
