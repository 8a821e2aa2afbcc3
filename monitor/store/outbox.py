"""The outbox's queries: claim due deliveries, record what became of them, list and requeue them.

A claim leases rows to one worker until ``now + lease`` (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so
several workers never claim the same row); a worker that dies leaves its lease to expire and the rows are
claimed again, with the same ``uid`` (the ``webhook-id`` receivers deduplicate on). Only the instance holding a
webhook's lease claims its deliveries (``webhooks.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, Update, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, func, select, update

from monitor.store.alerts import message_of, story_copies
from monitor.store.message import AlertMessage
from monitor.store.models import Alert, Article, Delivery
from monitor.store.storage import Storage
from monitor.store.tx import table_of
from monitor.store.webhooks import PaceState, Success, Turn, Webhooks

T = TypeVar("T")
STATUSES = ("pending", "sent", "dead")


@dataclass(frozen=True)
class DueDelivery:
    """A claimed outbox row: which webhook, how many attempts so far, and the alert to send."""

    id: int
    uid: str
    webhook: str
    attempts: int
    queued_at: datetime
    digest_key: str | None
    alert: AlertMessage


@dataclass(frozen=True)
class Sent:
    """Deliveries that a webhook (at ``url``) accepted at ``at`` in one request, or one digest, with this status."""

    ids: tuple[int, ...]
    status_code: int
    at: datetime
    url: str


@dataclass(frozen=True)
class DeliveryView:
    """One delivery of an alert as ``monitor alerts`` shows it."""

    id: int
    webhook: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    sent_at: datetime | None


@dataclass(frozen=True)
class AlertView:
    """An alert with its deliveries."""

    alert: AlertMessage
    deliveries: tuple[DeliveryView, ...]


class Outbox:
    """Delivery rows, and what is shared about each webhook (``webhooks``), over the shared storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.webhooks = Webhooks(storage)

    def due_webhooks(self, now: datetime) -> list[str]:
        """Return the webhooks that have deliveries due now and not leased to a worker."""
        with Session(self.storage.reader) as session:
            query = select(Delivery.webhook).where(*_due(now)).distinct()
            return sorted(session.exec(query).all())

    def claim(self, now: datetime, lease: timedelta, limit: int, webhook: str | None = None) -> list[DueDelivery]:
        """Return up to ``limit`` due deliveries (of one webhook, if named), leased until ``now + lease``."""
        with self.storage.transaction() as tx:
            query = (
                select(Delivery, Alert, Article)
                .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                .join(Article, col(Article.id) == col(Alert.article_id))
                .where(*_due(now))
                .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
                .limit(limit)
                .with_for_update(of=Delivery, skip_locked=True)
            )
            if webhook is not None:
                query = query.where(Delivery.webhook == webhook)
            rows = tx.session.exec(query).all()
            if rows:
                ids = [delivery.id for delivery, _, _ in rows]
                tx.session.execute(update(Delivery).where(col(Delivery.id).in_(ids)).values(claimed_until=now + lease))
            copies = story_copies(tx.session, [art.id for _, _, art in rows if art.id is not None])
            return [
                DueDelivery(
                    d.id or 0,
                    d.uid,
                    d.webhook,
                    d.attempts,
                    d.queued_at,
                    d.digest_key,
                    message_of(a, art, copies.get(art.id or 0, ())),
                )
                for d, a, art in rows
            ]

    def release_claims(self) -> int:
        """Free every lease, for a daemon that is the only one on its database and starts afresh; return how many."""
        with self.storage.transaction() as tx:
            statement = update(Delivery).where(col(Delivery.claimed_until).is_not(None)).values(claimed_until=None)
            return int(getattr(tx.session.execute(statement), "rowcount", 0) or 0)

    def mark_sent(self, ids: Sequence[int], status_code: int, now: datetime, webhook: str, url: str) -> None:
        """Record deliveries the webhook (at ``url``) accepted, and that it did, in one transaction."""
        with self.storage.transaction() as tx:
            tx.session.execute(_sent(ids, status_code, now))
            self.webhooks.note_sent(tx, webhook, url, now)

    def take_turn(
        self, turn: Turn, pace: Callable[[PaceState], tuple[PaceState, T]], sent: Sent | None = None
    ) -> T | None:
        """Record ``sent`` (what the last request delivered), then renew the turn's lease and apply ``pace`` to its
        pacing, in one transaction; return what ``pace`` returned, or None if the lease lapsed or is another's.

        What was sent is recorded whatever becomes of the lease.
        """
        success = None if sent is None else Success(sent.url, sent.at)
        if self.storage.engine.dialect.name == "postgresql":
            # In one round trip when nothing stands in the way: at a request's pace, round trips are the cost.
            marked = None if sent is None else (_SENT_ALL, {"sent_ids": list(sent.ids), "code": sent.status_code})
            return self.webhooks.turn_at_once(turn, pace, success, marked)
        with self.storage.transaction() as tx:
            if sent is not None:
                tx.session.execute(_sent(sent.ids, sent.status_code, sent.at))
            return self.webhooks.turn(tx, turn, pace, success)

    def mark_failed(
        self, ids: Sequence[int], error: str, status_code: int | None, next_attempt_at: datetime | None
    ) -> None:
        """Record a failed attempt: retried at ``next_attempt_at``, or dead when it is None."""
        values: dict[str, Any] = {"last_error": error, "last_status_code": status_code}
        if next_attempt_at is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = next_attempt_at
        self._update(ids, attempts=Delivery.attempts + 1, claimed_until=None, **values)

    def hold(self, ids: Sequence[int], until: datetime, digest_key: str | None = None) -> None:
        """Put claimed deliveries back until ``until`` without counting an attempt (pacing, budgets)."""
        values: dict[str, Any] = {"next_attempt_at": until, "claimed_until": None}
        if digest_key is not None:
            values["digest_key"] = digest_key
        self._update(ids, **values)

    def _update(self, ids: Sequence[int], **values: Any) -> None:
        if ids:
            with self.storage.transaction() as tx:
                tx.session.execute(update(Delivery).where(col(Delivery.id).in_(list(ids))).values(**values))

    def counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status."""
        with Session(self.storage.reader) as session:
            rows = session.exec(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
            return {status: count for status, count in rows}

    def oldest_pending(self) -> datetime | None:
        """Return when the oldest pending delivery entered the queue."""
        with Session(self.storage.reader) as session:
            return session.exec(select(func.min(Delivery.queued_at)).where(Delivery.status == "pending")).one()

    def dead_by_webhook(self) -> dict[str, int]:
        """Return how many deliveries are dead, per webhook that has any."""
        with Session(self.storage.reader) as session:
            query = select(Delivery.webhook, func.count()).where(Delivery.status == "dead").group_by(Delivery.webhook)
            return {webhook: count for webhook, count in session.exec(query).all()}

    def matches_by_rule(self, since: datetime) -> dict[str, int]:
        """Return how many alerts each rule has recorded since ``since``."""
        with Session(self.storage.reader) as session:
            query = select(Alert.rule, func.count()).where(col(Alert.created_at) >= since).group_by(Alert.rule)
            return {rule: count for rule, count in session.exec(query).all()}

    def alerts(self, status: str | None = None, limit: int = 50) -> list[AlertView]:
        """Return the newest alerts with their deliveries, only those with a delivery in ``status`` if given."""
        with Session(self.storage.reader) as session:
            query = select(Alert, Article).join(Article, col(Article.id) == col(Alert.article_id))
            if status is not None:
                having = select(Delivery.alert_id).where(Delivery.status == status)
                query = query.where(col(Alert.id).in_(having))
            rows = session.exec(query.order_by(col(Alert.id).desc()).limit(limit)).all()
            ids = [alert.id for alert, _ in rows]
            deliveries: dict[int, list[DeliveryView]] = {}
            for d in session.exec(select(Delivery).where(col(Delivery.alert_id).in_(ids)).order_by(Delivery.webhook)):
                deliveries.setdefault(d.alert_id, []).append(_view(d))
            return [AlertView(message_of(a, art), tuple(deliveries.get(a.id or 0, ()))) for a, art in rows]

    def missing_alerts(self, alert_ids: Sequence[int]) -> list[int]:
        """Return the ids among ``alert_ids`` that no stored alert has, in the order given."""
        with Session(self.storage.reader) as session:
            found = set(session.exec(select(Alert.id).where(col(Alert.id).in_(list(alert_ids)))).all())
        return [alert_id for alert_id in dict.fromkeys(alert_ids) if alert_id not in found]

    def requeue_dead(self, now: datetime, alert_ids: Sequence[int] | None = None) -> int:
        """Put dead deliveries (of these alerts, or all) back in the queue; return how many."""
        with self.storage.transaction() as tx:
            statement = update(Delivery).where(col(Delivery.status) == "dead")
            if alert_ids is not None:
                statement = statement.where(col(Delivery.alert_id).in_(list(alert_ids)))
            values = {"status": "pending", "next_attempt_at": now, "queued_at": now, "claimed_until": None}
            result = tx.session.execute(statement.values(**values))
            return int(getattr(result, "rowcount", 0) or 0)


def _sent(ids: Sequence[int], status_code: int, now: datetime) -> Update:
    """Return the statement that marks deliveries sent, an attempt counted and their claim let go."""
    return _marking_sent(table_of(Delivery).c.id.in_(list(ids)), now, status_code)


def _marking_sent(which: Any, at: Any, status_code: Any) -> Update:
    """Return the UPDATE of the deliveries ``which`` selects to sent at ``at`` with ``status_code``."""
    table = table_of(Delivery)
    values = {"status": "sent", "sent_at": at, "last_status_code": status_code, "last_error": None}
    return update(table).where(which).values(attempts=table.c.attempts + 1, claimed_until=None, **values)


# For ``Webhooks.turn_at_once`` on PostgreSQL, built once: deliveries ``sent_ids`` (one array) sent at ``at`` with
# status ``code``, with RETURNING as a CTE needs.
_SENT_ALL = _marking_sent(
    table_of(Delivery).c.id == any_(bindparam("sent_ids", type_=postgresql.ARRAY(Integer()))),
    bindparam("at"),
    bindparam("code"),
).returning(table_of(Delivery).c.id)


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        Delivery.status == "pending",
        col(Delivery.next_attempt_at) <= now,
        (col(Delivery.claimed_until).is_(None)) | (col(Delivery.claimed_until) < now),
    )


def _view(d: Delivery) -> DeliveryView:
    pending = d.status == "pending"
    return DeliveryView(
        d.id or 0,
        d.webhook,
        d.status,
        d.attempts,
        d.next_attempt_at if pending else None,
        d.last_error,
        d.last_status_code,
        d.sent_at,
    )
