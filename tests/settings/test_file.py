"""Adding feeds to a settings file: the new tables at its end, everything before them kept byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import load_settings
from monitor.settings.file import add_feeds

NEW = [("b", 'https://b.example.org/feed?x="1"'), ("c", "https://c.example.org/")]
TABLES = '[[feeds]]\nname = "b"\nurl = "https://b.example.org/feed?x=\\"1\\""\n\n[[feeds]]\nname = "c"\nurl = "https://c.example.org/"\n'


@pytest.mark.parametrize(
    ("original", "feeds"),
    [
        # Feeds first, rules after: the new feeds go after the rules, at the end, as the README says.
        (
            '# mine\n[[feeds]]\nname = "a"   # first\nurl = "https://a.example.org/"\n\n'
            '[[rules]]\nname = "r"\nquery = "nato"\n# the end\n',
            ["a", "b", "c"],
        ),
        ('[[rules]]\nname = "r"\nquery = "nato"', ["b", "c"]),  # no feeds yet, no final newline
        ('[webhooks.team]\nurl = "https://hooks.example.org/x"\nformat = "slack"\n\n\n', ["b", "c"]),
        ("", ["b", "c"]),
    ],
)
def test_new_feeds_are_appended_at_the_end(tmp_path: Path, original: str, feeds: list[str]) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(original, encoding="utf-8")
    added: list[None] = []
    add_feeds(path, NEW, {}, lambda: added.append(None))
    text = path.read_text(encoding="utf-8")
    assert text.startswith(original) and text.endswith(TABLES)
    assert [feed.name for feed in load_settings(path, {}).feeds] == feeds
    assert len(added) == len(NEW)


def test_an_inline_array_of_feeds_gets_the_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('feeds = [{name = "a", url = "https://a.example.org/"}]\n[seeds]\nenabled = false\n')
    add_feeds(path, NEW, {})
    assert [feed.url for feed in load_settings(path, {}).feeds] == ["https://a.example.org/", *(u for _, u in NEW)]
    assert path.read_text(encoding="utf-8").endswith("[seeds]\nenabled = false\n")


def test_a_result_that_does_not_validate_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    original = '[[feeds]]\nname = "b"\nurl = "https://b.example.org/"\n'
    path.write_text(original, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        add_feeds(path, [("b", "https://other.example.org/")], {})
    assert f"{path}: feeds[1].name: duplicate name 'b'" in str(caught.value)
    assert path.read_text(encoding="utf-8") == original
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]  # no temporary file left behind


def test_webhook_variables_are_needed_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[webhooks.team]\nurl = "${TEAM_HOOK}"\nformat = "slack"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="environment variable TEAM_HOOK is not set"):
        add_feeds(path, NEW, {})
    add_feeds(path, NEW, {}, webhooks_needed=False)
    assert [feed.name for feed in load_settings(path, {"TEAM_HOOK": "https://hooks.example.org/t"}).feeds] == ["b", "c"]
