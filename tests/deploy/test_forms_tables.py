"""The word-form tables: built from simplemma's dictionaries, folded as rules see words, rebuilt only when stale."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from monitor.matching.forms import Forms
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import forms_tables


def test_a_table_maps_folded_forms_to_their_lemmas(tmp_path: Path) -> None:
    forms_tables.ensure(tmp_path, ["fr"])
    forms = Forms(tmp_path)
    assert forms.languages == {"fr"}
    assert forms.keys("sommets", "fr") == ("sommet",)
    assert forms.keys("elections", "fr") == ("election",)  # "élections", accents folded as rules fold them
    assert forms.keys("minerai", "fr") == ("minerai",)  # no form of "mine"
    assert forms.keys("sommet", "fr") == ("sommet",)


def test_tables_are_rebuilt_only_when_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (table,) = forms_tables.ensure(tmp_path, ["en"])
    built_at = table.stat().st_mtime_ns
    calls: list[object] = []
    monkeypatch.setattr(forms_tables, "build", lambda *args: calls.append(args) or [])
    assert forms_tables.ensure(tmp_path, ["en"]) == [table] and calls == []
    assert table.stat().st_mtime_ns == built_at
    assert forms_tables.ensure(tmp_path, []) == [] and len(calls) == 0  # no language: the old table goes
    assert not table.exists() and (tmp_path / forms_tables.STAMP).exists()


@pytest.mark.parametrize(
    ("environ", "languages"),
    [
        ({}, forms_tables.LANGUAGES),
        ({"MONITOR_FORM_LANGUAGES": "en, ru"}, ("en", "ru")),
        ({"MONITOR_FORM_LANGUAGES": ""}, ()),
    ],
)
def test_the_environment_chooses_the_languages(environ: dict[str, str], languages: tuple[str, ...]) -> None:
    assert forms_tables.chosen(environ) == languages
