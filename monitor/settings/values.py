"""The values a settings file may hold, each within bounds: durations, numbers, URLs, listen addresses, databases.

Durations are written ``"500ms"``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"``, ``"1w"`` (or a number of seconds)
and must be finite, at least 1 ms and at most ``LONGEST``; each key adds its own floor and ceiling with
``within``, and the error says which bound was crossed and why it is there. A poll interval's floor drops when
the validation context sets ``FAST_POLLING`` (``[scheduler] allow_fast_polling``). Numbers refuse ``true`` and
``false`` (``number``). A feed or webhook URL is read the way the fetcher reads it (httpx), so a URL that passes
here cannot fail there; the problems of a webhook URL never quote it, since it holds its secret. A database URL
must name SQLite or PostgreSQL with a synchronous driver that is installed; its problems never show a password.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from ipaddress import ip_address
from typing import Any

import httpx
from pydantic import BeforeValidator, SecretStr, ValidationInfo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

FAST_POLLING = "fast_polling"
LONGEST = timedelta(days=36500)
DATABASES = ("sqlite", "postgresql")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def parse_duration(value: object) -> timedelta:
    """Return the timedelta written as ``"30s"``, ``"15m"``, ``"1h30m"``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    seconds = _seconds(value)
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{_shown(value)} is too long: the most is {written(LONGEST)}")
    return timedelta(seconds=seconds)


def _seconds(value: object) -> float:
    """Return the number of seconds a duration is written as; raise ValueError unless finite and at least 1 ms."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError('expected a duration such as "30s", "15m" or "1h"')
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = list(_DURATION_PART.finditer(text))
        if not text or not parts or "".join(p.group(0) for p in parts) != text:
            raise ValueError(f'invalid duration {_shown(value)!r}: write it like "30s", "15m", "1h30m" or "2d"')
        seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2).lower()] for p in parts)
    else:
        seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"duration {_shown(value)} is not a finite number of seconds")
    if seconds <= 0:
        raise ValueError(f"duration {_shown(value)} must be positive")
    if seconds < 0.001:
        raise ValueError(f"duration {_shown(value)} is shorter than 1ms")
    return seconds


def _shown(value: object) -> str:
    """Return a duration as the settings wrote it, cut short if it is long."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:g}s" if math.isfinite(value) else f"{value:g}"
    else:
        text = str(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def written(delta: timedelta) -> str:
    """Return a duration the way the settings write it: ``10s``, ``15m``, ``1h30m``, ``2d``, ``500ms``."""
    milliseconds = round(delta.total_seconds() * 1000)
    if milliseconds % 1000:
        return f"{milliseconds}ms" if milliseconds < 1000 else f"{milliseconds / 1000:g}s"
    seconds, out = milliseconds // 1000, ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


def within(
    floor: str, ceiling: str, why_floor: str = "", why_ceiling: str = "", fast_floor: str | None = None
) -> BeforeValidator:
    """Return the reading of a duration that must lie between ``floor`` and ``ceiling``, saying why a bound is there.

    With ``fast_floor``, the floor drops to it when the validation context sets ``FAST_POLLING``.
    """
    low, high = parse_duration(floor), parse_duration(ceiling)
    fast = parse_duration(fast_floor) if fast_floor else None

    def read(value: object, info: ValidationInfo) -> timedelta:
        seconds = value.total_seconds() if isinstance(value, timedelta) else _seconds(value)
        shown = written(value) if isinstance(value, timedelta) else _shown(value)
        relaxed = fast is not None and bool((info.context or {}).get(FAST_POLLING))
        least = fast if relaxed and fast is not None else low
        if seconds < least.total_seconds():
            reason = f", since {why_floor}" if why_floor and not relaxed else ""
            escape = (
                f" (for a feed server of your own, [scheduler] allow_fast_polling = true lowers it to {fast_floor})"
                if fast is not None and not relaxed and seconds >= fast.total_seconds()
                else ""
            )
            raise ValueError(f"{shown} is too short: the least is {written(least)}{reason}{escape}")
        if seconds > high.total_seconds():
            reason = f", since {why_ceiling}" if why_ceiling else ""
            raise ValueError(f"{shown} is too long: the most is {written(high)}{reason}")
        return timedelta(seconds=seconds)

    return BeforeValidator(read)


def number(value: object) -> object:
    """Return ``value`` for the number checks that follow; raise ValueError for ``true`` or ``false``."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


def http_url(value: str) -> str:
    """Return a feed URL that the fetcher can use; raise ValueError saying what is wrong with it."""
    problem = url_problem(value, quote=True)
    if problem:
        raise ValueError(problem)
    return value


def webhook_url(value: SecretStr) -> SecretStr:
    """Return a webhook URL that the dispatcher can use; raise ValueError without quoting any of it."""
    problem = url_problem(value.get_secret_value(), quote=False)
    if problem:
        raise ValueError(problem)
    return value


def url_problem(value: str, quote: bool) -> str | None:
    """Return what keeps ``value`` from being an http(s) URL with a host, or None; ``quote`` allows quoting it."""
    if not re.match(r"^https?://", value, re.IGNORECASE):
        return "must be an http:// or https:// URL"
    try:
        url = httpx.URL(value)
        host = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        return f"not a valid URL: {exc}" if quote else "not a valid URL (its host, port or characters)"
    if not host:
        return "must be an http:// or https:// URL with a host"
    if not (_is_ip(host) or (_HOST_NAME.fullmatch(host) and not _looks_like_ipv4(host))):
        return f"not a valid URL: bad host {host!r}" if quote else "not a valid URL: bad host name"
    if url.port is not None and not 0 < url.port <= 65535:
        return f"not a valid URL: port {url.port} is not from 1 to 65535"
    return None


def split_listen(listen: str) -> tuple[str, int]:
    """Return the host and port of ``host:port`` (``[::1]:9108`` for IPv6); raise ValueError if malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise ValueError(f"expected host:port, such as 127.0.0.1:9108 or [::1]:9108, got {listen!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"unbalanced brackets in {listen!r}")
    if host.startswith("["):
        host = host[1:-1]
        if not _is_ip(host):
            raise ValueError(f"not an IPv6 address in brackets: {listen!r}")
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, such as [::1]:9108, got {listen!r}")
    elif not (_is_ip(host) or (_HOST_NAME.fullmatch(host) and not _looks_like_ipv4(host))):
        raise ValueError(f"not a host name or IP address: {host!r}")
    if not host or int(port) > 65535:
        raise ValueError(f"expected host:port with a port up to 65535, got {listen!r}")
    return host, int(port)


def database_problem(url: str) -> str | None:
    """Return what keeps ``url`` from opening a database of ours, or None; the message never shows a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a database URL: write sqlite:///FILE or postgresql+psycopg://USER@HOST/NAME"
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in DATABASES:
        return f"unknown database {backend!r}: use sqlite or postgresql (postgresql+psycopg://USER@HOST/NAME)"
    driver = driver or parsed.get_driver_name()  # the dialect's default driver
    if "\x00" in (parsed.database or ""):
        return "a database name or path cannot hold a NUL character"
    try:
        dialect: Any = parsed.get_dialect()
    except ArgumentError:
        return f"unknown {backend} driver {driver!r}: use {_SUGGESTED[backend]}"
    if getattr(dialect, "is_async", False):
        return f"the {backend} driver {driver!r} is asynchronous: use {_SUGGESTED[backend]}"
    try:
        dialect.import_dbapi()
    except ImportError:
        return f"the {backend} driver {driver!r} is not installed: use {_SUGGESTED[backend]}"
    return None


_SUGGESTED = {"sqlite": "sqlite:///FILE", "postgresql": "postgresql+psycopg://USER@HOST/NAME"}


def too_deep(value: object, limit: int) -> tuple[str | int, ...] | None:
    """Return the key of the first table or array nested more than ``limit`` levels deep in ``value``, or None."""
    pending: list[tuple[object, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, loc = pending.pop()
        if isinstance(item, dict):
            entries: list[tuple[str | int, object]] = list(item.items())
        elif isinstance(item, list):
            entries = list(enumerate(item))
        else:
            continue
        if len(loc) >= limit:
            return loc
        pending.extend((child, (*loc, key)) for key, child in entries)
    return None


def is_loopback(host: str) -> bool:
    """Return whether a host of ``[server] listen`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _looks_like_ipv4(host: str) -> bool:
    """Return whether ``host`` is dotted digits (a would-be IPv4 address) rather than a name."""
    return bool(re.fullmatch(r"[0-9.]+", host))
