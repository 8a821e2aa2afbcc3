"""Exceptions raised by monitor, one small tree.

MonitorError                 every error of ours; ``str()`` starts with the component
├── ConfigError              the settings file is unreadable or invalid (exit code 2)
├── QueryError               a watch rule's query does not parse; carries ``position`` (exit code 2)
├── FetchError               a feed could not be fetched; carries ``kind`` (dns, connect, timeout, http, ...)
├── FeedParseError           fetched bytes are not a feed
├── RefusedContentError      the database refused what a feed brought (a value too large for it)
├── StorageError             the database is unusable (exit code 1)
├── ServerError              the health and metrics server cannot listen (exit code 1)
└── DeliveryError            a webhook did not accept an alert; carries ``status`` and ``retry_after``
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error raised by monitor."""


class ConfigError(MonitorError):
    """Raised when the settings file cannot be read or does not validate."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class QueryError(MonitorError):
    """Raised when a query does not parse; ``position`` is the 0-based character offset of the fault."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        super().__init__(f"query: {message} at position {position}")
        self.reason = message
        self.position = position
        self.query = query

    def pointer(self) -> str:
        """Return the query's line that holds the fault, with a caret line under the faulty position."""
        start = self.query.rfind("\n", 0, self.position) + 1
        end = self.query.find("\n", self.position)
        line = self.query[start:] if end < 0 else self.query[start:end]
        return f"{line}\n{' ' * (self.position - start)}^"


class FetchError(MonitorError):
    """Raised when a feed cannot be fetched; ``kind`` classifies the failure."""

    def __init__(self, message: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class FeedParseError(MonitorError):
    """Raised when fetched bytes cannot be read as a feed."""


class RefusedContentError(MonitorError):
    """Raised when the database refuses to store a feed's articles because of what they hold."""


class ServerError(MonitorError):
    """Raised when the health and metrics server cannot listen on its address."""


class StorageError(MonitorError):
    """Raised when the database cannot be opened or written."""


class DeliveryError(MonitorError):
    """Raised when a webhook does not accept an alert."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
