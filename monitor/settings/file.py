"""Add feeds to the settings file in place, keeping its comments and layout (tomlkit).

The new ``[[feeds]]`` tables are appended, the result is validated with the settings loader on a temporary file
next to the original (so relative paths mean the same), and only then renamed over it: the file is never left
half-written or invalid.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from monitor.errors import ConfigError
from monitor.settings.config import load_settings


def add_feeds(
    path: Path,
    feeds: Sequence[tuple[str, str]],
    environ: Mapping[str, str],
    done: Callable[[], None] = lambda: None,
) -> None:
    """Append (name, URL) feeds to the settings file at ``path``; raise ConfigError if the result is invalid.

    ``done`` is called as each feed is added (to draw progress).
    """
    if not feeds:
        return
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc}") from None
    tables = document.get("feeds")
    if tables is None:
        tables = tomlkit.aot()
        document.append("feeds", tables)
    for name, url in feeds:
        table = tomlkit.table()
        table.add("name", name)
        table.add("url", url)
        tables.append(table)
        done()
    text = tomlkit.dumps(document)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_settings(Path(temporary), environ)
        except ConfigError as exc:
            message = str(exc).replace(temporary, str(path))
            raise ConfigError(message, [p.replace(temporary, str(path)) for p in exc.problems]) from None
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
