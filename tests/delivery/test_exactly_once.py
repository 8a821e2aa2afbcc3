"""What reaches one webhook: its alerts in queue order, each once, bar the one request in flight at a crash."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from monitor.delivery.dispatcher import Dispatcher
from monitor.settings.config import DeliverySettings, WebhookSettings, parse_duration
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage
from tests.conftest import LoopbackServer
from tests.delivery.test_dispatcher import record

SETTINGS = DeliverySettings(timeout=parse_duration("5s"), batch_size=7)  # batches of 7: the order spans them
LEASE = timedelta(seconds=15)  # twice the timeout plus 5 s


class Killed(Exception):
    """The process is gone: nothing it does reaches the database any more."""


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    storage = Storage.open(database_url)
    yield Outbox(storage)
    storage.close()


@pytest.fixture
def hook(loopback: LoopbackServer) -> LoopbackServer:
    loopback.routes["/hook"] = lambda _handler: (200, {}, b"ok")
    return loopback


def webhooks(server: LoopbackServer) -> dict[str, WebhookSettings]:
    return {"chat": WebhookSettings(url=SecretStr(server.url("/hook")), format="generic")}  # type: ignore[call-arg]


def queued_uids(outbox: Outbox) -> list[str]:
    with outbox.storage.engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT uid FROM deliveries ORDER BY id")]


def received_uids(server: LoopbackServer) -> list[str]:
    return [request.headers["webhook-id"] for request in server.received_on("/hook")]


def drain(outbox: Outbox, server: LoopbackServer, clock: Callable[[], datetime] | None = None) -> int:
    with httpx.Client() as client:
        dispatcher = Dispatcher(outbox, client, clock=clock or (lambda: datetime.now(UTC)))
        try:
            return dispatcher.drain(webhooks(server), {}, SETTINGS).sent
        finally:
            dispatcher.close()


def die_after(outbox: Outbox, server: LoopbackServer, requests: int) -> None:
    """Make every write of ``outbox`` fail once the webhook has taken ``requests`` requests, as a kill -9 there."""

    def dying(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if len(server.received_on("/hook")) >= requests:
                raise Killed
            return method(*args, **kwargs)

        return call

    for name in ("claim", "take_turn", "mark_sent", "mark_failed", "hold"):
        setattr(outbox, name, dying(getattr(outbox, name)))
    for name in ("take_lease", "release_lease", "update_pace", "note"):
        setattr(outbox.webhooks, name, dying(getattr(outbox.webhooks, name)))


def test_one_webhook_gets_its_alerts_in_queue_order_each_once(outbox: Outbox, hook: LoopbackServer) -> None:
    record(outbox, 30)
    assert drain(outbox, hook) == 30
    assert received_uids(hook) == queued_uids(outbox)
    assert outbox.counts() == {"sent": 30}


@pytest.mark.parametrize("killed_after", [1, 7, 8, 20])
def test_a_kill_between_a_request_and_its_record_sends_that_one_request_again(
    database_url: str, hook: LoopbackServer, killed_after: int
) -> None:
    first, second = Outbox(Storage.open(database_url)), Outbox(Storage.open(database_url))
    record(first, 20)
    die_after(first, hook, killed_after)
    drain(first, hook)
    assert len(received_uids(hook)) == killed_after  # nothing went out once it was "killed"
    # Another instance takes the webhook over once the dead one's lease has run out.
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    drain(second, hook, clock=lambda: later)
    queued = queued_uids(second)
    # The request in flight at the kill goes again, with its webhook-id; every other alert goes once, in order.
    assert received_uids(hook) == queued[:killed_after] + queued[killed_after - 1 :]
    assert second.counts() == {"sent": 20}
    first.storage.close()
    second.storage.close()


def test_two_instances_draining_one_webhook_at_once_never_send_an_alert_twice(
    database_url: str, hook: LoopbackServer
) -> None:
    instances = [Outbox(Storage.open(database_url)) for _ in range(2)]
    record(instances[0], 60)
    gate = threading.Barrier(2)
    sent = [0, 0]

    def run(number: int) -> None:
        gate.wait()
        while instances[number].counts().get("pending"):
            sent[number] += drain(instances[number], hook)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    uids = received_uids(hook)
    assert sorted(uids) == sorted(queued_uids(instances[0]))
    assert Counter(uids).most_common(1)[0][1] == 1
    assert sum(sent) == 60 and instances[0].counts() == {"sent": 60}
    for outbox in instances:
        outbox.storage.close()
