from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from typing import Any

import pytest

from monitor.delivery.notify import FORMATS, REGISTRY, AlertMessage, render_digest
from monitor.delivery.notify.body import size
from monitor.delivery.notify.digest import Part, pack, parts, split, widest

from .alerts import HOSTILE, MENTIONS, NORMAL, broken_text, live_mentions, strings
from .limits import violations

STORY = re.compile(r"Story (\d{3})")
RULE = f"rule {MENTIONS}"
WINDOW = "last hour <!here> @all"


def story(index: int) -> AlertMessage:
    """Return alert number index: every fourth one hostile, each title starting ``Story NNN``."""
    base = HOSTILE if index % 4 == 0 else NORMAL
    title = f"Story {index:03d} {base.article.title}"
    return replace(base, id=index, article=replace(base.article, title=title))


@cache
def digest(name: str, count: int) -> list[dict[str, Any]]:
    """Return the digest messages of count stories in the named format."""
    return render_digest(name, [story(i) for i in range(count)], RULE, WINDOW)


def pieces(name: str, message: dict[str, Any]) -> list[Any]:
    """Return the per-alert pieces of a digest message."""
    if name == "slack":
        return list(message["blocks"][2:])
    if name == "mattermost":
        return list(message["attachments"])
    if name == "discord":
        return list(message["embeds"])
    if name == "teams":
        return list(message["attachments"][0]["content"]["body"][2:])
    if name == "googlechat":
        return list(message["cardsV2"][0]["card"]["sections"])
    if name == "matrix":
        return message["formatted_body"].split("<li>")[1:]
    if name in ("telegram", "rocketchat"):
        return message["text"].split("\n\n")[1:]
    if name == "zulip":
        return message["content"].split("\n\n")[1:]
    if name == "ntfy":
        return message["message"].split("\n\n")[1:]
    return list(message["alerts"])


COUNTS = pytest.mark.parametrize("count", [1, 5, 300])
NAMES = pytest.mark.parametrize("name", sorted(FORMATS))


@NAMES
@COUNTS
def test_every_part_within_limits(name: str, count: int) -> None:
    messages = digest(name, count)
    assert messages
    for message in messages:
        assert violations(name, message) == []
        assert json.loads(json.dumps(message, allow_nan=False)) == message
        assert all(broken_text(text) == "" for text in strings(message))


@NAMES
@COUNTS
def test_every_alert_once_in_order(name: str, count: int) -> None:
    seen: list[int] = []
    for message in digest(name, count):
        for piece in pieces(name, message):
            stories = {int(number) for text in strings(piece) for number in STORY.findall(text)}
            assert len(stories) == 1, stories
            seen.extend(stories)
    assert seen == list(range(count))


@NAMES
@COUNTS
def test_every_part_says_which_it_is(name: str, count: int) -> None:
    messages = digest(name, count)
    noun = "alert" if count == 1 else "alerts"
    for number, message in enumerate(messages, start=1):
        if name == "generic":
            assert (message["part"], message["total"]) == ({"number": number, "count": len(messages)}, count)
            assert message["type"] == "monitor.digest"
            assert message["rule"] == {"name": RULE}
            assert message["window"] == WINDOW
            continue
        texts = strings(message)
        if len(messages) == 1:
            assert any(f"{count} {noun}" in text for text in texts)
            assert not any(f"{count} {noun}, part" in text for text in texts)
        else:
            assert any(f"{count} {noun}, part {number}/{len(messages)}" in text for text in texts)


@NAMES
def test_300_alerts_need_several_parts(name: str) -> None:
    assert len(digest(name, 300)) > 1


@pytest.mark.parametrize("name", sorted(set(FORMATS) - {"generic"}))
def test_digest_mentions_broken(name: str) -> None:
    for message in digest(name, 5):
        for text in strings(message):
            if name == "discord":
                text = re.sub(r"\\.", "", text)
            assert live_mentions(text) == [], text[:200]


@pytest.mark.parametrize(
    ("name", "count", "expected"),
    [
        # Ten embeds per Discord message.
        ("discord", 300, 30),
        # Fifty blocks per Slack message, two of them the header and the context line.
        ("slack", 96, 2),
        ("slack", 97, 3),
    ],
)
def test_parts_are_full(name: str, count: int, expected: int) -> None:
    alerts = [replace(NORMAL, id=i) for i in range(count)]
    assert len(render_digest(name, alerts, "Otan", "1h")) == expected


@NAMES
def test_no_alerts_no_messages(name: str) -> None:
    assert render_digest(name, [], "Otan", "1h") == []


@NAMES
def test_single_digest_message_fits_bytes(name: str) -> None:
    spec = REGISTRY[name]
    for message in digest(name, 300):
        assert spec.max_bytes is None or size(message) <= spec.max_bytes


@pytest.mark.parametrize(
    ("part", "label"),
    [
        (Part(1, 1, 1), "1 alert"),
        (Part(1, 1, 3), "3 alerts"),
        (Part(1, 2, 3), "3 alerts, part 1/2"),
        (Part(12, 30, 300), "300 alerts, part 12/30"),
    ],
)
def test_part_label(part: Part, label: str) -> None:
    assert part.label() == label


@pytest.mark.parametrize("alerts", [1, 9, 10, 300, 1000])
def test_widest_label_is_longest(alerts: int) -> None:
    longest = max(len(Part(n, c, alerts).label()) for c in range(1, alerts + 1) for n in (1, c))
    assert len(widest(alerts).label()) == longest


@pytest.mark.parametrize(
    ("costs", "room", "groups"),
    [
        ([], (10,), []),
        ([(1,)], (10,), [range(0, 1)]),
        ([(4,), (4,), (4,)], (8,), [range(0, 2), range(2, 3)]),
        ([(4,), (4,), (4,)], (12,), [range(0, 3)]),
        ([(9,), (1,), (1,)], (8,), [range(0, 1), range(1, 3)]),
        ([(1,), (9,), (1,)], (8,), [range(0, 1), range(1, 2), range(2, 3)]),
        ([(1, 5), (1, 5), (1, 5)], (2, 100), [range(0, 2), range(2, 3)]),
        ([(1, 50), (1, 50), (1, 1)], (10, 100), [range(0, 2), range(2, 3)]),
        ([(1, 60), (1, 50), (1, 40)], (10, 100), [range(0, 1), range(1, 3)]),
    ],
    ids=["none", "one", "two-by-two", "all-fit", "big-first", "big-middle", "count", "exact", "bytes"],
)
def test_pack(costs: list[tuple[int, ...]], room: tuple[int, ...], groups: list[range]) -> None:
    assert pack(costs, room) == groups


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([range(0, 3)], [Part(1, 1, 3)]),
        ([range(0, 2), range(2, 3)], [Part(1, 2, 3), Part(2, 2, 3)]),
    ],
)
def test_parts(groups: list[range], expected: list[Part]) -> None:
    assert parts(groups, groups[-1].stop) == expected


def test_split_builds_one_message_per_group() -> None:
    built = split(["a", "b", "c"], [(1,), (1,), (1,)], (2,), lambda group, part: (list(group), part.label()))
    assert built == [(["a", "b"], "3 alerts, part 1/2"), (["c"], "3 alerts, part 2/2")]
