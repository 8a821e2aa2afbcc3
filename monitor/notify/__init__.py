"""Alert renderers: one module per chat platform, each turning an AlertMessage into a webhook JSON payload.

``FORMATS`` is the one place a format name is tied to its renderer; delivery looks formats up here. Renderers
are pure: they take the alert value and return a JSON-serialisable dict, and never evaluate feed text as a
template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from monitor.notify import discord, generic, slack
from monitor.notify.message import AlertMessage, ArticleRef

__all__ = ["FORMATS", "AlertMessage", "ArticleRef", "Renderer", "render"]

Renderer: TypeAlias = Callable[[AlertMessage], dict[str, Any]]

FORMATS: dict[str, Renderer] = {
    "generic": generic.render,
    "slack": slack.render,
    "discord": discord.render,
}


def render(format: str, alert: AlertMessage) -> dict[str, Any]:
    """Return the webhook payload for alert in the named format; raise KeyError for an unknown format."""
    try:
        renderer = FORMATS[format]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise KeyError(f"notify: unknown format {format!r} (known: {known})") from None
    return renderer(alert)
