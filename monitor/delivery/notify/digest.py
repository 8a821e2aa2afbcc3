"""Digest packing: one rule's alerts of a window in as few messages as the platform's limits allow.

A renderer turns every alert into a piece (a block, an embed, an attachment, a card section) and states what
each piece costs against each limit of one message (pieces per message, characters, bytes) and how much room
the message frame (header, part label, fallback text) leaves. ``pack`` then cuts the pieces, in order, into
consecutive groups, each as large as every limit allows; a piece too large to share a message gets one alone,
so no alert is ever dropped (renderers keep a single piece within the limits).

The frame is measured with the widest label the digest can have (``300 alerts, part 300/300``); the real label
is never longer, so a message only gets smaller once its part number is known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

Piece = TypeVar("Piece")
Message = TypeVar("Message")


@dataclass(frozen=True)
class Part:
    """Which message of a digest this is: its number, how many messages, how many alerts in all."""

    number: int
    count: int
    alerts: int

    def label(self) -> str:
        """Return what a message says about itself, such as ``3 alerts`` or ``3 alerts, part 1/2``."""
        head = f"{self.alerts} alert" if self.alerts == 1 else f"{self.alerts} alerts"
        return head if self.count == 1 else f"{head}, part {self.number}/{self.count}"


def widest(alerts: int) -> Part:
    """Return the part whose label is the longest any message of a digest of alerts can carry."""
    return Part(alerts, alerts, alerts)


def pack(costs: Sequence[Sequence[int]], room: Sequence[int]) -> list[range]:
    """Return consecutive index ranges covering all pieces, each range's summed costs within room."""
    groups: list[range] = []
    start = 0
    used = [0] * len(room)
    for index, cost in enumerate(costs):
        grown = [u + c for u, c in zip(used, cost, strict=True)]
        if index > start and any(g > r for g, r in zip(grown, room, strict=True)):
            groups.append(range(start, index))
            start, grown = index, list(cost)
        used = grown
    if start < len(costs):
        groups.append(range(start, len(costs)))
    return groups


def parts(groups: Sequence[range], alerts: int) -> list[Part]:
    """Return the part of each group, numbered from 1."""
    return [Part(number, len(groups), alerts) for number in range(1, len(groups) + 1)]


def split(
    pieces: Sequence[Piece],
    costs: Sequence[Sequence[int]],
    room: Sequence[int],
    build: Callable[[Sequence[Piece], Part], Message],
) -> list[Message]:
    """Return the messages build makes from the pieces packed by their costs into room, one per group."""
    groups = pack(costs, room)
    return [
        build(pieces[group.start : group.stop], part)
        for group, part in zip(groups, parts(groups, len(pieces)), strict=True)
    ]
