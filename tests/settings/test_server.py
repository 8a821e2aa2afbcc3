"""``[server] token``: its bounds, never quoted; which addresses are loopback; when the pages are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.commands.check import describe
from monitor.errors import ConfigError
from monitor.settings.config import load_settings

TOKEN = "a-token-of-20-chars!"


def load(tmp_path: Path, server: str, environ: dict[str, str] | None = None) -> object:
    path = tmp_path / "settings.toml"
    path.write_text(f"[seeds]\nenabled = false\n[server]\n{server}\n", encoding="utf-8")
    return load_settings(path, environ or {})


@pytest.mark.parametrize(
    ("listen", "token", "loopback", "refused"),
    [
        ("127.0.0.1:9108", None, True, False),
        ("127.8.9.10:9108", None, True, False),
        ("[::1]:9108", None, True, False),
        ("localhost:9108", None, True, False),
        ("0.0.0.0:9108", None, False, True),
        ("[::]:9108", None, False, True),
        ("192.168.1.5:9108", None, False, True),
        ("monitor.internal:9108", None, False, True),
        ("0.0.0.0:9108", TOKEN, False, False),
        ("127.0.0.1:9108", TOKEN, True, False),
    ],
)
def test_pages_are_refused_off_loopback_without_a_token(
    tmp_path: Path, listen: str, token: str | None, loopback: bool, refused: bool
) -> None:
    line = f'listen = "{listen}"' + (f'\ntoken = "{token}"' if token else "")
    settings = load(tmp_path, line)
    assert settings.server.loopback() == loopback  # type: ignore[attr-defined]
    why = settings.server.pages_refused()  # type: ignore[attr-defined]
    assert (why is not None) == refused
    summary = describe(settings)  # type: ignore[arg-type]
    server_line = next(line for line in summary.splitlines() if line.startswith("server: "))
    assert ("set [server] token to serve them" in server_line) == refused
    if token:
        assert token not in summary and "with the [server] token" in server_line


@pytest.mark.parametrize("token", ["short", "sixteen chars ok", "tab\there-0123456789", "ünïcode-0123456789abc"])
def test_a_bad_token_is_refused_without_quoting_it(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f'listen = "127.0.0.1:9108"\ntoken = "{token}"')
    assert "server.token: a token is at least 16 printable ASCII characters without spaces" in str(caught.value)
    assert token not in str(caught.value)


def test_an_empty_token_from_the_environment_is_no_token(tmp_path: Path) -> None:
    line = 'listen = "127.0.0.1:9108"\ntoken = "${MONITOR_TOKEN:-}"'
    assert load(tmp_path, line).server.token is None  # type: ignore[attr-defined]
    given = load(tmp_path, line, {"MONITOR_TOKEN": TOKEN}).server.token  # type: ignore[attr-defined]
    assert given is not None and given.get_secret_value() == TOKEN and TOKEN not in repr(given)


def test_no_server(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[seeds]\nenabled = false\n", encoding="utf-8")
    assert "server: off (no [server] listen)" in describe(load_settings(path, {}))
