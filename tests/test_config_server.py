"""The ``[server]`` settings and ``${NAME:-default}`` interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import load_settings, split_listen


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${LISTEN:-127.0.0.1:9108}", {}, "127.0.0.1:9108"),
        ("${LISTEN:-127.0.0.1:9108}", {"LISTEN": ""}, "127.0.0.1:9108"),
        ("${LISTEN:-127.0.0.1:9108}", {"LISTEN": "0.0.0.0:9200"}, "0.0.0.0:9200"),
        ("${LISTEN}", {"LISTEN": "[::1]:9108"}, "[::1]:9108"),
        ("${HOST:-localhost}:${PORT:-9108}", {"PORT": "9300"}, "localhost:9300"),
        ("$${LISTEN:-x}", {}, None),
    ],
)
def test_env_default(tmp_path: Path, value: str, environ: dict[str, str], expected: str | None) -> None:
    if expected is None:
        path = write(tmp_path, f'[[rules]]\nname = "r"\nquery = "{value}"\n')
        assert load_settings(path, environ).rules[0].query == "${LISTEN:-x}"
        return
    path = write(tmp_path, f'[server]\nlisten = "{value}"\n')
    assert load_settings(path, environ).server.listen == expected


def test_env_without_default_still_required(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nlisten = "${LISTEN}"\n')
    with pytest.raises(ConfigError, match="environment variable LISTEN is not set"):
        load_settings(path, {})


def test_server_off_by_default(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), {}).server.listen is None


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9108", ("127.0.0.1", 9108)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:80", ("localhost", 80)),
        ("[::1]:9108", ("::1", 9108)),
        ("[::]:9108", ("::", 9108)),
    ],
)
def test_split_listen(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9108", "127.0.0.1", ":9108", "127.0.0.1:http", "::1:9108", "[::1:9108", "h:70000"])
def test_bad_listen_names_key_and_line(tmp_path: Path, listen: str) -> None:
    path = write(tmp_path, f'# top\n[server]\nlisten = "{listen}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(caught.value).startswith(f"{path}: server.listen: ")
    assert str(caught.value).endswith("(line 3)")
