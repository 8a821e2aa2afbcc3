"""Logging set-up and the redaction of secrets (webhook URLs, tokens) from anything that is logged or stored."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

import httpx

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# httpx and httpcore log every request URL (webhook URLs carry their secret in the path): keep them quiet.
_NOISY = ("httpx", "httpcore", "apscheduler.executors.default", "apscheduler.scheduler")


def configure(level: str) -> None:
    """Send logs to stderr at ``level``, with the HTTP libraries' request lines silenced."""
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
    set_level(level)


def set_level(level: str) -> None:
    """Log at ``level`` from now on, the HTTP libraries' request lines still silenced."""
    logging.getLogger().setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def safe_url(url: str) -> str:
    """Return only the scheme and host of a URL, so that a secret in its path or query never shows."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(invalid URL)"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return text with every secret, and the path and query of every secret URL, replaced by ``***``."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "***")
        try:
            parsed = httpx.URL(secret)
        except (httpx.InvalidURL, TypeError):
            continue
        tail = parsed.raw_path.decode("ascii", "replace")
        if len(tail) > 1:
            text = text.replace(tail, "/***")
        path = parsed.path
        if len(path) > 1:
            text = text.replace(path, "/***")
    return text
