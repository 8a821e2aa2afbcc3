from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.delivery import pacing
from monitor.delivery.pacing import Pace, Slot
from monitor.ingest.article import ParsedArticle
from monitor.store.alerts import NewAlert, digest_window
from monitor.store.message import OPENING_CHARS
from monitor.store.outbox import Outbox, Sent
from monitor.store.storage import Storage
from monitor.store.webhooks import PaceState, Turn, url_digest

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    storage = Storage.open(database_url)
    yield Outbox(storage)
    storage.close()


def record(outbox: Outbox, key: str, webhooks: tuple[str, ...], digest: timedelta | None = None) -> None:
    with outbox.storage.transaction() as tx:
        (stored,) = tx.save_new_articles([ParsedArticle(key, "feed", f"Title {key}", "text")], NOW)
        tx.record_alerts([NewAlert(stored, "r", "q", ("w",), "text", "s", webhooks, digest)], NOW)


def test_claim_send_retry_and_die(outbox: Outbox) -> None:
    record(outbox, "a", ("hook",))
    (due,) = outbox.claim(NOW, timedelta(minutes=1), 10)
    assert due.webhook == "hook" and due.attempts == 0 and due.uid.startswith("msg_")
    assert due.alert.rule == "r" and due.alert.matched == ("w",) and due.digest_key is None
    assert outbox.claim(NOW, timedelta(minutes=1), 10) == []  # leased
    outbox.mark_failed([due.id], "webhook 'hook': HTTP 500", 500, NOW + timedelta(seconds=5))
    assert outbox.claim(NOW, timedelta(minutes=1), 10) == []  # not due yet
    (retry,) = outbox.claim(NOW + timedelta(seconds=6), timedelta(minutes=1), 10)
    assert retry.uid == due.uid and retry.attempts == 1
    outbox.mark_failed([retry.id], "gone", 500, None)
    assert outbox.counts() == {"dead": 1}
    assert outbox.requeue_dead(NOW + timedelta(hours=1)) == 1
    (again,) = outbox.claim(NOW + timedelta(hours=1), timedelta(minutes=1), 10)
    assert again.uid == due.uid and again.queued_at == NOW + timedelta(hours=1)


def test_an_expired_lease_is_claimed_again(outbox: Outbox) -> None:
    record(outbox, "a", ("hook",))
    (first,) = outbox.claim(NOW, timedelta(seconds=30), 10)
    (second,) = outbox.claim(NOW + timedelta(seconds=31), timedelta(seconds=30), 10)
    assert first.uid == second.uid


def test_claims_per_webhook_and_due_webhooks(outbox: Outbox) -> None:
    record(outbox, "a", ("one", "two"))
    record(outbox, "b", ("two",))
    assert outbox.due_webhooks(NOW) == ["one", "two"]
    assert [d.webhook for d in outbox.claim(NOW, timedelta(minutes=1), 10, webhook="two")] == ["two", "two"]
    assert outbox.due_webhooks(NOW) == ["one"]


def test_hold_does_not_count_an_attempt(outbox: Outbox) -> None:
    record(outbox, "a", ("hook",))
    (due,) = outbox.claim(NOW, timedelta(minutes=1), 10)
    outbox.hold([due.id], NOW + timedelta(hours=1), digest_key="budget|hook|1")
    assert outbox.claim(NOW + timedelta(minutes=59), timedelta(minutes=1), 10) == []
    (held,) = outbox.claim(NOW + timedelta(hours=1), timedelta(minutes=1), 10)
    assert held.attempts == 0 and held.digest_key == "budget|hook|1"


def test_digest_deliveries_wait_for_their_window(outbox: Outbox) -> None:
    record(outbox, "a", ("hook",), digest=timedelta(hours=1))
    record(outbox, "b", ("hook",), digest=timedelta(hours=1))
    closes, key = digest_window("r", timedelta(hours=1), NOW)
    assert closes == NOW + timedelta(hours=1) and key == "r|2026-01-01T12:00:00+00:00"
    assert outbox.claim(NOW + timedelta(minutes=59), timedelta(minutes=1), 10) == []
    batch = outbox.claim(closes, timedelta(minutes=1), 10)
    assert [d.digest_key for d in batch] == [key, key]


def test_alerts_listing_and_requeue_by_alert(outbox: Outbox) -> None:
    record(outbox, "a", ("one", "two"))
    record(outbox, "b", ("one",))
    due = outbox.claim(NOW, timedelta(minutes=1), 10, webhook="one")
    outbox.mark_sent([due[0].id], 200, NOW, "chat", "https://chat.test/x")
    outbox.mark_failed([due[1].id], "webhook 'one': HTTP 404", 404, None)
    views = outbox.alerts()
    assert [v.alert.article.title for v in views] == ["Title b", "Title a"]
    assert {(d.webhook, d.status) for d in views[1].deliveries} == {("one", "sent"), ("two", "pending")}
    dead = outbox.alerts(status="dead")
    assert [v.alert.id for v in dead] == [due[1].alert.id]
    assert outbox.requeue_dead(NOW, [due[0].alert.id]) == 0
    assert outbox.requeue_dead(NOW, [due[1].alert.id]) == 1
    assert outbox.counts() == {"pending": 2, "sent": 1}


def test_webhook_state_remembers_dead_and_gone_without_the_url(outbox: Outbox) -> None:
    url = "https://discord.test/api/webhooks/1/s3cret"
    assert outbox.webhooks.note("chat", url, NOW, dead=2, error="HTTP 500") == 2
    assert outbox.webhooks.note("chat", url, NOW, dead=1, disable="deleted") == 3
    assert outbox.webhooks.disabled_reason("chat", url) == "deleted"
    assert outbox.webhooks.disabled_reason("chat", url + "x") is None  # another URL lifts the verdict
    health = outbox.webhooks.health()["chat"]
    assert health.consecutive_dead == 3 and health.disabled_reason == "deleted"
    with outbox.storage.transaction() as tx:
        outbox.webhooks.note_sent(tx, "chat", url, NOW)
    assert outbox.webhooks.health()["chat"].consecutive_dead == 0
    assert outbox.webhooks.health()["chat"].last_success_at == NOW
    with outbox.storage.transaction() as tx:
        outbox.webhooks.note_sent(tx, "chat", url + "x", NOW)  # another URL: starts afresh
    assert outbox.webhooks.disabled_reason("chat", url) is None
    with outbox.storage.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM webhook_states").all()
    assert "s3cret" not in repr(rows) and url_digest(url + "x") in repr(rows)


def test_concurrent_workers_never_claim_the_same_delivery(outbox: Outbox) -> None:
    for n in range(40):
        record(outbox, f"k{n}", ("hook",))
    claimed: list[list[int]] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            batch = outbox.claim(NOW, timedelta(minutes=5), 3)
            if not batch:
                return
            with lock:
                claimed.append([d.id for d in batch])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 40


def test_a_message_carries_plain_snippet_highlights_and_the_opening_of_the_text(outbox: Outbox) -> None:
    text = "**Breaking**: " + "word " * 400
    with outbox.storage.transaction() as tx:
        (stored,) = tx.save_new_articles([ParsedArticle("h", "feed", "NATO summit opens", text)], NOW)
        alert = NewAlert(stored, "r", "q", ("NATO",), "title", "NATO summit opens", ("hook",), highlights=((0, 4),))
        (recorded,) = tx.record_alerts([alert], NOW)
    (due,) = outbox.claim(NOW, timedelta(minutes=1), 10)
    for message in (recorded, due.alert, outbox.alerts()[0].alert):
        assert (message.snippet, message.highlights, message.field) == ("NATO summit opens", ((0, 4),), "title")
        assert message.opening == text[:OPENING_CHARS] and len(message.opening) == OPENING_CHARS


def reserve_every_second(state: PaceState) -> tuple[PaceState, Slot]:
    return pacing.reserve(state, Pace(interval=1.0), NOW, timedelta(hours=1))


def test_a_turn_records_the_last_request_sent_whatever_becomes_of_the_lease(outbox: Outbox) -> None:
    url, lease = "https://chat.test/hook", timedelta(seconds=35)
    record(outbox, "a", ("hook",))
    record(outbox, "b", ("hook",))
    first, second = outbox.claim(NOW, lease, 10)
    assert outbox.webhooks.take_lease("hook", url, "me", NOW, lease)
    turn = Turn("hook", "me", NOW + timedelta(seconds=1), lease, url)
    assert outbox.take_turn(turn, reserve_every_second) == Slot(NOW)
    sent = Sent((first.id,), 204, NOW + timedelta(seconds=2), url)
    later = replace(turn, now=NOW + timedelta(seconds=2))
    assert outbox.take_turn(later, reserve_every_second, sent) == Slot(NOW + timedelta(seconds=1))
    assert outbox.counts() == {"sent": 1, "pending": 1}
    assert outbox.webhooks.health()["hook"].last_success_at == NOW + timedelta(seconds=2)
    assert outbox.webhooks.pace_state(url).next_at == NOW + timedelta(seconds=2)
    # Stalled past its lease: the last request is recorded, the next is refused and the pace left as it was.
    late = replace(turn, now=NOW + timedelta(seconds=60))
    assert outbox.take_turn(late, reserve_every_second, Sent((second.id,), 200, late.now, url)) is None
    assert outbox.counts() == {"sent": 2}
    assert outbox.webhooks.pace_state(url).next_at == NOW + timedelta(seconds=2)


def test_a_turn_noting_a_success_at_a_new_url_starts_its_health_afresh(outbox: Outbox) -> None:
    url, lease = "https://chat.test/hook", timedelta(seconds=35)
    record(outbox, "a", ("hook",))
    (due,) = outbox.claim(NOW, lease, 10)
    assert outbox.webhooks.take_lease("hook", url, "me", NOW, lease)
    outbox.webhooks.note("hook", url, NOW, dead=2, error="HTTP 500", disable="gone")
    moved = url + "/new"
    turn = Turn("hook", "me", NOW, lease, moved)
    assert outbox.take_turn(turn, reserve_every_second, Sent((due.id,), 200, NOW, moved)) == Slot(NOW)
    health = outbox.webhooks.health()["hook"]
    assert (health.consecutive_dead, health.disabled_reason, health.last_success_at) == (0, None, NOW)
    assert outbox.counts() == {"sent": 1}


def test_turns_taken_at_once_on_one_url_never_share_a_slot(database_url: str) -> None:
    url, lease = "https://chat.test/shared", timedelta(hours=1)
    storages = [Storage.open(database_url) for _ in range(4)]
    slots: list[datetime] = []
    lock = threading.Lock()

    def take(number: int, outbox: Outbox) -> None:
        name = f"hook{number}"  # names sharing one URL, each sent to by its own holder
        assert outbox.webhooks.take_lease(name, url, name, NOW, lease)
        for _ in range(10):
            slot = outbox.take_turn(Turn(name, name, NOW, lease, url), reserve_every_second)
            assert slot is not None and slot.at is not None
            with lock:
                slots.append(slot.at)

    try:
        threads = [threading.Thread(target=take, args=(n, Outbox(s))) for n, s in enumerate(storages)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for storage in storages:
            storage.close()
    assert sorted(slots) == [NOW + timedelta(seconds=n) for n in range(40)]
