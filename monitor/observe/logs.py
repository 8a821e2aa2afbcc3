"""Logging set-up and the redaction of secrets (webhook URLs, tokens) from anything that is logged or stored.

Logs go to stderr as text lines, or with ``format="json"`` as one JSON object a line with ``time``, ``level``,
``logger``, ``message`` and, when the record has them, the stable keys ``feed``, ``rule``, ``webhook``,
``article_id``, ``alert_id`` and ``kind`` (``exception`` holds a traceback). ``RedactingFilter`` removes secrets
from every record before any handler formats it. An exception that nothing caught, in the main thread or any
other, is logged as well rather than printed bare, so that every line on stderr has the chosen format.

What ``redact`` replaces with ``***``, for each secret (a webhook URL, a signing secret, an access token):

- the secret whole; for a URL also its path with its query, its path alone and its query alone, and each path
  segment, query key and query value on its own, whatever its shape (a receiver may echo one part alone); a
  signing secret also without its ``whsec_`` prefix;
- each of these as written, percent-encoded (either case of hex, ``+`` for spaces or not), JSON-escaped (with
  ``\\/`` or not) and HTML-escaped, since error bodies echo them in all of these shapes.

Every form is replaced wherever it occurs, inside a longer word too: a receiver may glue a token to other text,
and a log line that loses part of a word is better than one that keeps part of a secret. Some parts are not
secrets of their own (the whole URL, path and query still are):

- a part shorter than ``MIN_PART`` characters, or a number (digits, ``.``, ``:``, ``-``) shorter than
  ``MIN_NUMBER``: replacing every ``1`` or ``500`` in every log line would make logs lie (``HTTP ***``) and
  hide nothing;
- path segments and query keys that only name a platform's API (``GENERIC_PARTS``: ``hooks``, ``services``,
  ``api``, ``webhooks``, ``token``...);
- the ``public`` words, the webhooks' names, which logs, ``monitor alerts`` and ``/metrics`` show by design.

``excerpt`` is how an answer from a webhook gets into an error: redacted whole first, then cut, and a secret's
beginning left at the end of an answer that was already cut short is dropped too.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import quote, quote_plus

import httpx

from monitor.settings.config import WebhookSettings

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# httpx and httpcore log every request URL (webhook URLs carry their secret in the path), APScheduler each job
# run and watchfiles each change it sees: keep them to warnings.
_NOISY = (
    "httpx",
    "httpcore",
    "apscheduler.executors.default",
    "apscheduler.scheduler",
    "watchfiles",
    "uvicorn.error",
)


STABLE_KEYS = ("feed", "rule", "webhook", "article_id", "alert_id", "kind")


def configure(
    level: str,
    format: str = "text",
    secrets: Callable[[], Iterable[str]] | None = None,
    public: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Send logs to stderr at ``level`` as text or JSON lines, secrets redacted, HTTP request lines silenced.

    ``public`` gives the words never redacted on their own (the webhooks' names), see ``redact``.
    """
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        if format == "json":
            handler.setFormatter(JsonFormatter())
        if secrets is not None:
            handler.addFilter(RedactingFilter(secrets, public))
    set_level(level)
    # An error no code caught, in any thread, is a log record too: formatted and redacted like the others.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """Log an exception that nothing caught (``sys.excepthook``)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("monitor").critical("stopped on an unexpected error", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """Log an exception that ended a thread (``threading.excepthook``)."""
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("monitor").error(
        "thread %s stopped on an unexpected error", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )


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


MIN_PART = 3
MIN_NUMBER = 6
GENERIC_PARTS = frozenset(
    {
        *("api", "hook", "hooks", "webhook", "webhooks", "services", "incoming", "messages", "spaces"),
        *("workflows", "triggers", "manual", "paths", "invoke", "run"),
        *("token", "key", "sig", "api-version", "wait", "threadkey", "thread_id"),
    }
)
SIGNING_PREFIX = "whsec_"
_HEX = re.compile(r"%[0-9A-Fa-f]{2}")
_NUMBER = re.compile(r"[0-9.:-]+")


def redact(text: str, secrets: Iterable[str], public: Iterable[str] = ()) -> str:
    """Return text with every secret, in any of its written forms, and every part of a secret URL as ``***``."""
    pattern = _pattern(_key(secrets), _key(public))
    if pattern is None:
        return text
    return pattern.sub(lambda match: "/***" if match.group().startswith("/") else "***", text)


def excerpt(text: str, secrets: Iterable[str], limit: int, cut_short: bool = False, public: Iterable[str] = ()) -> str:
    """Return text redacted, its whitespace runs as one space, then cut to limit characters with an ellipsis.

    ``cut_short`` says text is only the beginning of what was said: the beginning of a secret it may end with is
    dropped as well.
    """
    keys = _key(secrets), _key(public)
    text = redact(text, *keys)
    if cut_short:
        text = _drop_partial_secret(text.rstrip("\ufffd"), _forms(*keys))
    text = " ".join(text.split())
    if len(text) > limit or (cut_short and text):
        return text[: max(limit - 1, 0)] + "…"
    return text


def _drop_partial_secret(text: str, forms: Iterable[str]) -> str:
    """Return text without the longest end of it that begins one of the forms."""
    longest = 0
    for form in forms:
        for size in range(min(len(form) - 1, len(text)), longest, -1):
            if text.endswith(form[:size]):
                longest = size
                break
    return text[: len(text) - longest]


def _key(words: Iterable[str]) -> tuple[str, ...]:
    """Return the non-empty words, sorted and without repeats (one cache key for one set of words)."""
    return tuple(sorted({word for word in words if word}))


@functools.lru_cache(maxsize=32)
def _pattern(secrets: tuple[str, ...], public: tuple[str, ...]) -> re.Pattern[str] | None:
    """Return one regular expression matching every form of every secret, longest first, or None for none."""
    forms = sorted(_forms(secrets, public), key=len, reverse=True)
    if not forms:
        return None
    return re.compile("|".join(re.escape(form) for form in forms))


@functools.lru_cache(maxsize=32)
def _forms(secrets: tuple[str, ...], public: tuple[str, ...]) -> frozenset[str]:
    """Return every form in which the secrets and their parts may be written."""
    return frozenset(form for part in _parts(secrets, public) for form in _written(part) if form)


def _parts(secrets: tuple[str, ...], public: tuple[str, ...]) -> set[str]:
    """Return the secrets, the parts of the secret URLs and the keys of the signing secrets that are secrets."""
    plain = GENERIC_PARTS | {word.lower() for word in public}
    found: set[str] = set()
    for secret in secrets:
        found.add(secret)
        if secret.startswith(SIGNING_PREFIX):
            found.add(secret.removeprefix(SIGNING_PREFIX))
            continue
        try:
            url = httpx.URL(secret)
        except (httpx.InvalidURL, TypeError):
            continue
        if not url.host:
            continue
        raw_path = url.raw_path.decode("ascii", "replace")
        raw_query = url.query.decode("ascii", "replace")
        found.update(part for part in (raw_path, url.path, raw_query, "?" + raw_query) if len(part) >= MIN_PART)
        pieces = [*url.path.split("/"), *raw_path.split("?")[0].split("/")]
        for item in raw_query.split("&"):
            key, _, value = item.partition("=")
            pieces += [key, value, *_decoded(key, value)]
        found.update(p for p in pieces if _is_secret_part(p) and p.lower() not in plain)
    return found


def _is_secret_part(part: str) -> bool:
    """Return whether a part of a URL is long enough to be a secret on its own."""
    return len(part) >= (MIN_NUMBER if _NUMBER.fullmatch(part) else MIN_PART)


def _decoded(key: str, value: str) -> list[str]:
    """Return a query item's key and value as a receiver reads them (percent-decoded, ``+`` a space)."""
    params = httpx.QueryParams(f"{key}={value}")
    return [text for pair in params.multi_items() for text in pair]


def _written(part: str) -> set[str]:
    """Return part as written, percent-encoded, JSON-escaped and HTML-escaped, hex escapes in either case."""
    forms = {part, quote(part, safe=""), quote(part, safe="/"), quote_plus(part, safe=""), quote_plus(part, safe="/")}
    forms |= {_HEX.sub(lambda match: match.group().lower(), form) for form in forms}
    forms |= {_HEX.sub(lambda match: match.group().upper(), form) for form in forms}
    escaped = {json.dumps(form, ensure_ascii=only_ascii)[1:-1] for form in forms for only_ascii in (True, False)}
    escaped |= {form.replace("/", "\\/") for form in escaped}
    return forms | escaped | {html.escape(form) for form in forms}


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

    def __init__(self, secrets: Callable[[], Iterable[str]], public: Callable[[], Iterable[str]] | None = None) -> None:
        super().__init__()
        self.secrets = secrets
        self.public = public or tuple
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; return True (every record is kept)."""
        secrets, public = _key(self.secrets()), _key(self.public())
        if not secrets:
            return True
        record.msg = redact(record.getMessage(), secrets, public)
        record.args = None
        for key in STABLE_KEYS:
            value = record.__dict__.get(key)
            if isinstance(value, str):
                setattr(record, key, redact(value, secrets, public))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets, public)
        return True


def secrets_of(webhooks: Iterable[WebhookSettings]) -> list[str]:
    """Return the secrets of each webhook: its URL (unless it only names a server), signing secret and token."""
    return [secret for webhook in webhooks for secret in webhook.secret_values()]
