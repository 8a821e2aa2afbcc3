"""The ntfy format: a JSON publication to the topic, with title, tags, click link and the rule's priority.

Pages: https://docs.ntfy.sh/publish/#publish-as-json (topic, message, title, tags, priority, click),
https://docs.ntfy.sh/publish/#message-priority (1 min … 5 max/urgent), https://docs.ntfy.sh/publish/#access-tokens
(Authorization: Bearer tk_…), https://docs.ntfy.sh/config/#message-limits (4,096 bytes of message); titles above
1 KB and tags above 512 bytes are refused with a 400 since ntfy 2.28 (its release notes).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from monitor.delivery.notify import Target, ntfy

from .alerts import HOSTILE, NORMAL, broken_text, live_mentions

TARGET = Target(url="https://ntfy.example.org/monitor_alerts-7f3a")


def test_render_normal() -> None:
    assert ntfy.render(NORMAL) == {
        "title": "Otan: Le sommet de l'Otan à Madrid",
        "message": "Le Monde · 2022-06-15 10:00 UTC\n… avant le sommet de l'Otan prévu …\nMatched: sommet de l'Otan",
        "tags": ["newspaper", "Otan"],
        "click": NORMAL.article.url,
    }


@pytest.mark.parametrize(
    ("priority", "number"),
    [(None, None), ("min", 1), ("low", 2), ("default", 3), ("high", 4), ("max", 5), ("urgent", 5)],
)
def test_priority_by_rule(priority: str | None, number: int | None) -> None:
    payload = ntfy.render(replace(NORMAL, priority=priority))
    assert payload.get("priority") == number
    (digest,) = ntfy.render_digest([replace(NORMAL, priority=priority), NORMAL], "Otan", "1h")
    assert digest.get("priority") == number


def test_a_digest_takes_the_highest_priority_of_its_alerts() -> None:
    alerts = [replace(NORMAL, priority="low"), replace(NORMAL, priority="high"), NORMAL]
    (digest,) = ntfy.render_digest(alerts, "Otan", "1h")
    assert digest["priority"] == 4 and digest["title"] == "Digest: Otan (3 alerts)"


def test_hostile_within_limits_and_plain() -> None:
    payload = ntfy.render(HOSTILE)
    assert len(payload["message"].encode()) <= ntfy.MESSAGE_BYTES
    assert len(payload["title"].encode()) <= ntfy.TITLE_BYTES
    assert len(",".join(payload["tags"]).encode()) <= ntfy.TAGS_BYTES
    assert "click" in payload and payload["click"].startswith("https://evil.example/")
    for text in (payload["title"], payload["message"], *payload["tags"]):
        assert live_mentions(text) == [] and broken_text(text) == ""


@pytest.mark.parametrize(
    ("url", "root", "topic"),
    [
        ("https://ntfy.sh/mytopic", "https://ntfy.sh/", "mytopic"),
        ("https://ntfy.example.org/monitor_alerts-7f3a/", "https://ntfy.example.org/", "monitor_alerts-7f3a"),
        ("http://127.0.0.1:8080/alerts?auth=abc", "http://127.0.0.1:8080/?auth=abc", "alerts"),
    ],
)
def test_request_publishes_to_the_root_with_the_topic(url: str, root: str, topic: str) -> None:
    request = ntfy.request(Target(url=url), "msg_1", {"title": "t", "message": "m"})
    assert (request.method, request.url) == ("POST", root)
    assert json.loads(request.content) == {"topic": topic, "title": "t", "message": "m"}
    assert "Authorization" not in request.headers


def test_a_token_is_a_bearer() -> None:
    request = ntfy.request(replace(TARGET, token="tk_abcdefghijklmnopqrstuvwxyz012"), "msg_1", {})
    assert request.headers["Authorization"] == "Bearer tk_abcdefghijklmnopqrstuvwxyz012"


def test_pacing_counts_the_sender_on_its_server() -> None:
    other_topic = replace(TARGET, url="https://ntfy.example.org/another")
    assert ntfy.pace_key(TARGET) == ntfy.pace_key(other_topic) == "https://ntfy.example.org\n"
    assert ntfy.pace_key(replace(TARGET, token="tk_x")) != ntfy.pace_key(TARGET)
