"""A feed's state across polls: failure kinds, back-off, Retry-After, ttl and max-age, 410 Gone, due or not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from monitor.pipeline import Pipeline
from monitor.settings.config import FeedSettings, load_settings
from monitor.store.feeds import FeedState
from monitor.store.storage import Storage
from tests.conftest import FIXTURES

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
M15 = timedelta(minutes=15)
RSS = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
SETTINGS = """
[database]
url = "sqlite:///p.db"
[seeds]
enabled = false
[[feeds]]
name = "desk"
url = "http://feeds.test/desk.xml"
"""

Answer = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def answers() -> list[Answer]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pipe(tmp_path: Path, answers: list[Answer], clock: Clock) -> Iterator[Pipeline]:
    (tmp_path / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml", {})
    storage = Storage.open(settings.database.url)
    with httpx.Client(transport=httpx.MockTransport(lambda request: answers.pop(0)(request))) as client:
        pipeline = Pipeline(settings, storage, client, lambda _alert: None, clock=clock)
        yield pipeline
        pipeline.close()
    storage.close()


def respond(status: int, content: bytes = b"", **headers: str) -> Answer:
    return lambda _request: httpx.Response(status, content=content, headers=headers)


def fail(error: type[httpx.HTTPError]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error("down", request=request)

    return answer


def state(pipe: Pipeline) -> FeedState:
    feed = pipe.settings.feeds[0]
    return pipe.storage.feed_state(feed.name, feed.url)


def error_kind(pipe: Pipeline) -> str | None:
    (health,) = pipe.storage.feed_health([("desk", "http://feeds.test/desk.xml")], NOW - timedelta(days=1))
    return health.error_kind


@pytest.mark.parametrize(
    ("answer", "kind", "wait", "disabled"),
    [
        (respond(500), "http", 2 * M15, False),
        (respond(503, **{"Retry-After": "7200"}), "http", timedelta(hours=2) + M15 / 5, False),
        (respond(429, **{"Retry-After": "Thu, 01 Jan 2026 15:00:00 GMT"}), "http", timedelta(hours=3) + M15 / 5, False),
        (respond(500, **{"Retry-After": "7200"}), "http", 2 * M15, False),  # only 429 and 503 ask us to wait
        (respond(429, **{"Retry-After": "999999"}), "http", timedelta(hours=24) + M15 / 5, False),
        (respond(410), "http", None, True),
        (respond(200, (FIXTURES / "feeds" / "not-a-feed.html").read_bytes()), "not_a_feed", 2 * M15, False),
        (respond(200, b'<rss version="2.0"><channel><item><title>&#xD800;</title></item>'), "parse", 2 * M15, False),
        (respond(200, b"x" * (15 * 1024 * 1024 + 1)), "too_large", 2 * M15, False),
        (fail(httpx.ConnectError), "connect", 2 * M15, False),
        (fail(httpx.ReadTimeout), "timeout", 2 * M15, False),
    ],
)
def test_a_failure_is_classified_and_backs_off(
    pipe: Pipeline, answers: list[Answer], answer: Answer, kind: str, wait: timedelta | None, disabled: bool
) -> None:
    answers.append(answer)
    assert pipe.refresh_feed(pipe.settings.feeds[0]) == []
    after = state(pipe)
    assert error_kind(pipe) == kind
    assert after.consecutive_failures == 1
    assert after.next_poll_at == (None if wait is None else NOW + wait)
    assert (after.disabled_reason is not None) is disabled


def test_back_off_doubles_and_a_success_resets_it(pipe: Pipeline, answers: list[Answer], clock: Clock) -> None:
    feed = pipe.settings.feeds[0]
    waits = []
    for _ in range(8):
        answers.append(respond(503))
        pipe.refresh_feed(feed)
        waits.append(state(pipe).next_poll_at - clock.now)  # type: ignore[operator]
        clock.now += timedelta(hours=1)
    assert waits == [M15 * 2**n for n in range(1, 7)] + [timedelta(hours=24)] * 2
    answers.append(respond(200, RSS, **{"Cache-Control": "max-age=60"}))
    assert len(pipe.refresh_feed(feed)) == 0  # no rules: no alerts, but the articles are stored
    after = state(pipe)
    assert after.consecutive_failures == 0 and after.next_poll_at == clock.now + M15
    assert error_kind(pipe) is None


@pytest.mark.parametrize(
    ("content", "headers", "wait"),
    [
        (RSS, {}, M15),
        (RSS, {"Cache-Control": "max-age=3600"}, timedelta(hours=1) + M15 / 5),
        (RSS.replace(b"<language>", b"<ttl>120</ttl><language>"), {}, timedelta(hours=2) + M15 / 5),
        (RSS.replace(b"<language>", b"<ttl>5</ttl><language>"), {}, M15),
        (RSS.replace(b"<language>", b"<ttl>99999</ttl><language>"), {}, timedelta(hours=24) + M15 / 5),
    ],
)
def test_ttl_and_max_age_set_the_earliest_next_poll(
    pipe: Pipeline, answers: list[Answer], content: bytes, headers: dict[str, str], wait: timedelta
) -> None:
    answers.append(respond(200, content, **headers))
    pipe.refresh_feed(pipe.settings.feeds[0])
    assert state(pipe).next_poll_at == NOW + wait


def test_not_modified_costs_no_parsing_and_keeps_the_validators(pipe: Pipeline, answers: list[Answer]) -> None:
    answers.append(respond(200, RSS, ETag='"v1"'))
    pipe.refresh_feed(pipe.settings.feeds[0])
    seen: list[httpx.Request] = []

    def not_modified(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304, headers={"Cache-Control": "max-age=7200"})

    answers.append(not_modified)
    assert pipe.refresh_feed(pipe.settings.feeds[0]) == []
    assert seen[0].headers["if-none-match"] == '"v1"'
    after = state(pipe)
    assert after.etag == '"v1"' and after.next_poll_at == NOW + timedelta(hours=2) + M15 / 5


def test_a_304_poll_takes_one_statement_to_claim_the_feed_and_one_to_record_it(
    pipe: Pipeline, answers: list[Answer], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = pipe.settings.feeds[0]
    answers.append(respond(200, RSS, ETag='"v1"'))
    pipe.refresh_feed(feed)
    seen: list[httpx.Request] = []

    def not_modified(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304)

    answers.append(not_modified)
    monkeypatch.setattr(pipe.feeds, "_make_client", lambda: pipe.client)  # the poller fetches with the mock
    statements: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    event.listen(pipe.storage.engine, "before_cursor_execute", record)
    try:
        clock.now = NOW + M15
        pipe.poll_feed(feed)  # the feed job: claims the feed, reading its state, and queues it
        assert pipe.feeds.wait(10)
    finally:
        event.remove(pipe.storage.engine, "before_cursor_execute", record)
    assert seen[0].headers["if-none-match"] == '"v1"'  # the state read by the claim
    assert [word for word in statements if word != "BEGIN"] == ["UPDATE", "UPDATE"]
    after = state(pipe)
    assert after.etag == '"v1"' and after.next_poll_at == clock.now + M15
    assert error_kind(pipe) is None


class Queued:
    def __init__(self) -> None:
        self.feeds: list[str] = []

    def poll(self, feeds: list[FeedSettings]) -> int:
        self.feeds.extend(feed.name for feed in feeds)
        return len(feeds)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("answer", "later", "queued"),
    [
        (None, timedelta(0), True),  # never polled
        (respond(200, RSS), timedelta(minutes=14), True),
        (respond(200, RSS), timedelta(minutes=5), False),
        (respond(500), timedelta(minutes=15), False),  # backed off to 30 minutes
        (respond(500), timedelta(minutes=30), True),
        (respond(503, **{"Retry-After": "3600"}), timedelta(minutes=45), False),
        (respond(503, **{"Retry-After": "3600"}), timedelta(minutes=60), True),
        (respond(410), timedelta(days=30), False),  # gone: disabled
    ],
)
def test_a_feed_job_queues_only_a_due_feed(
    pipe: Pipeline,
    answers: list[Answer],
    clock: Clock,
    answer: Answer | None,
    later: timedelta,
    queued: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if answer is not None:
        answers.append(answer)
        pipe.refresh_feed(pipe.settings.feeds[0])
    fake = Queued()
    monkeypatch.setattr(pipe, "feeds", fake)
    clock.now = NOW + later
    pipe.poll_feed(pipe.settings.feeds[0])
    assert fake.feeds == (["desk"] if queued else [])


def test_a_gone_feed_comes_back_when_its_url_changes(pipe: Pipeline, answers: list[Answer]) -> None:
    answers.append(respond(410))
    pipe.refresh_feed(pipe.settings.feeds[0])
    assert state(pipe).disabled_reason is not None
    moved = pipe.settings.feeds[0].model_copy(update={"url": "http://feeds.test/new.xml"})
    assert pipe.storage.feed_state(moved.name, moved.url) == FeedState()
    answers.append(respond(200, RSS))
    pipe.refresh_feed(moved)
    after = pipe.storage.feed_state(moved.name, moved.url)
    assert after.disabled_reason is None and after.consecutive_failures == 0
