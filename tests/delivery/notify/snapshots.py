"""Snapshot files: the exact JSON of a payload, kept under tests/fixtures/notify/ and compared on every run.

Run ``UPDATE_SNAPSHOTS=1 pytest tests/notify`` to write them again after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).parents[2] / "fixtures" / "notify"

# Invisible characters (zero-width, bidi, soft hyphen) are written as \u escapes so that a diff shows them.
_INVISIBLE = re.compile(r"[\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def dump(payload: Any) -> str:
    """Return payload as snapshot text: indented JSON, invisible characters escaped, ending in a newline."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    return _INVISIBLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def check(name: str, payload: Any) -> None:
    """Assert payload matches the snapshot called name, or write it when UPDATE_SNAPSHOTS=1."""
    path = DIRECTORY / f"{name}.json"
    text = dump(payload)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to write it"
    stored = path.read_text(encoding="utf-8")
    assert json.loads(stored) == json.loads(text), f"{path.name} differs; UPDATE_SNAPSHOTS=1 rewrites it"
    assert stored == text, f"{path.name} differs in layout; UPDATE_SNAPSHOTS=1 rewrites it"
