from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import load_settings


@pytest.mark.parametrize(
    ("text", "first_poll", "story", "once"),
    [
        ('[[rules]]\nname = "r"\nquery = "x"\n', timedelta(hours=24), timedelta(hours=48), True),
        (
            '[ingest]\nfirst_poll_window = "2h"\nstory_window = "3d"\n[[rules]]\nname = "r"\nquery = "x"\n'
            "once_per_story = false\n",
            timedelta(hours=2),
            timedelta(days=3),
            False,
        ),
    ],
    ids=["defaults", "set"],
)
def test_ingest_settings(tmp_path: Path, text: str, first_poll: timedelta, story: timedelta, once: bool) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path, {})
    assert (settings.ingest.first_poll_window, settings.ingest.story_window) == (first_poll, story)
    assert settings.rules[0].once_per_story is once


def test_a_bad_first_poll_window_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[ingest]\nfirst_poll_window = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ingest\.first_poll_window"):
        load_settings(path, {})
