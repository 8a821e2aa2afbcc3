"""Webhook leases and shared pacing: one sender per webhook, and one pace per URL whatever the instances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.delivery import pacing
from monitor.delivery.pacing import Pace, Slot
from monitor.store.storage import Storage
from monitor.store.webhooks import PaceState, Webhooks

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=35)
URL = "https://hooks.slack.test/services/T0/B0/secret"


@pytest.fixture
def webhooks(database_url: str) -> Iterator[Webhooks]:
    storage = Storage.open(database_url)
    yield Webhooks(storage)
    storage.close()


def no_pacing(state: PaceState) -> tuple[PaceState, str]:
    return state, "turn"


def test_one_holder_at_a_time_until_its_lease_runs_out(webhooks: Webhooks) -> None:
    assert webhooks.take_lease("chat", URL, "a", NOW, LEASE)
    assert not webhooks.take_lease("chat", URL, "b", NOW + timedelta(seconds=10), LEASE)
    assert webhooks.take_turn("chat", "a", NOW + timedelta(seconds=30), LEASE, URL, no_pacing) == "turn"
    # Renewed at 30 s: still a's at 60 s, when the first lease would have run out.
    assert not webhooks.take_lease("chat", URL, "b", NOW + timedelta(seconds=60), LEASE)
    assert webhooks.take_turn("chat", "b", NOW + timedelta(seconds=60), LEASE, URL, no_pacing) is None
    assert webhooks.take_lease("chat", URL, "b", NOW + timedelta(seconds=66), LEASE)  # a died: b takes over
    assert webhooks.take_turn("chat", "a", NOW + timedelta(seconds=67), LEASE, URL, no_pacing) is None
    webhooks.release_lease("chat", "a")  # not a's any more: nothing happens
    assert not webhooks.take_lease("chat", URL, "c", NOW + timedelta(seconds=68), LEASE)
    webhooks.release_lease("chat", "b")
    assert webhooks.take_lease("chat", URL, "c", NOW + timedelta(seconds=69), LEASE)
    assert webhooks.release_leases() == 1
    assert webhooks.take_lease("chat", URL, "d", NOW + timedelta(seconds=70), LEASE)


def test_a_lapsed_lease_is_not_renewed_even_if_nobody_took_it(webhooks: Webhooks) -> None:
    assert webhooks.take_lease("chat", URL, "a", NOW, LEASE)
    # Stalled past its lease: another may have sent meanwhile, so it must start afresh.
    assert webhooks.take_turn("chat", "a", NOW + timedelta(seconds=40), LEASE, URL, no_pacing) is None
    assert webhooks.take_lease("chat", URL, "a", NOW + timedelta(seconds=40), LEASE)


def test_the_turn_reserves_the_urls_next_slot(webhooks: Webhooks) -> None:
    pace = Pace(interval=1.0)

    def reserve(state: PaceState) -> tuple[PaceState, Slot]:
        return pacing.reserve(state, pace, NOW, timedelta(seconds=5))

    assert webhooks.take_lease("one", URL, "a", NOW, LEASE)
    assert webhooks.take_lease("two", URL, "b", NOW, LEASE)  # another name, the same URL
    first = webhooks.take_turn("one", "a", NOW, LEASE, URL, reserve)
    second = webhooks.take_turn("two", "b", NOW, LEASE, URL, reserve)
    assert first is not None and second is not None
    assert (first.at, second.at) == (NOW, NOW + timedelta(seconds=1))
    assert webhooks.pace_state(URL).next_at == NOW + timedelta(seconds=2)
    assert webhooks.pace_state(URL + "/other") == PaceState()


def test_instances_reserving_at_once_never_share_a_slot(database_url: str) -> None:
    storages = [Storage.open(database_url) for _ in range(4)]
    slots: list[datetime] = []
    lock = threading.Lock()

    def take(webhooks: Webhooks) -> None:
        for _ in range(10):
            slot = webhooks.update_pace(URL, lambda s: pacing.reserve(s, Pace(interval=1.0), NOW, timedelta(hours=1)))
            assert slot.at is not None
            with lock:
                slots.append(slot.at)

    try:
        threads = [threading.Thread(target=take, args=(Webhooks(storage),)) for storage in storages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for storage in storages:
            storage.close()
    assert sorted(slots) == [NOW + timedelta(seconds=n) for n in range(40)]
