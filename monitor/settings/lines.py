"""Say where a problem in a settings file is: the dotted name of its key and the line that defines it.

``locate_key`` reads the TOML source line by line (tables, arrays of tables counted from 0, dotted and quoted keys,
multi-line strings skipped) and returns the line of the key, or of its closest parent that the file writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path


def problem(path: Path, source: str, loc: Sequence[str | int], message: str, detail: str = "") -> str:
    """Return the report of a problem: ``FILE: KEY: message (line N)``, then ``detail`` indented below."""
    key = key_name(loc)
    line = locate_key(source, loc)
    where = f" (line {line})" if line else ""
    below = "".join(f"\n    {text}" for text in detail.splitlines())
    return f"{path}: {key}: {message}{where}{below}"


def key_name(loc: Sequence[str | int]) -> str:
    """Return a key's dotted name as written in TOML, list items by their index: ``feeds[2].url``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"')
    return out or "(top level)"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def locate_key(source: str, loc: Sequence[str | int]) -> int | None:
    """Return the 1-based line that defines the key at ``loc`` (or its closest parent), if it can be found."""
    want = tuple(loc)
    best: tuple[int, int] | None = None  # (matched length, line)
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str | int, ...], int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            parts: tuple[str | int, ...] = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                counts[parts] = counts.get(parts, -1) + 1
                parts = (*parts, counts[parts])
            table = parts
            path: tuple[str | int, ...] = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = (*table, *_split_key(key.group(1)))
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
        matched = _common_prefix(path, want)
        if matched == len(path) and (best is None or matched > best[0]):
            best = (matched, number)
    return best[1] if best else None


def _common_prefix(a: Sequence[str | int], b: Sequence[str | int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
