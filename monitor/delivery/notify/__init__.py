"""Alert renderers: one module per chat platform, each turning an AlertMessage into a webhook JSON payload.

``REGISTRY`` is the one place a format name is tied to its module and to what the sender needs to know about
the platform (a ``Format``): the renderers for one alert and for a digest, query parameters to add to the
webhook URL, the statuses that mean success and the largest body it takes. ``FORMATS`` maps each name to its
single-alert renderer. Renderers are pure: they take alert values and return JSON-serialisable dicts, and never
evaluate feed text as a template. ``body.encode`` gives the bytes to post; ``signing`` signs them.

The platforms reached through an API (Matrix, Telegram, Zulip, ntfy) need more than a URL: their ``Format``
also says how to build the request from the settings (``request``: method, URL, headers, body), what to look up
once before the first send (``lookup``: a Matrix room alias), how to read the wait a rate-limited answer asks
for (``retry_after``), what shares a platform's rate limit (``pace_key``), which destination a webhook is
(``identity``) and what ``monitor check`` shows of it besides the server (``shown``). The webhook formats keep
the defaults: a JSON POST to the URL, and the URL as their pacing key and identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias

from monitor.delivery.notify import (
    discord,
    generic,
    googlechat,
    matrix,
    mattermost,
    ntfy,
    rocketchat,
    slack,
    teams,
    telegram,
    zulip,
)
from monitor.delivery.notify.request import Builder, Lookup, Request, Target, WaitReader, post_json, wait_in
from monitor.store.message import AlertMessage, ArticleRef

__all__ = [
    "FORMATS",
    "REGISTRY",
    "AlertMessage",
    "ArticleRef",
    "DigestRenderer",
    "Format",
    "Renderer",
    "Request",
    "Target",
    "get",
    "render",
    "render_digest",
]

Renderer: TypeAlias = Callable[[AlertMessage], dict[str, Any]]
DigestRenderer: TypeAlias = Callable[[Sequence[AlertMessage], str, str], list[dict[str, Any]]]

SUCCESS: frozenset[int] = frozenset(range(200, 300))


@dataclass(frozen=True)
class Format:
    """What delivery needs to know about one chat format: how to render it and how the platform answers."""

    render: Renderer
    render_digest: DigestRenderer
    # Query parameters the webhook URL needs (Discord: wait=true, so failures are not hidden behind a 204).
    query_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Every 2xx is success; Teams Workflows answers 202 Accepted, Discord with ?wait=true 200, the others 200.
    success_statuses: frozenset[int] = SUCCESS
    # The largest encoded body (body.encode) the platform takes, or None when its character limits bind first.
    max_bytes: int | None = None
    # The request that sends a payload to a target under the delivery's stable id (default: POST JSON to the URL).
    request: Builder = post_json
    # What to look up once before the first send, or None.
    lookup: Lookup | None = None
    # The seconds a refused request's answer (its text) asks to wait, besides the Retry-After header.
    retry_after: WaitReader | None = None
    # What shares the platform's rate limit: requests with one key are paced together (default: the URL).
    pace_key: Callable[[Target], str] = field(default=lambda target: target.url)
    # Which destination the webhook is, for its lease and health (default: the URL).
    identity: Callable[[Target], str] = field(default=lambda target: target.url)
    # What ``monitor check`` shows of the destination besides the server (default: nothing).
    shown: Callable[[Target], str] = field(default=lambda _target: "")


REGISTRY: Mapping[str, Format] = MappingProxyType(
    {
        "generic": Format(generic.render, generic.render_digest, max_bytes=generic.MAX_BYTES),
        "slack": Format(slack.render, slack.render_digest, max_bytes=slack.MAX_BYTES),
        "mattermost": Format(mattermost.render, mattermost.render_digest, max_bytes=mattermost.MAX_BYTES),
        "discord": Format(
            discord.render,
            discord.render_digest,
            MappingProxyType(dict(discord.DISCORD_QUERY)),
            retry_after=wait_in("retry_after"),
        ),
        "teams": Format(teams.render, teams.render_digest, max_bytes=teams.MAX_BYTES),
        "googlechat": Format(googlechat.render, googlechat.render_digest, max_bytes=googlechat.MAX_BYTES),
        "matrix": Format(
            matrix.render,
            matrix.render_digest,
            max_bytes=matrix.MAX_BYTES,
            request=matrix.request,
            lookup=matrix.ALIAS,
            retry_after=matrix.RETRY_AFTER,
            pace_key=matrix.pace_key,
            identity=matrix.identity,
            shown=matrix.shown,
        ),
        "telegram": Format(
            telegram.render,
            telegram.render_digest,
            request=telegram.request,
            retry_after=telegram.RETRY_AFTER,
            pace_key=telegram.pace_key,
            identity=telegram.identity,
            shown=telegram.shown,
        ),
        "zulip": Format(
            zulip.render,
            zulip.render_digest,
            request=zulip.request,
            retry_after=zulip.RETRY_AFTER,
            pace_key=zulip.pace_key,
            identity=zulip.identity,
            shown=zulip.shown,
        ),
        "rocketchat": Format(rocketchat.render, rocketchat.render_digest),
        "ntfy": Format(ntfy.render, ntfy.render_digest, request=ntfy.request, pace_key=ntfy.pace_key),
    }
)

FORMATS: dict[str, Renderer] = {name: spec.render for name, spec in REGISTRY.items()}


def get(format: str) -> Format:
    """Return what is known about the named format; raise KeyError for an unknown one."""
    try:
        return REGISTRY[format]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"notify: unknown format {format!r} (known: {known})") from None


def render(format: str, alert: AlertMessage) -> dict[str, Any]:
    """Return the webhook payload for alert in the named format; raise KeyError for an unknown format."""
    return get(format).render(alert)


def render_digest(format: str, alerts: Sequence[AlertMessage], rule: str, window: str) -> list[dict[str, Any]]:
    """Return the messages of a digest of one rule's alerts of a window in the named format (none for none)."""
    if not alerts:
        return []
    return get(format).render_digest(alerts, rule, window)
