from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.pacing import Pace, next_attempt
from monitor.ingest.article import ParsedArticle
from monitor.settings.config import DeliverySettings, RuleSettings, WebhookSettings, parse_duration
from monitor.store.alerts import NewAlert
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "https://hooks.example.test/services/T000/B000/XXXXsecretXXXX"
Handler = Callable[[httpx.Request], httpx.Response]


def settings(*delays: str, give_up: str = "24h") -> DeliverySettings:
    return DeliverySettings(
        retry_delays=[parse_duration(d) for d in delays] or DeliverySettings().retry_delays,
        give_up_after=parse_duration(give_up),
        timeout=parse_duration("5s"),
    )


def hook(format: str = "generic", url: str = SECRET_URL, secret: str | None = None) -> WebhookSettings:
    return WebhookSettings(url=SecretStr(url), format=format, secret=SecretStr(secret) if secret else None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempts", "base"),
    [(1, 5), (2, 30), (3, 120), (4, 600), (5, 1800), (6, 3600), (7, 7200), (12, 7200)],
)
def test_retry_schedule_grows_with_jitter(attempts: int, base: float) -> None:
    when = next_attempt(attempts, NOW, NOW, settings(), rng=random.Random(attempts))
    assert when is not None
    assert base * 0.8 <= (when - NOW).total_seconds() <= base * 1.2


def test_retry_after_is_the_earliest_next_attempt() -> None:
    when = next_attempt(1, NOW, NOW, settings(), retry_after=120)
    assert when is not None and (when - NOW).total_seconds() >= 120


def test_gives_up_after_the_limit() -> None:
    assert next_attempt(3, NOW - timedelta(hours=23, minutes=59), NOW, settings(give_up="24h")) is None


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    storage = Storage.open(database_url)
    yield Outbox(storage)
    storage.close()


def record(outbox: Outbox, count: int = 1, webhooks: tuple[str, ...] = ("chat",), digest: bool = False) -> None:
    with outbox.storage.transaction() as tx:
        for n in range(count):
            article = ParsedArticle(
                f"k{n}-{time.monotonic_ns()}",
                "world",
                f"Le sommet de l'Otan {n}",
                "texte",
                url="https://x.test/a",
                published=NOW,
            )
            (stored,) = tx.save_new_articles([article], NOW)
            every = timedelta(hours=1) if digest else None
            tx.record_alerts([NewAlert(stored, "NATO", "otan", ("Otan",), "title", "**Otan**", webhooks, every)], NOW)


def drain(
    outbox: Outbox,
    webhooks: dict[str, WebhookSettings],
    handler: Handler,
    delivery: DeliverySettings | None = None,
    when: datetime = NOW,
    rules: dict[str, RuleSettings] | None = None,
):  # type: ignore[no-untyped-def]
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        dispatcher = Dispatcher(outbox, client, clock=lambda: when)
        try:
            return dispatcher.drain(webhooks, rules or {}, delivery or settings())
        finally:
            dispatcher.close()


def last_error(outbox: Outbox) -> str:
    with outbox.storage.engine.connect() as connection:
        return str(connection.exec_driver_sql("SELECT last_error FROM deliveries").scalar())


def test_drain_sends_and_marks_sent(outbox: Outbox) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    record(outbox)
    report = drain(outbox, {"chat": hook()}, handler)
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    body = json.loads(seen[0].content)
    assert body["rule"] == {"name": "NATO", "query": "otan"}
    assert seen[0].headers["webhook-id"].startswith("msg_")
    assert "webhook-signature" not in seen[0].headers
    assert outbox.counts() == {"sent": 1}


@pytest.mark.parametrize("status", [301, 408, 429, 500, 503, 413])
def test_transient_failures_are_retried_and_redacted(outbox: Outbox, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=f"bad things at {request.url}", headers={"Location": SECRET_URL})

    record(outbox)
    report = drain(outbox, {"chat": hook("slack")}, handler)
    assert report.retried == 1 and outbox.counts() == {"pending": 1}
    error = last_error(outbox)
    assert f"HTTP {status} from https://hooks.example.test/" in error
    assert "secret" not in error and "T000" not in error


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_permanent_failures_are_dead_at_once(outbox: Outbox, status: int) -> None:
    record(outbox)
    report = drain(outbox, {"chat": hook()}, lambda r: httpx.Response(status))
    assert report.dead == 1 and outbox.counts() == {"dead": 1}
    assert outbox.webhooks.health()["chat"].consecutive_dead == 1


def test_a_deleted_discord_webhook_is_disabled_until_its_url_changes(outbox: Outbox) -> None:
    record(outbox, 2)
    calls: list[httpx.Request] = []

    def gone(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015})

    report = drain(outbox, {"chat": hook("discord")}, gone)
    assert report.dead == 2 and len(calls) == 1  # the second alert is not even tried
    assert outbox.webhooks.health()["chat"].disabled_reason
    record(outbox)
    assert drain(outbox, {"chat": hook("discord")}, gone).dead == 1 and len(calls) == 1
    record(outbox)
    moved = hook("discord", url=SECRET_URL + "-new")
    assert drain(outbox, {"chat": moved}, lambda r: httpx.Response(200, json={"id": "1"})).sent == 1


def test_retry_after_and_discord_retry_after_are_honoured(outbox: Outbox) -> None:
    record(outbox)
    drain(outbox, {"chat": hook()}, lambda r: httpx.Response(429, headers={"Retry-After": "600"}))
    with outbox.storage.engine.connect() as connection:
        due = connection.exec_driver_sql("SELECT next_attempt_at FROM deliveries").scalar()
    assert str(due) >= "2026-01-01 12:10:00"
    outbox.requeue_dead(NOW)  # nothing dead: no change
    record(outbox, webhooks=("discord",))
    discord = hook("discord", url="https://discord.test/api/webhooks/1/x")
    drain(outbox, {"discord": discord}, lambda r: httpx.Response(429, json={"retry_after": 900.5}))
    with outbox.storage.engine.connect() as connection:
        query = "SELECT max(next_attempt_at) FROM deliveries WHERE webhook = 'discord'"
        due = connection.exec_driver_sql(query).scalar()
    assert str(due) >= "2026-01-01 12:15:00"


def test_a_wait_asked_by_one_url_holds_every_webhook_posting_to_it(outbox: Outbox) -> None:
    record(outbox, webhooks=("one",))
    drain(outbox, {"one": hook()}, lambda r: httpx.Response(429, headers={"Retry-After": "600"}))
    record(outbox, webhooks=("two",))
    calls: list[httpx.Request] = []
    report = drain(outbox, {"two": hook()}, lambda r: calls.append(r) or httpx.Response(200))
    assert calls == [] and report.held == 1  # the same URL: held until the wait is over, no attempt counted
    with outbox.storage.engine.connect() as connection:
        query = "SELECT attempts, next_attempt_at FROM deliveries WHERE webhook = 'two'"
        attempts, due = connection.exec_driver_sql(query).one()
    assert attempts == 0 and str(due) >= "2026-01-01 12:10:00"


def test_connection_errors_are_retried(outbox: Outbox) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    record(outbox)
    report = drain(outbox, {"chat": hook("discord")}, handler)
    assert report.retried == 1
    assert "secret" not in last_error(outbox) and "cannot reach" in last_error(outbox)


def test_discord_is_posted_with_wait_and_no_mentions(outbox: Outbox) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "1"})

    record(outbox)
    drain(outbox, {"chat": hook("discord")}, handler)
    assert seen[0].url.params["wait"] == "true"
    assert json.loads(seen[0].content)["allowed_mentions"] == {"parse": []}


def test_dead_after_give_up(outbox: Outbox) -> None:
    record(outbox)
    report = drain(outbox, {"chat": hook()}, lambda r: httpx.Response(500), when=NOW + timedelta(hours=30))
    assert report.dead == 1 and outbox.counts() == {"dead": 1}


def test_unknown_webhook_is_kept_for_retry(outbox: Outbox) -> None:
    record(outbox)
    report = drain(outbox, {}, lambda r: httpx.Response(200))
    assert report.retried == 1 and outbox.counts() == {"pending": 1}


def test_generic_is_signed_when_it_has_a_secret(outbox: Outbox) -> None:
    from standardwebhooks.webhooks import Webhook

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    record(outbox)
    drain(outbox, {"chat": hook(secret=secret)}, handler)
    request = seen[0]
    payload = Webhook(secret).verify(request.content, dict(request.headers))
    assert payload["type"] == "monitor.alert"
    assert request.headers["webhook-id"].startswith("msg_")


def test_digest_rules_send_one_message_per_window(outbox: Outbox) -> None:
    record(outbox, 3, digest=True)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    rules = {"NATO": RuleSettings(name="NATO", query="otan", delivery="digest")}
    assert drain(outbox, {"chat": hook()}, handler, rules=rules).sent == 0  # the window is still open
    report = drain(outbox, {"chat": hook()}, handler, when=NOW + timedelta(hours=1), rules=rules)
    assert report.sent == 3 and len(seen) == 1
    body = json.loads(seen[0].content)
    assert body["type"] == "monitor.digest" and len(body["alerts"]) == 3


def test_teams_past_its_hourly_budget_sends_one_digest(outbox: Outbox) -> None:
    record(outbox, 103)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        # No waiting in the test: the clock stands still.
        dispatcher = Dispatcher(outbox, client, clock=lambda: NOW, paces={"teams": Pace(interval=0.0, per_hour=100)})
        try:
            report = dispatcher.drain({"chat": hook("teams")}, {}, settings())
        finally:
            dispatcher.close()
    assert report.sent == 100 and report.held == 3 and len(seen) == 100
    with outbox.storage.engine.connect() as connection:
        query = "SELECT digest_key FROM deliveries WHERE status = 'pending'"
        keys = {row[0] for row in connection.exec_driver_sql(query)}
    assert len(keys) == 1 and next(iter(keys)).startswith("budget|chat|")


def test_a_hanging_webhook_does_not_delay_another(outbox: Outbox) -> None:
    record(outbox, 1, webhooks=("slow", "fast"))
    release = threading.Event()
    fast_done: list[float] = []
    started = time.monotonic()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.test":
            release.wait(3)
            return httpx.Response(200)
        fast_done.append(time.monotonic() - started)
        return httpx.Response(200)

    webhooks = {"slow": hook(url="https://slow.test/x"), "fast": hook(url="https://fast.test/y")}
    report = drain(outbox, webhooks, handler)
    assert report.sent == 2
    assert fast_done and fast_done[0] < 1.0


def test_two_rooms_of_one_matrix_bot_share_its_pace(outbox: Outbox) -> None:
    record(outbox, webhooks=("room-a", "room-b"))
    paths: list[str] = []

    def homeserver(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"event_id": "$e"})

    keys = {"format": "matrix", "url": "https://matrix.example.test", "token": "syt_one_bot"}
    hooks = {
        "room-a": WebhookSettings.model_validate(keys | {"room": "!a:example.test"}),
        "room-b": WebhookSettings.model_validate(keys | {"room": "!b:example.test"}),
    }
    assert drain(outbox, hooks, homeserver).sent == 2
    assert sorted(path.split("/rooms/")[1].split("/")[0] for path in paths) == [
        "%21a%3Aexample.test",
        "%21b%3Aexample.test",
    ]
    with outbox.storage.engine.connect() as connection:
        # One bot, one pace (not one per room): the second send took the slot after the first.
        assert connection.exec_driver_sql("SELECT count(*) FROM webhook_paces").scalar() == 1
        next_at = connection.exec_driver_sql("SELECT next_at FROM webhook_paces").scalar()
    assert str(next_at).startswith("2026-01-01 12:00:02")


def test_a_rule_priority_reaches_ntfy(outbox: Outbox) -> None:
    record(outbox, webhooks=("phone",))
    published: list[dict[str, object]] = []

    def ntfy(request: httpx.Request) -> httpx.Response:
        published.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "x", "event": "message"})

    phone = WebhookSettings.model_validate({"format": "ntfy", "url": "https://ntfy.example.test/alerts"})
    rules = {"NATO": RuleSettings(name="NATO", query="otan", priority="urgent")}
    assert drain(outbox, {"phone": phone}, ntfy, rules=rules).sent == 1
    (message,) = published
    assert (
        message["topic"] == "alerts" and message["priority"] == 5 and message["title"] == "NATO: Le sommet de l'Otan 0"
    )
