from __future__ import annotations

import json
from dataclasses import replace

import pytest

from monitor.delivery.notify import FORMATS, AlertMessage, render, render_digest

from . import snapshots
from .alerts import HOSTILE, NORMAL, with_marks

# The match in the title: the message quotes the first sentence of the text rather than the title again.
IN_TITLE = with_marks(NORMAL, "Le **sommet de l'Otan** à Madrid", field="title")


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize(("case", "alert"), [("normal", NORMAL), ("hostile", HOSTILE), ("title", IN_TITLE)])
def test_payload_matches_snapshot(name: str, case: str, alert: AlertMessage) -> None:
    snapshots.check(f"{name}-{case}", render(name, alert))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_digest_matches_snapshot(name: str) -> None:
    second = replace(NORMAL, id=43, article=replace(NORMAL.article, title="Madrid accueille l'Otan", url=None))
    snapshots.check(f"{name}-digest", render_digest(name, [NORMAL, second], "Otan", "last hour"))


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"a": "x"}, '{\n  "a": "x"\n}\n'),
        ({"a": "@\u200bhere"}, '{\n  "a": "@\\u200bhere"\n}\n'),
        ({"a": "é 👍🏽"}, '{\n  "a": "é 👍🏽"\n}\n'),
        ({"a": "\u00ad\u200d"}, '{\n  "a": "\\u00ad\\u200d"\n}\n'),
    ],
)
def test_dump_shows_invisible_characters(payload: dict[str, str], text: str) -> None:
    assert snapshots.dump(payload) == text
    assert json.loads(text) == payload
