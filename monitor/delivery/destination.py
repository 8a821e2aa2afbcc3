"""Where a webhook posts, read from its settings: the values a format's request is built from, the destination
the webhook is (its lease and health follow it), what shares a platform's rate limit, and a line that says it.

For a webhook URL, all of these are the URL. For the formats whose ``url`` is a server shared by many rooms or
chats, they differ: a Matrix room's messages are counted against the bot user's limit on its homeserver, a
Telegram chat's against one bot's messages to that chat, a Zulip stream's against the bot's requests to its
server, an ntfy topic's against the sender's requests to the server; the destination is the room, chat or
stream on its server. ``describe`` never shows a secret: the server's address only, and the room, chat or stream
the format names (a Matrix room, a Telegram chat id, a Zulip stream and topic).
"""

from __future__ import annotations

from monitor.delivery import notify
from monitor.observe.logs import safe_url
from monitor.settings.config import WebhookSettings


def target(webhook: WebhookSettings) -> notify.Target:
    """Return the values a request to the webhook is built from, secrets included."""
    return notify.Target(
        url=webhook.url.get_secret_value(),
        room=webhook.room,
        token=webhook.token.get_secret_value() if webhook.token is not None else None,
        chat_id=webhook.chat_id,
        stream=webhook.stream,
        topic=webhook.topic,
        bot_email=webhook.bot_email,
    )


def identity(webhook: WebhookSettings) -> str:
    """Return which destination the webhook posts to (a secret: only ever stored as a digest)."""
    return notify.get(webhook.format).identity(target(webhook))


def pace_key(webhook: WebhookSettings) -> str:
    """Return what the webhook's requests share a rate limit with (a secret: only ever stored as a digest)."""
    return notify.get(webhook.format).pace_key(target(webhook))


def describe(webhook: WebhookSettings) -> str:
    """Return where the webhook posts, for people: the server, and the room, chat or stream; no secret."""
    where = safe_url(webhook.url.get_secret_value())
    shown = notify.get(webhook.format).shown(target(webhook))
    return f"{where} {shown}" if shown else where
