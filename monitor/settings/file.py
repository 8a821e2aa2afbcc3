"""Add feeds to the settings file in place, keeping its comments and layout (tomlkit).

The new ``[[feeds]]`` tables are appended at the end of the file, after whatever it holds last (TOML lets the
tables of one array stand apart), and the text before them is kept byte for byte. The result is validated with
the settings loader on a temporary file next to the original (so relative paths mean the same), and only then
renamed over it: the file is never left half-written or invalid. A file that writes its feeds as an inline array
(``feeds = [...]``) gets the new ones in that array instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT
from tomlkit.toml_document import TOMLDocument

from monitor.errors import ConfigError
from monitor.settings.config import load_settings


def add_feeds(
    path: Path,
    feeds: Sequence[tuple[str, str]],
    environ: Mapping[str, str],
    done: Callable[[], None] = lambda: None,
    *,
    webhooks_needed: bool = True,
) -> None:
    """Append (name, URL) feeds to the settings file at ``path``; raise ConfigError if the result is invalid.

    ``done`` is called as each feed is added (to draw progress); ``webhooks_needed`` is passed to the loader that
    validates the result.
    """
    if not feeds:
        return
    try:
        original = path.read_text(encoding="utf-8")
        document = tomlkit.parse(original)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc}") from None
    inline = document.get("feeds")
    if inline is not None and not isinstance(inline, AoT):
        text = _into_inline_array(document, feeds, done)
    else:
        text = _appended(original, feeds, done)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_settings(Path(temporary), environ, webhooks_needed=webhooks_needed)
        except ConfigError as exc:
            message = str(exc).replace(temporary, str(path))
            raise ConfigError(message, [p.replace(temporary, str(path)) for p in exc.problems]) from None
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _appended(original: str, feeds: Sequence[tuple[str, str]], done: Callable[[], None]) -> str:
    """Return the file's text with one ``[[feeds]]`` table per feed after its end."""
    tables = tomlkit.aot()
    for name, url in feeds:
        table = tomlkit.table()
        table.add("name", name)
        table.add("url", url)
        tables.append(table)
        done()
    addition = tomlkit.document()
    addition.append("feeds", tables)
    head = original if not original or original.endswith("\n") else original + "\n"
    return head + ("\n" if head.strip() else "") + tomlkit.dumps(addition).lstrip("\n")


def _into_inline_array(document: TOMLDocument, feeds: Sequence[tuple[str, str]], done: Callable[[], None]) -> str:
    """Return the document with one inline table per feed added to its ``feeds = [...]`` array."""
    array = document["feeds"]
    if not isinstance(array, list):
        return tomlkit.dumps(document)  # not an array of feeds: the loader says what is wrong with it
    for name, url in feeds:
        table = tomlkit.inline_table()
        table.update({"name": name, "url": url})
        array.append(table)
        done()
    return tomlkit.dumps(document)
