"""A rule's examples and counterexamples are checked whenever the settings are loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import load_settings
from tests.daemon import monitor

RULES = """
[seeds]
enabled = false

[[rules]]
name = "Donbass"
any = ["Donbass", "Донбасс", "Донбас"]
examples = ["Бои в Донбассе продолжаются", "Обстріли на Донбасі тривають"]
counterexamples = ["Shakhtar Donetsk won the cup"]
{extra}
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(RULES.format(extra=extra), encoding="utf-8")
    return path


def test_examples_that_hold_pass(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path), {})
    assert settings.rules[0].examples[0] == "Бои в Донбассе продолжаются"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "forms = false",
            "rules[0].examples[0]: rule 'Donbass' does not match its example 'Бои в Донбассе продолжаются' (line 8)",
        ),
        (
            '\n[[rules]]\nname = "strict"\nquery = "=summit"\nexamples = ["two NATO summits"]',
            "rules[1].examples[0]: rule 'strict' does not match its example 'two NATO summits' (line 14)",
        ),
        (
            '\n[[rules]]\nname = "cup"\nquery = "cup"\ncounterexamples = ["the cups were won"]',
            "rules[1].counterexamples[0]: rule 'cup' matches its counterexample 'the cups were won' (line 14)",
        ),
    ],
)
def test_a_failing_example_makes_the_settings_invalid(tmp_path: Path, extra: str, problem: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert caught.value.problems[0] == f"{path}: {problem}"


def test_monitor_check_names_the_rule_and_the_example(tmp_path: Path) -> None:
    good = monitor("--config", str(write(tmp_path)), "check")
    assert good.returncode == 0, good.stderr
    bad = monitor("--config", str(write(tmp_path, "forms = false")), "check")
    assert bad.returncode == 2
    assert "rule 'Donbass' does not match its example 'Бои в Донбассе продолжаются'" in bad.stderr
    assert "Traceback" not in bad.stderr
