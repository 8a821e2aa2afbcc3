"""The request body: the one JSON encoding that every byte limit is measured on and every signature covers.

``encode`` writes compact UTF-8 JSON (no spaces, non-ASCII text as is), byte for byte what httpx sends for
``json=``. A sender that signs a body must post these exact bytes (``content=encode(payload)``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def encode(payload: Any) -> bytes:
    """Return payload as compact UTF-8 JSON bytes; raise ValueError for NaN or infinity."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def size(payload: Any) -> int:
    """Return the length in bytes of payload's encoded body."""
    return len(encode(payload))


def first_within(build: Callable[[int], T], widths: Sequence[int], limit: int) -> T:
    """Return ``build(width)`` for the first of ``widths`` whose body fits in ``limit`` bytes, else for the last."""
    for width in widths:
        payload = build(width)
        if size(payload) <= limit:
            break
    return payload
