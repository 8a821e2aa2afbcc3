from __future__ import annotations

import pytest

from monitor.words import count


@pytest.mark.parametrize(
    ("number", "noun", "plural", "said"),
    [
        (0, "alert", None, "0 alerts"),
        (1, "alert", None, "1 alert"),
        (2, "attempt", None, "2 attempts"),
        (1, "delivery", "deliveries", "1 delivery"),
        (3, "delivery", "deliveries", "3 deliveries"),
        (1, "entry", "entries", "1 entry"),
        (-1, "alert", None, "-1 alerts"),
    ],
)
def test_count(number: int, noun: str, plural: str | None, said: str) -> None:
    assert count(number, noun, plural) == said
