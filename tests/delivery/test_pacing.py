from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.delivery import pacing
from monitor.delivery.pacing import Pace
from monitor.settings.config import WebhookSettings
from monitor.store.webhooks import PaceState

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
WAIT = timedelta(seconds=5)


def test_slots_are_one_interval_apart_and_too_far_a_slot_is_refused() -> None:
    state, slots = PaceState(), []
    for _ in range(6):
        state, slot = pacing.reserve(state, Pace(interval=1.0), NOW, WAIT)
        slots.append(slot)
    assert [slot.at for slot in slots[:6]] == [NOW + n * S for n in range(6)]
    refused_state, refused = pacing.reserve(state, Pace(interval=1.0), NOW, WAIT)
    assert refused.at is None and refused.not_before == NOW + 6 * S
    assert refused_state == state  # a refusal takes nothing


def test_a_slot_in_the_past_is_now() -> None:
    state = PaceState(next_at=NOW - timedelta(minutes=5), window_start=NOW, in_window=1)
    state, slot = pacing.reserve(state, Pace(interval=1.0), NOW, WAIT)
    assert slot.at == NOW and state.next_at == NOW + S


def test_the_hourly_budget_is_shared_and_renewed() -> None:
    pace = Pace(interval=0.0, per_hour=3)
    state = PaceState()
    for _ in range(3):
        state, slot = pacing.reserve(state, pace, NOW, WAIT)
        assert slot.at == NOW
    assert pacing.budget(state, pace, NOW) == 0
    _, refused = pacing.reserve(state, pace, NOW + timedelta(minutes=10), WAIT)
    assert refused.at is None and refused.not_before == NOW + timedelta(hours=1)
    assert pacing.window_end(state, NOW) == NOW + timedelta(hours=1)
    assert pacing.budget(state, pace, NOW + timedelta(hours=1)) == 3
    _, later = pacing.reserve(state, pace, NOW + timedelta(hours=1), WAIT)
    assert later.at == NOW + timedelta(hours=1)
    assert pacing.budget(PaceState(), Pace(interval=1.0), NOW) is None


def test_a_wait_asked_for_pushes_the_next_slot_back() -> None:
    state = pacing.after_answer(PaceState(next_at=NOW + S), NOW, 30.0)
    assert state.next_at == NOW + 30 * S
    assert pacing.after_answer(state, NOW, 2.0).next_at == NOW + 30 * S  # never pulled forward
    assert pacing.after_answer(PaceState(), NOW, 1e308).next_at == NOW + timedelta(hours=24)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({}, None),
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "9" * 5000}, 86400.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}, 2.5),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "inf"}, 86400.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "nan"}, 1.0),
        ({"X-RateLimit-Remaining": "0"}, 1.0),
        ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset-After": "2.5"}, None),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2", "Retry-After": "7"}, 7.0),
    ],
)
def test_asked_wait(headers: dict[str, str], wait: float | None) -> None:
    assert pacing.asked_wait(httpx.Response(429, headers=headers), NOW) == wait


@given(st.one_of(st.text(), st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.none()))
def test_seconds_is_total_and_bounded(value: object) -> None:
    assert 0.0 <= pacing.seconds(value) <= 86400.0


def _hook(**keys: str) -> WebhookSettings:
    return WebhookSettings.model_validate(keys)


TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize(
    ("keys", "pace"),
    [
        ({"format": "telegram", "token": TELEGRAM_TOKEN, "chat_id": "123456"}, Pace(interval=1.0)),
        # 20 messages a minute to a group is one every 3 seconds, never a burst.
        ({"format": "telegram", "token": TELEGRAM_TOKEN, "chat_id": "-1001234567890"}, Pace(interval=3.0)),
        ({"format": "telegram", "token": TELEGRAM_TOKEN, "chat_id": "@newsroom"}, Pace(interval=3.0)),
        ({"format": "matrix", "url": "https://m.example.org", "room": "!r:x", "token": "syt_t"}, Pace(interval=1.0)),
        ({"format": "ntfy", "url": "https://ntfy.sh/topic_one"}, Pace(interval=5.0)),
        ({"format": "rocketchat", "url": "https://chat.example.org/hooks/a/b"}, Pace(interval=1.0)),
        ({"format": "slack", "url": "https://hooks.example.org/x"}, Pace(interval=1.0)),
    ],
)
def test_pace_of(keys: dict[str, str], pace: Pace) -> None:
    assert pacing.pace_of(_hook(**keys)) == pace
    assert pacing.pace_of(_hook(**keys), {}) == Pace()  # a dispatcher given no paces paces nothing


def test_twenty_a_minute_to_a_telegram_group() -> None:
    pace = pacing.pace_of(_hook(format="telegram", token=TELEGRAM_TOKEN, chat_id="-100123"))
    state, sent, now = PaceState(), [], NOW
    while now < NOW + timedelta(minutes=3):
        state, slot = pacing.reserve(state, pace, now, WAIT)
        if slot.at is not None:
            sent.append(slot.at)
        now += timedelta(milliseconds=250)
    for start in sent:
        assert len([at for at in sent if start <= at < start + timedelta(minutes=1)]) <= 20
    assert min(b - a for a, b in pairwise(sent)) >= timedelta(seconds=1)
