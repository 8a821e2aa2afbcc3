"""What the templates show of untrusted text: escaped, matches marked, links only to http(s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.web.render import link, marked, when


@pytest.mark.parametrize(
    ("snippet", "highlights", "html"),
    [
        ("the NATO summit", [(4, 8)], "the <mark>NATO</mark> summit"),
        ("a <b>NATO</b> & co", [(5, 9)], "a &lt;b&gt;<mark>NATO</mark>&lt;/b&gt; &amp; co"),
        ("<script>x</script>", [], "&lt;script&gt;x&lt;/script&gt;"),
        ("ab cd", [(3, 5), (0, 2)], "<mark>ab</mark> <mark>cd</mark>"),
        ("ab", [(0, 9)], "ab"),  # out of range: left unmarked rather than cut
        ('Донбасс and "x"', [(0, 7)], "<mark>Донбасс</mark> and &#34;x&#34;"),
    ],
)
def test_marked(snippet: str, highlights: list[tuple[int, int]], html: str) -> None:
    assert str(marked(snippet, highlights)) == html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("HTTP://Example.org/é", "http://example.org/%C3%A9"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("https://bank.example@evil.example/", None),
        ("//example.org/x", None),
        (None, None),
    ],
)
def test_link(url: str | None, expected: str | None) -> None:
    assert link(url) == expected


def test_when() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2)))
    assert when(moment) == "2026-01-02 01:04 UTC"
    assert when(datetime(2026, 1, 2, 3, 4)) == "2026-01-02 03:04 UTC"
    assert when(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02 03:04 UTC"
    assert when(None) == ""
