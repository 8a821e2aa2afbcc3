from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.ingest import politeness


def format_datetime(moment: datetime) -> str:
    """Return a naive datetime as an HTTP date, whatever its year."""
    return moment.replace(tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
M15 = timedelta(minutes=15)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Thu, 01 Jan 2026 12:30:00 GMT", timedelta(minutes=30)),
        ("Thu, 01 Jan 2026 11:00:00 GMT", timedelta(0)),  # already past
        ("999999999", timedelta(hours=24)),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("12.5", timedelta(seconds=12.5)),
        ("inf", None),
        ("nan", None),
        ("1e308", None),
        ("9" * 5000, timedelta(hours=24)),  # past Python's limit for int() of a string: never converted
        ("Fri, 31 Dec 9999 23:59:59 GMT", timedelta(hours=24)),
        ("Mon, 01 Jan 0001 00:00:00 GMT", timedelta(0)),
        ("Thu, 01 Jan 2026 12:30:00 GMT" + " " * 100 + "x", None),
    ],
)
def test_retry_after(value: str | None, wait: timedelta | None) -> None:
    assert politeness.retry_after(value, NOW) == wait


@given(
    st.one_of(st.none(), st.text(), st.from_regex(r"\A\s*[0-9.eE+-]{1,400}\s*\Z"), st.datetimes().map(format_datetime))
)
def test_retry_after_is_total_and_capped(value: str | None) -> None:
    wait = politeness.retry_after(value, NOW)
    assert wait is None or timedelta(0) <= wait <= politeness.MAX_WAIT


@pytest.mark.parametrize(
    ("header", "age"),
    [
        ("max-age=3600", H),
        ("public, max-age=600, must-revalidate", timedelta(minutes=10)),
        ('max-age="60"', timedelta(minutes=1)),
        ("s-maxage=100", None),
        ("max-age=999999", timedelta(hours=24)),
        ("no-cache, max-age=3600", None),
        ("no-store", None),
        ("", None),
        (None, None),
    ],
)
def test_max_age(header: str | None, age: timedelta | None) -> None:
    assert politeness.max_age(header) == age


@pytest.mark.parametrize(
    ("hints", "wait"),
    [
        ((), M15),
        ((None, None), M15),
        ((timedelta(minutes=5),), M15),  # a shorter hint never makes us poll more often
        ((H,), H + M15 / 5),  # never cut short by the tolerance
        ((H, timedelta(hours=2)), timedelta(hours=2) + M15 / 5),
        ((timedelta(days=3),), timedelta(hours=24) + M15 / 5),
    ],
)
def test_after_success(hints: tuple[timedelta | None, ...], wait: timedelta) -> None:
    assert politeness.after_success(M15, *hints) == wait


@pytest.mark.parametrize(
    ("interval", "failures", "retry", "wait"),
    [
        (M15, 1, None, 2 * M15),
        (M15, 2, None, 4 * M15),
        (M15, 3, None, 8 * M15),
        (M15, 7, None, timedelta(hours=24)),
        (M15, 500, None, timedelta(hours=24)),
        (M15, 1, timedelta(seconds=30), 2 * M15),
        (M15, 1, timedelta(hours=2), timedelta(hours=2) + M15 / 5),
        (M15, 1, timedelta(days=9), timedelta(hours=24) + M15 / 5),
        (timedelta(days=2), 3, None, timedelta(days=2)),  # the interval itself is never cut
    ],
)
def test_after_failure(interval: timedelta, failures: int, retry: timedelta | None, wait: timedelta) -> None:
    assert politeness.after_failure(interval, failures, retry) == wait


@pytest.mark.parametrize(
    ("next_poll_at", "due"),
    [
        (None, True),
        (NOW - H, True),
        (NOW, True),
        (NOW + timedelta(minutes=3), True),  # within a fifth of an interval: this firing polls it
        (NOW + timedelta(minutes=4), False),
        (NOW + H, False),
    ],
)
def test_is_due(next_poll_at: datetime | None, due: bool) -> None:
    assert politeness.is_due(next_poll_at, NOW, M15) is due


@pytest.mark.parametrize("failures", [1, 2, 3])
def test_a_backed_off_feed_is_polled_at_the_right_firing(failures: int) -> None:
    wait = politeness.after_failure(M15, failures)
    due_at = [k for k in range(1, 20) if politeness.is_due(NOW + wait, NOW + k * M15, M15)]
    assert due_at[0] == 2**failures


def test_a_huge_max_age_is_capped_without_converting_it() -> None:
    assert politeness.max_age("max-age=" + "9" * 5000) == politeness.MAX_WAIT
