from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from monitor.config import DeliverySettings, WebhookSettings, parse_duration
from monitor.delivery import drain, next_attempt, parse_retry_after
from monitor.ingest.article import ParsedArticle
from monitor.storage import NewAlert, Storage

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "https://hooks.example.test/services/T000/B000/XXXXsecretXXXX"


def settings(*delays: str, give_up: str = "24h") -> DeliverySettings:
    return DeliverySettings(
        retry_delays=[parse_duration(d) for d in delays] or DeliverySettings().retry_delays,
        give_up_after=parse_duration(give_up),
    )


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


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Thu, 01 Jan 2026 12:01:00 GMT", 60.0),
        ("garbage", None),
        (None, None),
        ("-3", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    store = Storage.open(f"sqlite:///{tmp_path / 'd.db'}")
    with store.transaction() as tx:
        stored = tx.save_new_articles(
            [ParsedArticle("k", "world", "Le sommet de l'Otan", "texte", url="https://x.test/a", published=NOW)], NOW
        )
        tx.record_alerts([NewAlert(stored[0], "NATO", "otan", ("Otan",), "title", "**Otan**", ("chat",))], NOW)
    yield store
    store.close()


def test_drain_sends_and_marks_sent(storage: Storage) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    hooks = {"chat": WebhookSettings(url=SecretStr(SECRET_URL), format="generic")}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = drain(storage, hooks, client, settings(), clock=lambda: NOW)
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    body = json.loads(seen[0].content)
    assert body["rule"] == {"name": "NATO", "query": "otan"}
    assert seen[0].headers["webhook-id"].startswith("msg_")
    assert storage.delivery_counts() == {"sent": 1}


@pytest.mark.parametrize("status", [301, 404, 429, 500, 503])
def test_non_2xx_is_retried_and_the_error_is_redacted(storage: Storage, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=f"bad things at {request.url}", headers={"Location": SECRET_URL})

    hooks = {"chat": WebhookSettings(url=SecretStr(SECRET_URL), format="slack")}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = drain(storage, hooks, client, settings(), clock=lambda: NOW)
    assert report.retried == 1
    with storage.engine.connect() as connection:
        error = connection.exec_driver_sql("SELECT last_error FROM deliveries").scalar()
    assert f"HTTP {status} from https://hooks.example.test/" in error
    assert "secret" not in error and "T000" not in error


def test_connection_errors_are_retried(storage: Storage) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    hooks = {"chat": WebhookSettings(url=SecretStr(SECRET_URL), format="discord")}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = drain(storage, hooks, client, settings(), clock=lambda: NOW)
    assert report.retried == 1
    with storage.engine.connect() as connection:
        error = connection.exec_driver_sql("SELECT last_error FROM deliveries").scalar()
    assert "secret" not in error and "cannot reach" in error


def test_discord_is_posted_with_wait(storage: Storage) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "1"})

    hooks = {"chat": WebhookSettings(url=SecretStr(SECRET_URL), format="discord")}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drain(storage, hooks, client, settings(), clock=lambda: NOW)
    assert seen[0].url.params["wait"] == "true"
    assert json.loads(seen[0].content)["allowed_mentions"] == {"parse": []}


def test_dead_after_give_up(storage: Storage) -> None:
    later = NOW + timedelta(hours=30)
    hooks = {"chat": WebhookSettings(url=SecretStr(SECRET_URL), format="generic")}
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        report = drain(storage, hooks, client, settings(), clock=lambda: later)
    assert report.dead == 1
    assert storage.delivery_counts() == {"dead": 1}


def test_unknown_webhook_is_kept_for_retry(storage: Storage) -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        report = drain(storage, {}, client, settings(), clock=lambda: NOW)
    assert report.retried == 1
    assert storage.delivery_counts() == {"pending": 1}
