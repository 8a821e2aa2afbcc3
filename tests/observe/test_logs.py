"""JSON log lines and the redaction of secrets from every log record."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.observe.logs import GENERIC_PARTS, JsonFormatter, RedactingFilter, excerpt, redact, secrets_of, set_level
from monitor.settings.config import WebhookSettings

URL = "https://hooks.example.org/services/T000/B111/abcdef123456?token=s3cr3tvalue"
SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="
KEY = SECRET.removeprefix("whsec_")
# Short, letters only: no digit and no length to tell it from a word.
SHORT = "http://127.0.0.1:8080/hooks/qhzvwk"
# A query value with characters that are written differently once encoded or escaped.
ODD = "https://chat.example/v1/spaces/AAAAx9/messages?key=k/ey+1&token=t%C3%A9st/tok"


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


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        # Whatever its shape, each part of a configured URL is a secret on its own.
        ("bad token qhzvwk.", [SHORT], "bad token ***."),
        ('{"error":"unknown hook \'qhzvwk\'"}', [SHORT], '{"error":"unknown hook \'***\'"}'),
        ("POST /hooks/qhzvwk HTTP/1.1", [SHORT], "POST /*** HTTP/1.1"),
        # Glued to other text, a part is still a secret; the API's own words stay.
        ("The receivqhzvwk and the hooks", [SHORT], "The receiv*** and the hooks"),
        ("T000 T0000 B111", [URL], "*** ***0 ***"),
        ("api v1 spaces messages key token", [ODD], "api v1 spaces messages key token"),
        ("attempt 1 of 2", ["https://x.example/a/1"], "attempt 1 of 2"),
        # Short numbers are how logs give status codes, ports and counts; long ones (ids) are secrets.
        ("HTTP 500 from port 8080", ["https://x.example/hooks/500/8080"], "HTTP 500 from port 8080"),
        ("id 123456 or 2016-06-01", ["https://x.example/123456?v=2016-06-01"], "id *** or ***"),
        # Percent-encoded (either case), with + for a space or not, JSON-escaped, HTML-escaped.
        ("k%2Fey%2B1 k%2fey%2b1 k/ey 1", [ODD], "*** *** ***"),
        ("t%C3%A9st%2Ftok t%c3%a9st/tok", [ODD], "*** ***"),
        ('{"token": "t\\u00e9st\\/tok"} {"token": "tést/tok"}', [ODD], '{"token": "***"} {"token": "***"}'),
        ("key=k/ey+1&amp;token=t%C3%A9st/tok", [ODD], "***"),
        (
            '{"url": "https:\\/\\/hooks.example.org\\/services\\/T000\\/B111\\/abcdef123456?token=s3cr3tvalue"}',
            [URL],
            '{"url": "***"}',
        ),
        ("https%3A%2F%2Fhooks.example.org%2Fservices%2FT000%2FB111%2Fabcdef123456%3Ftoken%3Ds3cr3tvalue", [URL], "***"),
        ("AAAAx9", [ODD], "***"),
        # The signing secret, with and without its prefix, and in its escaped forms.
        (f"key {KEY} {KEY.replace('=', '%3D')}", [SECRET], "key *** ***"),
    ],
)
def test_redact_every_form(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


@pytest.mark.parametrize(
    ("public", "expected"),
    [
        ([], "webhook '***': HTTP 500 for /***"),
        # A webhook's name is shown by design (logs, monitor alerts, /metrics): a part equal to it stays.
        (["alerts"], "webhook 'alerts': HTTP 500 for /***"),
        (["Alerts", "other"], "webhook 'alerts': HTTP 500 for /***"),
    ],
)
def test_public_words_stay(public: list[str], expected: str) -> None:
    url = "https://example.org/alerts"
    assert redact("webhook 'alerts': HTTP 500 for /alerts", [url], public) == expected
    assert excerpt("webhook 'alerts': HTTP 500 for /alerts", [url], 200, public=public) == expected


@pytest.mark.parametrize(
    ("text", "cut_short", "expected"),
    [
        # Redacted whole, then cut: a secret past the cut does not leave its beginning behind.
        ("x" * 185 + "abcdef123456" + "y" * 50, False, "x" * 185 + "***" + "y" * 11 + "…"),
        ("a  lot\n\nof   space", False, "a lot of space"),
        ("short", False, "short"),
        # An answer that was itself cut short may end in the beginning of a secret: it goes too.
        ("error: s3cr3tv", True, "error:…"),
        ("error: /services/T000/B1", True, "error: /services/***/…"),
        ("error: fine", True, "error: fine…"),
        ("", True, ""),
    ],
)
def test_excerpt(text: str, cut_short: bool, expected: str) -> None:
    assert excerpt(text, [URL, SECRET], 200, cut_short) == expected


def test_excerpt_of_an_answer_made_of_secrets() -> None:
    # Redaction shrinks the answer, so what lay past the cut comes within it: the cut-off secret must not.
    answer = f"POST {URL} " * 60
    cut = answer[:4096]
    out = excerpt(cut, [URL], 200, cut_short=True)
    assert out.startswith("POST *** POST ***") and out.endswith("…")
    assert not any(URL[:n] in out for n in range(6, len(URL)))
    assert not any(part in out for part in ("abcdef", "s3cr3t", "T000", "B111"))


# A token is never one of the words that only name a platform's API (``hooks``, ``invoke``...): those stay readable.
TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=40).filter(
    lambda token: token not in GENERIC_PARTS
)
FILLER = st.text(alphabet=" .,:;!?\"'()=&<>\nABCXYZ0123456789", max_size=300)


@settings(max_examples=200, deadline=None)
@given(token=TOKEN, before=FILLER, after=FILLER, form=st.sampled_from(["plain", "path", "json", "quoted"]))
def test_no_prefix_of_an_echoed_token_survives(token: str, before: str, after: str, form: str) -> None:
    url = f"https://receiver.example/hooks/{token}"
    echo = {
        "plain": token,
        "path": f"/hooks/{token}",
        "json": url.replace("/", "\\/"),
        "quoted": url.replace("/", "%2F"),
    }
    out = excerpt(before + echo[form] + after, [url], 200)
    assert not any(token[:n] in out for n in range(min(6, len(token)), len(token) + 1))


def test_filter_redacts_message_args_extras_and_traceback() -> None:
    try:
        raise ValueError(f"cannot reach {URL}")
    except ValueError:
        exc_info = sys.exc_info()
    item = record("webhook %s: %s", "team", URL, webhook="team", feed=f"feed {URL}")
    item.exc_info = exc_info
    assert RedactingFilter(lambda: [URL, SECRET], lambda: ["team"]).filter(item)
    line = JsonFormatter().format(item)
    assert "abcdef123456" not in line and "s3cr3tvalue" not in line
    data = json.loads(line)
    assert data["message"] == "webhook team: ***"
    assert data["webhook"] == "team"
    assert data["feed"] == "feed ***"
    assert "ValueError: cannot reach ***" in data["exception"]


@pytest.mark.parametrize(("names", "shown"), [(None, "***"), (["newsroom"], "newsroom")])
def test_filter_keeps_webhook_names(names: list[str] | None, shown: str) -> None:
    url = "https://chat.example/hooks/newsroom/Zq7tokenXY"
    item = record("webhook '%s': HTTP 500 (%s)", "newsroom", "Zq7tokenXY", webhook="newsroom")
    assert RedactingFilter(lambda: [url], (lambda: names) if names else None).filter(item)
    data = json.loads(JsonFormatter().format(item))
    assert data["message"] == f"webhook '{shown}': HTTP 500 (***)"
    assert data["webhook"] == shown


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


UNCAUGHT = """
import threading
from monitor.observe.logs import configure
configure("INFO", {format!r}, lambda: ["https://hooks.example.org/services/T000/B111/abcdef123456"])
thread = threading.Thread(target=lambda: 1 / 0, name="feed-7")
thread.start()
thread.join()
raise RuntimeError("posting to https://hooks.example.org/services/T000/B111/abcdef123456 failed")
"""


@pytest.mark.parametrize("format", ["json", "text"])
def test_uncaught_errors_are_log_records(format: str) -> None:
    """An error nothing caught, in a thread or in the main one, is logged in the chosen format, redacted."""
    done = subprocess.run(
        [sys.executable, "-c", UNCAUGHT.format(format=format)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "abcdef123456" not in done.stderr
    if format == "json":
        records = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
        assert [(r["level"], r["logger"], r["message"]) for r in records] == [
            ("ERROR", "monitor", "thread feed-7 stopped on an unexpected error"),
            ("CRITICAL", "monitor", "stopped on an unexpected error"),
        ]
        assert "ZeroDivisionError" in records[0]["exception"]
        assert "RuntimeError: posting to *** failed" in records[1]["exception"]
    else:
        assert "ERROR   monitor: thread feed-7 stopped on an unexpected error\nTraceback" in done.stderr
        assert "CRITICAL monitor: stopped on an unexpected error\nTraceback" in done.stderr


@pytest.mark.parametrize(
    ("logger", "level", "shown"),
    [
        ("watchfiles.main", logging.INFO, False),
        ("watchfiles.main", logging.WARNING, True),
        ("httpx", logging.INFO, False),
        ("apscheduler.scheduler", logging.INFO, False),
        ("monitor.pipeline", logging.INFO, True),
        ("monitor.pipeline", logging.DEBUG, False),
    ],
)
def test_noisy_libraries_log_warnings_only(logger: str, level: int, shown: bool) -> None:
    root = logging.getLogger()
    names = ("watchfiles", "httpx", "httpcore", "apscheduler.scheduler", "apscheduler.executors.default")
    before = root.level, {name: logging.getLogger(name).level for name in names}
    try:
        set_level("INFO")
        assert logging.getLogger(logger).isEnabledFor(level) is shown
    finally:
        root.setLevel(before[0])
        for name, value in before[1].items():
            logging.getLogger(name).setLevel(value)


def test_the_tokens_of_the_api_formats_are_secrets_and_their_servers_are_not() -> None:
    hooks = [
        WebhookSettings.model_validate(
            {"format": "matrix", "url": "https://matrix.example.org", "room": "!r:example.org", "token": "syt_TOKEN_1"}
        ),
        WebhookSettings.model_validate(
            {"format": "telegram", "token": "123:AAHsecretsecretsecretsecret", "chat_id": 1}
        ),
        WebhookSettings.model_validate(
            {"format": "ntfy", "url": "https://ntfy.sh/topic_secret", "token": "tk_TOKEN_2"}
        ),
    ]
    secrets = secrets_of(hooks)
    assert secrets == ["syt_TOKEN_1", "123:AAHsecretsecretsecretsecret", "https://ntfy.sh/topic_secret", "tk_TOKEN_2"]
    line = "HTTP 401 from https://matrix.example.org/… for syt_TOKEN_1, /bot123:AAHsecretsecretsecretsecret/sendMessage"
    assert redact(line, secrets) == "HTTP 401 from https://matrix.example.org/… for ***, /bot***/sendMessage"
