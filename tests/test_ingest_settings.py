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


@pytest.mark.parametrize(
    ("text", "max_text"), [("", 200_000), ("max_text = 1000\n", 1000), ("max_text = 2_000_000\n", 2_000_000)]
)
def test_max_text(tmp_path: Path, text: str, max_text: int) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f"[ingest]\n{text}", encoding="utf-8")
    assert load_settings(path, {}).ingest.max_text == max_text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999", "greater than or equal to 1000"),
        ("0", "greater than or equal to 1000"),
        ("2_000_001", "less than or equal to 2000000"),
        ('"200kB"', "valid integer"),
        ("1.5", "valid integer"),
    ],
)
def test_max_text_out_of_bounds_is_refused(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f"[ingest]\nmax_text = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"ingest\.max_text: .*{message}.* \(line 2\)"):
        load_settings(path, {})


@pytest.mark.parametrize(
    ("ingest", "feed", "expected"),
    [
        ("", "", False),
        ("", "full_text = true\n", True),
        ("full_text = true\n", "", True),
        ("full_text = true\n", "full_text = false\n", False),
    ],
    ids=["off", "the feed's", "every feed's", "the feed's own wins"],
)
def test_full_text_is_the_feeds_own_else_ingests(tmp_path: Path, ingest: str, feed: str, expected: bool) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f'[ingest]\n{ingest}[[feeds]]\nname = "f"\nurl = "https://x.example/rss"\n{feed}', encoding="utf-8")
    settings = load_settings(path, {})
    assert settings.feed_full_text(settings.feeds[0]) is expected


def test_full_text_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[ingest]\nfull_text_wait = "1m"\npage_gap = "250ms"\nrobots = false\n', encoding="utf-8")
    ingest = load_settings(path, {}).ingest
    assert (ingest.full_text_wait, ingest.page_gap, ingest.robots) == (
        timedelta(minutes=1),
        timedelta(0.25 / 86400),
        False,
    )
    path.write_text("", encoding="utf-8")
    ingest = load_settings(path, {}).ingest
    assert (ingest.full_text, ingest.full_text_wait, ingest.page_gap, ingest.robots) == (
        False,
        timedelta(seconds=30),
        timedelta(seconds=1),
        True,
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('full_text_wait = "10m"', "ingest.full_text_wait: 10m is too long: the most is 5m"),
        ('full_text_wait = "0s"', "ingest.full_text_wait: duration 0s must be positive"),
        ('page_gap = "10ms"', "ingest.page_gap: 10ms is too short: the least is 100ms, since requesting pages faster"),
        ('page_gap = "2m"', "ingest.page_gap: 2m is too long: the most is 1m"),
        ('full_text = "sometimes"', "ingest.full_text: Input should be a valid boolean"),
    ],
)
def test_full_text_settings_out_of_bounds_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f"[ingest]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.", 1)):
        load_settings(path, {})
