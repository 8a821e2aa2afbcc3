"""One ``[webhooks.NAME]`` table: the format, where it posts, and the keys each format reads.

| format | keys |
|---|---|
| ``slack``, ``mattermost``, ``discord``, ``teams``, ``googlechat``, ``rocketchat`` | ``url``: the webhook URL |
| ``generic`` | ``url``; ``secret``, optional: a Standard Webhooks signing key |
| ``matrix`` | ``url``: the homeserver; ``room``: ``!id`` or ``#alias:server``; ``token``: an access token |
| ``telegram`` | ``token``: the bot's; ``chat_id``; ``url``, optional: the Bot API server (``TELEGRAM_API``) |
| ``zulip`` | ``url``: the server; ``stream``, ``topic``, ``bot_email``, ``token``: the bot's API key; or ``url`` |
|  | alone, an incoming webhook URL with its ``api_key`` (``stream`` and ``topic`` then optional) |
| ``ntfy`` | ``url``: the topic's URL; ``token``, optional: an access token |

A key the format does not read is refused, naming the formats that do; a key it needs is asked for. Any value may
be ``${NAME}``. The URL is a secret for every format whose URL is not just its server (``secret_values``), and so
are ``secret`` and ``token``: a problem with one of them never quotes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.delivery.notify.signing import validate_secret
from monitor.settings.values import webhook_url

FORMATS = (
    "slack",
    "mattermost",
    "discord",
    "teams",
    "googlechat",
    "generic",
    "matrix",
    "telegram",
    "zulip",
    "rocketchat",
    "ntfy",
)
TELEGRAM_API = "https://api.telegram.org"
NAME_LIMIT = 60  # characters of a Zulip stream or topic name

# The keys each format reads besides url and format: those it needs, and those it may take.
NEEDED: dict[str, tuple[str, ...]] = {"matrix": ("room", "token"), "telegram": ("token", "chat_id")}
READ: dict[str, tuple[str, ...]] = {
    "generic": ("secret",),
    "matrix": ("room", "token"),
    "telegram": ("token", "chat_id"),
    "zulip": ("stream", "topic", "bot_email", "token"),
    "ntfy": ("token",),
}
# Formats whose url names a server, not a secret webhook (Zulip's only with a bot: see secret_values).
SERVER_URLS = ("matrix", "telegram")

_ROOM = re.compile(r"[!#][^\s:]+(?::\S+)?")
_CHAT_ID = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
_TELEGRAM_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,200}")
_TOKEN = re.compile(r"[!-~]{1,1000}")  # printable ASCII, no space: it goes in a header or a path
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_NTFY_TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")


def _text(value: object) -> object:
    """Return a chat id written as a number as its text (TOML has both); leave anything else to validation."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # format first: the checks of the other keys depend on it.
    format: Literal[
        "slack", "mattermost", "discord", "teams", "googlechat", "generic", "matrix", "telegram", "zulip",
        "rocketchat", "ntfy",
    ]  # fmt: skip
    url: SecretStr
    secret: SecretStr | None = None
    room: str | None = Field(default=None, validate_default=True)
    chat_id: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, validate_default=True)
    bot_email: str | None = Field(default=None, validate_default=True)
    token: SecretStr | None = Field(default=None, validate_default=True)
    stream: str | None = Field(default=None, validate_default=True)
    topic: str | None = Field(default=None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _default_server(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") == "telegram" and "url" not in data:
            return {**data, "url": TELEGRAM_API}
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        webhook_url(value)
        if info.data.get("format") == "ntfy" and not _NTFY_TOPIC.fullmatch(_last_segment(value.get_secret_value())):
            raise ValueError("an ntfy url is the topic's URL: it ends in the topic's name, such as /alerts")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = validate_secret(value.get_secret_value())
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("room")
    @classmethod
    def _check_room(cls, value: str | None, info: ValidationInfo) -> str | None:
        if _applies("room", value, info) and value is not None and not _is_room(value):
            raise ValueError("expected a room id (!abc…) or a room alias (#name:server)")
        return value

    @field_validator("chat_id")
    @classmethod
    def _check_chat_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if _applies("chat_id", value, info) and value is not None and not _CHAT_ID.fullmatch(value):
            raise ValueError("expected a chat's number (-100… for a group or channel) or a channel's @name")
        return value

    @field_validator("bot_email")
    @classmethod
    def _check_bot_email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if _applies("bot_email", value, info) and value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("expected the bot's email address, such as alerts-bot@zulip.example.org")
        return value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        format = info.data.get("format")
        if format == "zulip" and (value is None) != (info.data.get("bot_email") is None):
            raise ValueError("the zulip bot API needs bot_email and token (its API key) together")
        if not _applies("token", value, info) or value is None:
            return value
        text = value.get_secret_value()
        if format == "telegram" and not _TELEGRAM_TOKEN.fullmatch(text):
            raise ValueError("not a bot token: expected the digits of the bot, a colon and its key, as BotFather gave")
        if not _TOKEN.fullmatch(text):
            raise ValueError("a token is printable ASCII without spaces (it goes in a request's header or path)")
        return value

    @field_validator("stream", "topic")
    @classmethod
    def _check_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        key = info.field_name or ""
        if info.data.get("format") == "zulip" and value is None and info.data.get("bot_email") is not None:
            raise ValueError(f"the zulip bot API needs a {key}")
        if _applies(key, value, info) and value is not None and not _is_name(value):
            raise ValueError(f"a zulip {key} name is 1 to {NAME_LIMIT} printable characters")
        return value

    @model_validator(mode="after")
    def _secret_signs_generic_only(self) -> WebhookSettings:
        if self.secret is not None and self.format != "generic":
            raise ValueError(f"a signing secret applies to the generic format only, not {self.format!r}")
        if self.format == "zulip" and self.bot_email is None and "api_key=" not in self.url.get_secret_value():
            raise ValueError(
                "a zulip webhook needs bot_email and token (the bot API), or an incoming webhook URL with its api_key"
            )
        return self

    def secret_values(self) -> list[str]:
        """Return what of this webhook is secret: the URL unless it only names a server, the secret, the token."""
        server = self.format in SERVER_URLS or (self.format == "zulip" and self.bot_email is not None)
        found = [] if server else [self.url.get_secret_value()]
        found += [value.get_secret_value() for value in (self.secret, self.token) if value is not None]
        return found


def _applies(key: str, value: object, info: ValidationInfo) -> bool:
    """Return whether the webhook's format reads key; raise ValueError if it needs it and has none, or reads it
    not and has it."""
    format = info.data.get("format")
    if format is None:
        return False  # the format is wrong: that is the problem reported
    if value is None:
        if key in NEEDED.get(format, ()):
            raise ValueError(f"the {format} format needs a {key}")
        return False
    if key not in READ.get(format, ()):
        readers = [name for name in FORMATS if key in READ.get(name, ())]
        listed = " and ".join([", ".join(readers[:-1]), readers[-1]] if len(readers) > 1 else readers)
        plural = "s" if len(readers) > 1 else ""
        raise ValueError(f"{key} applies to the {listed} format{plural} only, not {format!r}")
    return True


def _is_room(value: str) -> bool:
    """Return whether value is a Matrix room id or a room alias (which names its server)."""
    return len(value) <= 255 and bool(_ROOM.fullmatch(value)) and (value.startswith("!") or ":" in value)


def _is_name(value: str) -> bool:
    """Return whether value can name a Zulip stream or topic."""
    return bool(value.strip()) and len(value) <= NAME_LIMIT and all(c.isprintable() for c in value)


def _last_segment(url: str) -> str:
    """Return the last segment of a URL's path."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    scheme_less = path.split("://", 1)[-1]
    return scheme_less.rstrip("/").rpartition("/")[2] if "/" in scheme_less else ""
