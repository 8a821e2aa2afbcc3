"""Say how many of something there are, in English: ``1 alert``, ``2 alerts``, ``1 delivery``, ``3 deliveries``."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """Return ``number`` followed by ``noun``, or by its plural (``noun + "s"`` unless given) when not 1."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
