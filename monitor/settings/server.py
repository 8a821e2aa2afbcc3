"""``[server]``: the address of the daemon's HTTP server, and the token its web pages ask for.

``listen`` is ``host:port`` (``[::1]:9108`` for IPv6); without it nothing listens. ``/healthz`` and ``/metrics``
are always open. The web pages need ``token`` when it is set (as a bearer token or a basic-auth password), and
are not served at all on an address other than loopback without one. The token is a secret: no message quotes it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr

from monitor.settings.values import is_loopback, split_listen

MIN_TOKEN = 16


def _listen(value: str | None) -> str | None:
    if value is not None:
        split_listen(value)
    return value


def _token(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    token = value.get_secret_value()
    # The message never quotes the token: it is a secret.
    if len(token) < MIN_TOKEN or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(f"a token is at least {MIN_TOKEN} printable ASCII characters without spaces")
    return value


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: Annotated[str | None, AfterValidator(_listen)] = None
    # Needed by the web pages (as a bearer token or a basic-auth password); /healthz and /metrics stay open.
    # An empty value (``"${MONITOR_TOKEN:-}"`` with the variable unset) is no token.
    token: Annotated[SecretStr | None, BeforeValidator(lambda v: v or None), AfterValidator(_token)] = None

    def loopback(self) -> bool:
        """Return whether the server listens on a loopback address only (127.0.0.0/8, ::1 or localhost)."""
        return self.listen is not None and is_loopback(split_listen(self.listen)[0])

    def pages_refused(self) -> str | None:
        """Return why the web pages are not served (an address other than loopback without a token), or None."""
        if self.listen is None or self.token is not None or self.loopback():
            return None
        return (
            f"the web pages are off: {self.listen} is not a loopback address and [server] token is not set "
            "(only /healthz and /metrics are served)"
        )
