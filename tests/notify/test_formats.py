from __future__ import annotations

import json

import pytest

import monitor.notify
from monitor.notify import FORMATS, discord, generic, render, slack

from .alerts import HOSTILE, NORMAL, RTL_OVERRIDE, orphans, strings


@pytest.mark.parametrize(
    ("name", "renderer"),
    [("generic", generic.render), ("slack", slack.render), ("discord", discord.render)],
)
def test_formats_maps_name_to_renderer(name: str, renderer: monitor.notify.Renderer) -> None:
    assert FORMATS[name] is renderer
    assert render(name, NORMAL) == renderer(NORMAL)


@pytest.mark.parametrize("name", ["teams", "", "Slack", "generic "])
def test_render_unknown_format(name: str) -> None:
    with pytest.raises(KeyError, match=r"notify: unknown format .* \(known: discord, generic, slack\)"):
        render(name, NORMAL)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("alert", [NORMAL, HOSTILE], ids=["normal", "hostile"])
def test_every_format_is_json_and_clean(name: str, alert: monitor.notify.AlertMessage) -> None:
    payload = render(name, alert)
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    for text in strings(payload):
        assert RTL_OVERRIDE not in text
        assert not any(c in text for c in "\x00\x07\x1b\x7f\x85\u2060\ufeff\u202c\u2066")
        assert orphans(text) == ""
