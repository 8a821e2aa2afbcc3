"""Re-read the settings file while the daemon runs, and put a valid new version in force.

The file is compared by the SHA-256 of its bytes, so a save without changes costs one hash. A new version
that does not validate is logged with its file, key and line, and the settings in force stay. A valid one is
put in force whole by ``Pipeline.apply``: rules and matcher, feeds, webhooks, seeds, delivery, HTTP and
logging settings. What cannot change without a restart (``RESTART_ONLY``, the database and the ``[server]``
address) keeps its old value and is logged as ignored until restart. ``Changes`` says what differs, so that the
scheduler can add, remove and reschedule its jobs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from monitor.errors import ConfigError
from monitor.observe.logs import set_level
from monitor.pipeline import Pipeline
from monitor.settings.config import Settings, load_settings

log = logging.getLogger(__name__)
RESTART_ONLY = ("database", "server")
_SECTIONS = ("scheduler", "seeds", "http", "delivery", "logging", "health", "ingest")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Delta:
    """The names added, removed and changed in one kind of entry (rules, feeds, webhooks)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self, kind: str) -> list[str]:
        """Return one phrase per non-empty list, such as ``rules added: a, b``."""
        lists = (("added", self.added), ("removed", self.removed), ("changed", self.changed))
        return [f"{kind} {verb}: {', '.join(names)}" for verb, names in lists if names]


@dataclass(frozen=True)
class Changes:
    """What differs between two versions of the settings."""

    rules: Delta = Delta()
    feeds: Delta = Delta()
    webhooks: Delta = Delta()
    sections: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.feeds or self.webhooks or self.sections)

    def describe(self) -> str:
        """Return the changes as one readable line (ignored ones left out)."""
        parts = [*self.rules.describe("rules"), *self.feeds.describe("feeds"), *self.webhooks.describe("webhooks")]
        if self.sections:
            parts.append(f"sections changed: {', '.join(self.sections)}")
        return "; ".join(parts) or "no change"


def compare(old: Settings, new: Settings) -> Changes:
    """Return what differs from ``old`` to ``new``; a feed whose polling interval changes counts as changed."""
    old_feeds = {feed.name: (feed, old.feed_interval(feed)) for feed in old.feeds}
    new_feeds = {feed.name: (feed, new.feed_interval(feed)) for feed in new.feeds}
    return Changes(
        rules=_delta({r.name: r for r in old.rules}, {r.name: r for r in new.rules}),
        feeds=_delta(old_feeds, new_feeds),
        webhooks=_delta(old.webhooks, new.webhooks),
        sections=tuple(name for name in _SECTIONS if getattr(old, name) != getattr(new, name)),
        ignored=tuple(name for name in RESTART_ONLY if getattr(old, name) != getattr(new, name)),
    )


def _delta(old: Mapping[str, _T], new: Mapping[str, _T]) -> Delta:
    return Delta(
        added=tuple(name for name in new if name not in old),
        removed=tuple(name for name in old if name not in new),
        changed=tuple(name for name in new if name in old and old[name] != new[name]),
    )


class Reloader:
    """Watch one settings file and put each valid new version of it in force in a pipeline.

    ``check`` is meant to run in one thread at a time; the scheduler serialises its periodic and SIGHUP runs.
    """

    def __init__(self, pipeline: Pipeline, path: Path, environ: Mapping[str, str]) -> None:
        self.pipeline = pipeline
        self.path = path
        self.environ = environ
        # Unknown at first: the first check reads the file, and stays silent if nothing differs.
        self.digest: str | None = None

    def check(self, trigger: str) -> Changes | None:
        """Put the file's new version in force if it changed and is valid; return what changed, else None."""
        digest = _digest(self.path)
        if digest == self.digest:
            return None
        self.digest = digest
        try:
            new = load_settings(self.path, self.environ)
        except ConfigError as exc:
            log.error("settings: the new version is invalid, the previous settings stay in force:\n%s", exc)
            return None
        old = self.pipeline.settings
        changes = compare(old, new)
        if changes.ignored:
            sections = ", ".join(f"[{name}]" for name in changes.ignored)
            log.warning("settings: %s changed in %s; ignored until restart", sections, self.path)
            new = new.model_copy(update={name: getattr(old, name) for name in changes.ignored})
        if not changes:
            return None
        self.pipeline.apply(new)
        if "logging" in changes.sections:
            set_level(new.logging.level)
        log.info("settings reloaded (%s): %s", trigger, changes.describe())
        return changes


def _digest(path: Path) -> str:
    """Return the SHA-256 of the file's bytes, or a description of why it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc}"
