"""Alerts in a real Matrix room: the daemon sends to the Synapse that ``.ci/synapse`` starts, and the test reads the
room back through the client API (skipped, saying why, without ``MONITOR_TEST_MATRIX_*``).

A hostile feed item (``@room``, ``<script>``, a 10,000-character title) becomes one message, inert and within
Matrix's limits; a delivery sent again after its record was lost, or after the daemon was killed with SIGKILL
between the homeserver's answer and the record, is one message still: the homeserver deduplicates on the
transaction id, which is the delivery's stable id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.delivery.notify import matrix
from monitor.delivery.notify.body import size
from monitor.delivery.sender import send
from monitor.settings.config import WebhookSettings
from tests.daemon import kill, monitor, start, stop, wait_for
from tests.db import rows, scalar
from tests.delivery.notify.alerts import NORMAL
from tests.delivery.notify.limits import MATRIX_TAGS, html_problems
from tests.feedserver import FeedServer, reply
from tests.matrix import Homeserver, Relay

pytestmark = pytest.mark.integration
HOSTILE_TITLE = "@room <script>alert(1)</script> Donbass " + "X" * 10_000


def feed(marker: str, title: str = HOSTILE_TITLE) -> bytes:
    """Return an RSS feed of one item whose title starts with marker (escaped for XML)."""
    escaped = f"{marker} {title}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    description = "Combats dans le Donbass. @room &lt;img src=x onerror=alert(1)&gt; @everyone"
    item = f"<item><title>{escaped}</title><link>https://news.example/{marker}</link>"
    item += f"<guid>{marker}</guid><description>{description}</description></item>"
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{item}</channel></rss>'.encode()


def settings_file(tmp_path: Path, feed_url: str, homeserver: str, room: str) -> Path:
    """Write settings with one feed, one rule and one matrix webhook whose token comes from the environment."""
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "monitor.db"}"

[seeds]
enabled = false

[ingest]
first_poll_window = "10000d"

[delivery]
timeout = "10s"
retry_delays = ["1s"]

[[feeds]]
name = "hostile"
url = "{feed_url}"

[webhooks.room]
format = "matrix"
url = "{homeserver}"
room = "{room}"
token = "${{MATRIX_TOKEN}}"

[[rules]]
name = "Donbass @room"
query = "Donbass"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def ours(events: list[dict[str, object]], marker: str) -> list[dict[str, object]]:
    """Return the events whose body carries the test's marker."""
    return [event for event in events if marker in json.dumps(event["content"], ensure_ascii=False)]


def test_one_hostile_alert_is_one_inert_message_and_a_resend_is_not_shown_twice(
    tmp_path: Path, feeds: FeedServer, homeserver: Homeserver
) -> None:
    marker = f"m{uuid.uuid4().hex[:10]}"
    feeds.routes["/feed.xml"] = reply(200, feed(marker), {"Content-Type": "application/rss+xml"})
    config = settings_file(tmp_path, feeds.url("/feed.xml"), homeserver.url, homeserver.room)
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    env = {"MATRIX_TOKEN": homeserver.token}

    first = monitor("--config", str(config), "run", "--once", env=env)
    assert first.returncode == 0, first.stderr
    (event,) = ours(homeserver.messages(homeserver.room), marker)
    content = event["content"]
    assert isinstance(content, dict)
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {}
    body, formatted = content["body"], content["formatted_body"]
    # Inert: no @room for the legacy push rule, no live tag, everything from the feed escaped.
    assert "@room" not in body and "@room" not in formatted and "@\u200broom" in body
    assert "<script" not in formatted and "&lt;script&gt;alert(1)&lt;/script&gt;" in formatted
    assert "<img" not in formatted and "@everyone" not in body
    assert html_problems(formatted, MATRIX_TAGS) == []
    # Within limits: the 10,000-character title is cut (the feed's parser keeps 1,000), with an ellipsis.
    assert size(content) <= matrix.MAX_BYTES and len(formatted) < 5_000
    assert "XXX…" in body and "X" * 1_000 not in body
    assert f'<a href="https://news.example/{marker}">' in formatted

    # The record of the send is lost (as if the daemon died before writing it): the same delivery goes again.
    assert rows(database, "SELECT status, last_error FROM deliveries") == [("sent", None)]
    uid = scalar(database, "SELECT uid FROM deliveries")
    _set_pending(database)
    again = monitor("--config", str(config), "run", "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert "sent" in again.stderr and scalar(database, "SELECT status FROM deliveries") == "sent"
    assert scalar(database, "SELECT uid FROM deliveries") == uid
    assert len(ours(homeserver.messages(homeserver.room), marker)) == 1
    # The token shows nowhere: not in the output, not in the database.
    assert homeserver.token not in first.stderr + first.stdout + again.stderr + again.stdout
    assert homeserver.token.encode() not in b"".join(f.read_bytes() for f in tmp_path.glob("monitor.db*"))


def test_a_daemon_killed_between_the_answer_and_the_record_sends_once(
    tmp_path: Path, feeds: FeedServer, homeserver: Homeserver, relay: Relay
) -> None:
    marker = f"k{uuid.uuid4().hex[:10]}"
    room = homeserver.new_room()
    feeds.routes["/feed.xml"] = reply(200, feed(marker, "Donbass"), {"Content-Type": "application/rss+xml"})
    config = settings_file(tmp_path, feeds.url("/feed.xml"), relay.url, room)
    env = {"MATRIX_TOKEN": homeserver.token}
    relay.hold_first_send = True
    process = start(config, env)
    try:
        # The homeserver took the message; the daemon waits for the answer the relay holds back.
        assert wait_for(relay.held.is_set, 60), stop(process)
        assert len(ours(homeserver.messages(room), marker)) == 1
    finally:
        kill(process)  # SIGKILL: the send is never recorded
    relay.release.set()
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    assert scalar(database, "SELECT status FROM deliveries") == "pending"

    again = monitor("--config", str(config), "run", "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert scalar(database, "SELECT status FROM deliveries") == "sent"
    (first, second) = relay.sends
    assert first[0] == second[0]  # the same transaction id, in the same path
    assert first[1] == second[1] == 200 and json.loads(first[2]) == json.loads(second[2])  # the same event
    assert len(ours(homeserver.messages(room), marker)) == 1


def test_m_limit_exceeded_holds_the_delivery_for_the_wait_it_asks(
    tmp_path: Path, feeds: FeedServer, homeserver: Homeserver, relay: Relay
) -> None:
    marker = f"l{uuid.uuid4().hex[:10]}"
    room = homeserver.new_room()
    feeds.routes["/feed.xml"] = reply(200, feed(marker, "Donbass"), {"Content-Type": "application/rss+xml"})
    config = settings_file(tmp_path, feeds.url("/feed.xml"), relay.url, room)
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    env = {"MATRIX_TOKEN": homeserver.token}
    relay.limit_first_send = True
    before = datetime.now(UTC)
    limited = monitor("--config", str(config), "run", "--once", env=env)
    assert limited.returncode == 0, limited.stderr
    ((status, next_at, error),) = rows(database, "SELECT status, next_attempt_at, last_error FROM deliveries")
    # retry_after_ms 900,000: not before 15 minutes, whatever [delivery] retry_delays say (1 s here).
    assert status == "pending" and datetime.fromisoformat(str(next_at)).replace(tzinfo=UTC) >= before + timedelta(
        minutes=14
    )
    assert "HTTP 429" in error and "M_LIMIT_EXCEEDED" in error and homeserver.token not in error
    assert ours(homeserver.messages(room), marker) == []

    # The homeserver's wait also holds the bot's pace, in the database: the wait is over once both are cleared.
    assert scalar(database, "SELECT count(*) FROM webhook_paces WHERE next_at IS NOT NULL") == 1
    _set_pending(database, "DELETE FROM webhook_paces")
    again = monitor("--config", str(config), "run", "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert scalar(database, "SELECT status FROM deliveries") == "sent"
    assert [status for _, status, _ in relay.sends] == [429, 200]
    assert len(ours(homeserver.messages(room), marker)) == 1


def webhook(homeserver: Homeserver, room: str, token: str | None = None) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {"format": "matrix", "url": homeserver.url, "room": room, "token": token or homeserver.token}
    )


def test_a_room_alias_is_resolved_once_and_its_messages_reach_the_room(homeserver: Homeserver) -> None:
    alias = f"monitor-{uuid.uuid4().hex[:8]}"
    room = homeserver.new_room(alias)
    hook = webhook(homeserver, f"#{alias}:localhost")
    seen: list[str] = []

    def count(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url.path}")

    with httpx.Client(event_hooks={"request": [count]}) as client:
        for number in range(2):
            outcome, _ = send(client, "room", hook, matrix.render(NORMAL), f"msg_alias{alias}{number}", 10.0)
            assert outcome.ok, outcome.error
    assert sum("/directory/room/" in line for line in seen) == 1
    assert [line.split(" ")[0] for line in seen if "/send/" in line] == ["PUT", "PUT"]
    assert len(homeserver.messages(room)) == 2


@pytest.mark.parametrize(
    ("room", "token", "status"),
    [
        ("#nowhere-{n}:localhost", None, 404),  # an unknown alias
        ("!nosuchroom{n}:localhost", None, 403),  # a room the user is not in
        ("{room}", "syt_not_a_token_{n}", 401),  # a wrong token
    ],
)
def test_refusals_are_permanent_and_name_no_secret(
    homeserver: Homeserver, room: str, token: str | None, status: int
) -> None:
    n = uuid.uuid4().hex[:8]
    hook = webhook(homeserver, room.format(n=n, room=homeserver.room), token.format(n=n) if token else None)
    with httpx.Client() as client:
        outcome, _ = send(client, "room", hook, matrix.render(NORMAL), f"msg_refused{n}", 10.0)
    assert outcome.status == status and outcome.permanent
    assert outcome.error is not None and outcome.error.startswith(
        f"webhook 'room': HTTP {status} from http://127.0.0.1"
    )
    assert homeserver.token not in outcome.error and (token is None or token.format(n=n) not in outcome.error)


def _set_pending(database: str, *more: str) -> None:
    """Put the one delivery back in the queue, as if its send had never been recorded (and run more statements)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    "UPDATE deliveries SET status = 'pending', sent_at = NULL, claimed_until = NULL,"
                    " next_attempt_at = created_at"
                )
            )
            for statement in more:
                connection.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()
