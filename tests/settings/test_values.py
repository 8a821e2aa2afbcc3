"""The values a settings file may hold: durations and their bounds, URLs, listen addresses, database URLs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from monitor.settings.values import (
    FAST_POLLING,
    database_problem,
    parse_duration,
    split_listen,
    too_deep,
    url_problem,
    webhook_url,
    within,
    written,
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("inf"), "not a finite number"),
        (float("nan"), "not a finite number"),
        (1e308, "too long: the most is 36500d"),
        ("9" * 400 + "s", "not a finite number"),
        ("99999999999d", "too long"),
        (1e-9, "shorter than 1ms"),
        ("0.1ms", "shorter than 1ms"),
        (-5, "must be positive"),
        (0, "must be positive"),
        ([1], "expected a duration"),
    ],
)
def test_parse_duration_refuses_what_no_timedelta_should_hold(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_the_longest_duration_is_accepted() -> None:
    assert parse_duration("36500d") == timedelta(days=36500)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "10s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=7), "7d"),
        (timedelta(milliseconds=1), "1ms"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(days=99999999), "99999999d"),
    ],
)
def test_written(delta: timedelta, text: str) -> None:
    assert written(delta) == text


class Poll(BaseModel):
    every: Annotated[timedelta, within("10s", "7d", "it burdens the server", fast_floor="1s")]


class Window(BaseModel):
    span: Annotated[timedelta, within("1m", "30d", why_ceiling="it is kept in memory")]


@pytest.mark.parametrize(
    ("model", "value", "fast", "expected"),
    [
        (Poll, "10s", False, timedelta(seconds=10)),
        (Poll, 604800, False, timedelta(days=7)),
        (Poll, timedelta(minutes=5), False, timedelta(minutes=5)),
        (Poll, "3s", True, timedelta(seconds=3)),
        (
            Poll,
            "3s",
            False,
            "3s is too short: the least is 10s, since it burdens the server (for a feed server of your own, "
            "[scheduler] allow_fast_polling = true lowers it to 1s)",
        ),
        (Poll, "1ms", False, "1ms is too short: the least is 10s, since it burdens the server"),
        (Poll, "500ms", True, "500ms is too short: the least is 1s"),
        (Poll, "8d", True, "8d is too long: the most is 7d"),
        (Poll, 1e308, False, "1e+308s is too long: the most is 7d"),
        (Poll, float("inf"), False, "duration inf is not a finite number of seconds"),
        (Window, "99999999d", False, "99999999d is too long: the most is 30d, since it is kept in memory"),
        (Window, "59s", False, "59s is too short: the least is 1m"),
        (Window, "30d", False, timedelta(days=30)),
    ],
)
def test_within(model: type[BaseModel], value: object, fast: bool, expected: timedelta | str) -> None:
    field = next(iter(model.model_fields))
    if isinstance(expected, timedelta):
        assert getattr(model.model_validate({field: value}, context={FAST_POLLING: fast}), field) == expected
        return
    with pytest.raises(ValidationError) as caught:
        model.model_validate({field: value}, context={FAST_POLLING: fast})
    (error,) = caught.value.errors()
    assert error["msg"].removeprefix("Value error, ") == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://www.lemonde.fr/rss.xml", None),
        ("http://[::1]:8080/feed", None),
        ("http://127.0.0.1:1/feed.xml", None),
        ("https://exämple.org/feed", None),
        ("http://intranet/feed", None),
        ("ftp://example.org/", "must be an http:// or https:// URL"),
        ("http://[::1/x", "not a valid URL: Invalid port"),
        ("http://example.org:99999/", "port 99999 is not from 1 to 65535"),
        ("http://example.org:0/", "port 0 is not from 1 to 65535"),
        ("http://a b/", "bad host 'a%20b'"),
        ("http:///feed", "with a host"),
        ("http://xn--/", "bad host 'xn--'"),
        ("http://999.1.1.1/", "not a valid URL"),
        ("http://exa\x01mple.org/", "non-printable"),
        ("http://h:abc/", "Invalid port"),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    found = url_problem(url, quote=True)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    "url",
    [
        "https://[hooks.example.test/services/T0/B0/sekrit",
        "https://hooks.example.test:99999/services/T0/B0/sekrit",
        "https://hooks example.test/services/T0/B0/sekrit",
        "https://hooks.example.test/services/T0/B0/sekrit\x01",
    ],
)
def test_a_webhook_url_problem_never_quotes_the_url(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        webhook_url(SecretStr(url))
    assert "sekrit" not in str(caught.value) and "hooks" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:///monitor.db", None),
        ("sqlite://", None),
        ("postgresql+psycopg://monitor:hunter2@db.internal/monitor", None),
        ("nosuchdriver://x", "unknown database 'nosuchdriver'"),
        ("mysql://monitor:hunter2@db/monitor", "unknown database 'mysql'"),
        ("postgresql+nosuch://monitor:hunter2@db/monitor", "unknown postgresql driver 'nosuch'"),
        ("postgresql://monitor:hunter2@db/monitor", "driver 'psycopg2' is not installed"),
        ("postgresql+asyncpg://monitor:hunter2@db/monitor", "asynchronous"),
        ("monitor:hunter2@db", "not a database URL"),
        ("sqlite:///a\x00b", "NUL character"),
    ],
)
def test_database_problem(url: str, problem: str | None) -> None:
    found = database_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and "hunter2" not in found


@pytest.mark.parametrize(
    ("listen", "message"),
    [("exa mple:80", "not a host name or IP address"), ("[nope]:80", "not an IPv6 address"), ("999.1.1.1:80", "not")],
)
def test_split_listen_refuses_bad_hosts(listen: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_listen(listen)


@pytest.mark.parametrize(
    ("value", "limit", "deep"),
    [
        ({"a": {"b": [1, 2]}}, 3, None),
        ({"a": {"b": [[1]]}}, 3, ("a", "b", 0)),
        ({"x": 1, "a": [{"b": {}}]}, 2, ("a", 0)),
    ],
)
def test_too_deep(value: object, limit: int, deep: tuple[str | int, ...] | None) -> None:
    assert too_deep(value, limit) == deep


def test_too_deep_walks_thousands_of_levels_without_recursion() -> None:
    value: object = 1
    for _ in range(5000):
        value = [value]
    assert too_deep(value, 16) == (0,) * 16
