"""The Matrix format: an ``m.notice`` with a plain and an HTML body, and the requests that carry it.

Pages: https://spec.matrix.org/v1.11/client-server-api/#mroommessage-msgtypes (m.notice, org.matrix.custom.html),
https://spec.matrix.org/v1.11/client-server-api/#user-and-room-mentions (m.mentions),
https://spec.matrix.org/v1.11/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid (the send),
https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3directoryroomroomalias (alias lookup),
https://spec.matrix.org/v1.11/client-server-api/#rate-limiting (M_LIMIT_EXCEEDED, retry_after_ms).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from monitor.delivery.notify import Target, matrix
from monitor.delivery.notify.body import size

from .alerts import HOSTILE, NORMAL
from .limits import MATRIX_TAGS, html_problems

TARGET = Target(url="https://matrix.example.org/", room="!abc:example.org", token="syt_secret_token")


def test_render_normal() -> None:
    url = NORMAL.article.url
    assert matrix.render(NORMAL) == {
        "msgtype": "m.notice",
        "body": (
            f"Otan: Le sommet de l'Otan à Madrid\n{url}\nLe Monde · 2022-06-15 10:00 UTC\n"
            "> … avant le sommet de l'Otan prévu …\nMatched: sommet de l'Otan"
        ),
        "format": "org.matrix.custom.html",
        "formatted_body": (
            f'<p><b>Otan</b>: <a href="{url}">Le sommet de l\'Otan à Madrid</a><br>Le Monde · 2022-06-15 10:00 UTC</p>'
            "<blockquote>… avant le <b>sommet de l'Otan</b> prévu …</blockquote><p>Matched: sommet de l'Otan</p>"
        ),
        "m.mentions": {},
    }


@pytest.mark.parametrize(
    ("title", "body", "html"),
    [
        ("@room alert", "@\u200broom alert", "@\u200broom alert"),
        ("<script>x</script>", "<\u200bscript>x<\u200b/script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("A & B <b>c</b>", "A & B <\u200bb>c<\u200b/b>", "A &amp; B &lt;b&gt;c&lt;/b&gt;"),
        ("@alice:example.org hi", "@\u200balice:example.org hi", "@\u200balice:example.org hi"),
        (
            '"><img src=x onerror=alert(1)>',
            '"><\u200bimg src=x onerror=alert(1)>',
            '"&gt;&lt;img src=x onerror=alert(1)&gt;',
        ),
    ],
)
def test_feed_text_is_inert(title: str, body: str, html: str) -> None:
    payload = matrix.render(replace(NORMAL, rule="", article=replace(NORMAL.article, title=title, url=None)))
    assert payload["body"].split("\n")[0] == body
    assert payload["formatted_body"].startswith(f"<p><b>{html}</b>")
    assert html_problems(payload["formatted_body"], MATRIX_TAGS) == []


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://x.example/?a=1&b=2", '<a href="https://x.example/?a=1&amp;b=2">'),
        ('https://x.example/"onmouseover="x', '<a href="https://x.example/%22onmouseover=%22x">'),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_links_are_web_links_only(url: str | None, href: str | None) -> None:
    html = matrix.render(replace(NORMAL, article=replace(NORMAL.article, url=url)))["formatted_body"]
    assert (href in html) if href else ("<a " not in html)


def test_hostile_is_cut_inert_and_within_limits() -> None:
    payload = matrix.render(HOSTILE)
    assert size(payload) <= matrix.MAX_BYTES
    assert len(payload["formatted_body"]) < 5_000 and len(payload["body"]) < 5_000
    assert payload["m.mentions"] == {} and "@room" not in json.dumps(payload)
    assert html_problems(payload["formatted_body"], MATRIX_TAGS) == []


def test_digest_lists_each_alert_once() -> None:
    second = replace(NORMAL, id=43, article=replace(NORMAL.article, title="Madrid accueille l'Otan", url=None))
    (message,) = matrix.render_digest([NORMAL, second], "Otan", "last hour")
    assert message["body"].startswith("Digest: Otan\nlast hour · 2 alerts\n\n• Le sommet de l'Otan à Madrid\n")
    assert message["formatted_body"].count("<li>") == 2 and message["m.mentions"] == {}
    assert "<li><b>Madrid accueille l'Otan</b>" in message["formatted_body"]


def test_digest_parts_hold_at_most_fifty_alerts() -> None:
    messages = matrix.render_digest([replace(NORMAL, id=i) for i in range(120)], "Otan", "1h")
    assert [m["formatted_body"].count("<li>") for m in messages] == [50, 50, 20]
    assert "120 alerts, part 3/3" in messages[2]["body"]


@pytest.mark.parametrize(
    ("room", "message_id", "path"),
    [
        ("!abc:example.org", "msg_0123abcd", "/rooms/%21abc%3Aexample.org/send/m.room.message/msg_0123abcd"),
        ("!opaqueV12id", "dig_ff_2", "/rooms/%21opaqueV12id/send/m.room.message/dig_ff_2"),
    ],
)
def test_the_send_is_a_put_under_the_delivery_id(room: str, message_id: str, path: str) -> None:
    request = matrix.request(replace(TARGET, room=room), message_id, {"body": "x"})
    assert request.method == "PUT"
    assert request.url == f"https://matrix.example.org/_matrix/client/v3{path}"
    assert request.headers == {"Content-Type": "application/json", "Authorization": "Bearer syt_secret_token"}
    assert json.loads(request.content) == {"body": "x"}


def test_an_alias_is_looked_up_and_a_room_id_is_not() -> None:
    assert matrix.ALIAS.request(TARGET) is None
    alias = replace(TARGET, room="#news:example.org")
    lookup = matrix.ALIAS.request(alias)
    assert lookup is not None and lookup.method == "GET"
    assert lookup.url == "https://matrix.example.org/_matrix/client/v3/directory/room/%23news%3Aexample.org"
    answer = json.dumps({"room_id": "!found:example.org", "servers": ["example.org"]})
    assert matrix.ALIAS.apply(alias, answer) == replace(TARGET, room="!found:example.org")
    for useless in ("", "{}", '{"room_id": 5}', '{"room_id": "#not-an-id"}', '{"room_id": "!a b"}', "[]"):
        assert matrix.ALIAS.apply(alias, useless) is None


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        ('{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2500}', 2.5),
        ('{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 0}', 0.0),
        ('{"errcode": "M_LIMIT_EXCEEDED"}', None),
        ('{"errcode": "M_FORBIDDEN", "retry_after_ms": 2500}', None),
        ('{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": "soon"}', None),
        ("not json", None),
    ],
)
def test_retry_after_ms(answer: str, wait: float | None) -> None:
    assert matrix.RETRY_AFTER(answer) == wait


def test_pacing_counts_the_user_and_the_destination_is_the_room() -> None:
    other_room = replace(TARGET, room="!other:example.org")
    other_user = replace(TARGET, token="syt_another")
    assert matrix.pace_key(TARGET) == matrix.pace_key(other_room) != matrix.pace_key(other_user)
    assert matrix.identity(TARGET) == matrix.identity(other_user) != matrix.identity(other_room)
    assert matrix.shown(TARGET) == "room !abc:example.org"
