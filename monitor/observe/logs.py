"""Logging set-up and the redaction of secrets (webhook URLs, tokens) from anything that is logged or stored.

Logs go to stderr as text lines, or with ``format="json"`` as one JSON object a line with ``time``, ``level``,
``logger``, ``message`` and, when the record has them, the stable keys ``feed``, ``rule``, ``webhook``,
``article_id``, ``alert_id`` and ``kind`` (``exception`` holds a traceback). ``RedactingFilter`` removes secrets
from every record before any handler formats it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx

from monitor.settings.config import WebhookSettings

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# httpx and httpcore log every request URL (webhook URLs carry their secret in the path): keep them quiet.
_NOISY = ("httpx", "httpcore", "apscheduler.executors.default", "apscheduler.scheduler")


STABLE_KEYS = ("feed", "rule", "webhook", "article_id", "alert_id", "kind")


def configure(level: str, format: str = "text", secrets: Callable[[], Iterable[str]] | None = None) -> None:
    """Send logs to stderr at ``level`` as text or JSON lines, secrets redacted, HTTP request lines silenced."""
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        if format == "json":
            handler.setFormatter(JsonFormatter())
        if secrets is not None:
            handler.addFilter(RedactingFilter(secrets))
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
    """Return text with every secret, and the path, query and token-like parts of every secret URL, as ``***``."""
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
        if parsed.host:
            # A receiver may echo one part of its URL alone (a token in the path or the query) in an error.
            for part in _token_parts(parsed):
                text = text.replace(part, "***")
    return text


def _token_parts(url: httpx.URL) -> list[str]:
    """Return the path segments and query values of a URL that look like tokens (long, or with a digit)."""
    parts = [*url.path.split("/"), *(value for _, value in url.params.multi_items())]
    return [p for p in parts if len(p) >= 20 or (len(p) >= 6 and any(c.isdigit() for c in p))]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line with the stable keys it carries."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in STABLE_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                line[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Replace the secrets of ``secrets()`` in each record's message, arguments, extras and traceback."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self.secrets = secrets
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; return True (every record is kept)."""
        secrets = [s for s in self.secrets() if s]
        if not secrets:
            return True
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        for key in STABLE_KEYS:
            value = record.__dict__.get(key)
            if isinstance(value, str):
                setattr(record, key, redact(value, secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True


def secrets_of(webhooks: Iterable[WebhookSettings]) -> list[str]:
    """Return the URL and signing secret (when set) of each webhook."""
    found: list[str] = []
    for webhook in webhooks:
        found.append(webhook.url.get_secret_value())
        if webhook.secret is not None:
            found.append(webhook.secret.get_secret_value())
    return found
