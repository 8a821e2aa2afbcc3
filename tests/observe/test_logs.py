"""JSON log lines and the redaction of secrets from every log record."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from monitor.observe.logs import JsonFormatter, RedactingFilter, redact

URL = "https://hooks.example.org/services/T000/B111/abcdef123456?token=s3cr3tvalue"
SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("monitor.delivery.dispatcher", logging.WARNING, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"POST {URL} failed", "POST *** failed"),
        ("answer: bad token abcdef123456", "answer: bad token ***"),
        ("echo s3cr3tvalue", "echo ***"),
        (f"signed with {SECRET}", "signed with ***"),
        ("4 webhooks, services ok", "4 webhooks, services ok"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, [URL, SECRET]) == expected


def test_filter_redacts_message_args_extras_and_traceback() -> None:
    try:
        raise ValueError(f"cannot reach {URL}")
    except ValueError:
        exc_info = sys.exc_info()
    item = record("webhook %s: %s", "team", URL, webhook="team", feed=f"feed {URL}")
    item.exc_info = exc_info
    assert RedactingFilter(lambda: [URL, SECRET]).filter(item)
    line = JsonFormatter().format(item)
    assert "abcdef123456" not in line and "s3cr3tvalue" not in line
    data = json.loads(line)
    assert data["message"] == "webhook team: ***"
    assert data["webhook"] == "team"
    assert data["feed"] == "feed ***"
    assert "ValueError: cannot reach ***" in data["exception"]


@pytest.mark.parametrize(
    ("extra", "keys"),
    [
        ({}, set()),
        ({"feed": "world"}, {"feed"}),
        ({"rule": "NATO", "alert_id": 3, "article_id": 9}, {"rule", "alert_id", "article_id"}),
        ({"webhook": "team", "kind": "http", "unrelated": "x"}, {"webhook", "kind"}),
    ],
)
def test_json_lines_carry_stable_keys(extra: dict[str, object], keys: set[str]) -> None:
    data = json.loads(JsonFormatter().format(record("hello %d", 1, **extra)))
    assert set(data) == {"time", "level", "logger", "message"} | keys
    assert data["message"] == "hello 1"
    assert data["level"] == "WARNING" and data["logger"] == "monitor.delivery.dispatcher"
    assert data["time"].endswith("+00:00")
    for key in keys:
        assert data[key] == extra[key]
