"""The request body: the one JSON encoding that every byte limit is measured on and every signature covers.

``encode`` writes compact UTF-8 JSON (no spaces, non-ASCII text as is), byte for byte what httpx sends for
``json=``. A sender that signs a body must post these exact bytes (``content=encode(payload)``).
"""

from __future__ import annotations

import json
from typing import Any


def encode(payload: Any) -> bytes:
    """Return payload as compact UTF-8 JSON bytes; raise ValueError for NaN or infinity."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def size(payload: Any) -> int:
    """Return the length in bytes of payload's encoded body."""
    return len(encode(payload))
