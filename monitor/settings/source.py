"""Read a settings file into plain tables: its TOML, bounded in depth, then its ``${NAME}`` references filled in.

A file that cannot be read, is not TOML, or nests tables and arrays more than ``MAX_DEPTH`` levels deep is
refused with a ``ConfigError`` naming the file (and the line, when it is known); whatever the TOML parser fails
with, RecursionError included, ends there rather than in a traceback. ``interpolate`` replaces ``${NAME}``
with the environment variable, ``${NAME:-default}`` with a default when it is unset or empty, ``$${`` with ``${``.

``fill_in`` does that for a whole file. Commands that send nothing (``status``, ``feeds``, ``alerts``, ``rules
backtest``...) need no webhook secrets: for them (``webhooks_needed=False``) a webhook's ``url``, ``secret`` or
``token`` naming an unset variable is no error. The URL then stands in as ``UNSET_URL`` (``.invalid`` never
resolves, so nothing could ever be sent there), the token as ``UNSET_TOKEN``, the secret is left out, and the
webhook is reported as unusable.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.settings.lines import problem
from monitor.settings.values import too_deep

MAX_DEPTH = 16  # tables and arrays within each other; the settings' own keys go 4 deep

UNSET_URL = "https://unset.invalid/"
_SECRET_KEYS = (
    "url",
    "secret",
    "token",
)  # the keys of a [webhooks.NAME] table a command sending nothing can do without
UNSET_TOKEN = "0:unset-unset-unset-unset"  # passes every format's check, for a webhook that is never used

_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """Return the text of the settings file at ``path`` and its tables; raise ConfigError if it cannot be read."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc}") from None
    return source, _parse_toml(path, source)


def _parse_toml(path: Path, source: str) -> dict[str, Any]:
    """Return the tables of a TOML source; raise ConfigError, with the line when it is known, if unreadable."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:
        message = f"{path}: TOML nested too deeply to be read (at most {MAX_DEPTH} levels of tables and arrays)"
        raise ConfigError(message) from None
    except Exception as exc:  # whatever else the parser fails with: still a report, never a traceback
        raise ConfigError(f"{path}: cannot read the TOML: {type(exc).__name__}: {exc}") from None
    deep = too_deep(raw, MAX_DEPTH)
    if deep is not None:
        message = f"tables and arrays nested more than {MAX_DEPTH} levels deep"
        raise ConfigError(problem(path, source, deep[:MAX_DEPTH], message))
    return raw


Loc = tuple[str | int, ...]


def fill_in(
    raw: dict[str, Any], environ: Mapping[str, str], report: Callable[[Loc, str], None], webhooks_needed: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the tables with ``${NAME}`` filled in and the unusable webhooks (name: why); ``report`` hears the rest."""
    unusable: dict[str, str] = {}
    tolerated: list[Loc] = []

    def heard(loc: Loc, message: str) -> None:
        if not webhooks_needed and len(loc) == 3 and loc[0] == "webhooks" and loc[2] in _SECRET_KEYS:
            tolerated.append(loc)
            unusable.setdefault(str(loc[1]), f"webhooks.{loc[1]}.{loc[2]}: {message}")
        else:
            report(loc, message)

    data: dict[str, Any] = interpolate(raw, environ, (), heard)
    for _, name, key in tolerated:
        table = data["webhooks"][name]
        if key == "url":
            table["url"] = UNSET_URL
        elif key == "token":
            table["token"] = UNSET_TOKEN
        else:
            table.pop("secret", None)
    return data, unusable


def interpolate(
    value: Any,
    environ: Mapping[str, str],
    loc: tuple[str | int, ...],
    report: Callable[[tuple[str | int, ...], str], None],
) -> Any:
    """Return ``value`` with the ``${NAME}`` references of its strings filled in; ``report`` hears of unset ones."""
    if isinstance(value, dict):
        return {k: interpolate(v, environ, (*loc, k), report) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, (*loc, i), report) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if default is not None and not environ.get(name):
            return default
        if name not in environ:
            report(loc, f"environment variable {name} is not set")
            return ""
        return environ[name]

    return _ENV_REF.sub(substitute, value)
