"""``monitor status`` after a real cycle, and progress bars that only a terminal sees."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.commands.status import Summary, age, render
from monitor.observe import progress
from monitor.store.feeds import FeedHealth
from tests.conftest import FIXTURES, ROOT, LoopbackServer
from tests.daemon import monitor
from tests.db import rows, scalar
from tests.test_end_to_end import shipped_rules

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BAR_MARKS = ("\x1b[", "━", "feeds", "backtest")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        (NOW, "0s"),
        (NOW - timedelta(seconds=45), "45s"),
        (NOW - timedelta(minutes=12, seconds=5), "12m"),
        (NOW - timedelta(hours=3, minutes=5), "3h 5m"),
        (NOW - timedelta(days=2, hours=4, minutes=1), "2d 4h"),
        ((NOW - timedelta(minutes=1)).replace(tzinfo=None), "1m"),
        (NOW + timedelta(minutes=1), "0s"),
    ],
)
def test_age(then: datetime, expected: str) -> None:
    assert age(NOW, then) == expected


def summary() -> Summary:
    feed = FeedHealth("world", "http://x", "error", NOW - timedelta(hours=1), NOW, "boom", "http", 503, 2, NOW, None, 5)
    return Summary(
        NOW,
        [feed],
        ["NATO [summit]"],
        {"NATO [summit]": 3, "gone": 1},
        {"pending": 2, "dead": 4},
        NOW - timedelta(minutes=7),
        {"team": 4},
    )


def test_render_plain_when_not_a_terminal() -> None:
    out = io.StringIO()
    render(summary(), out)
    text = out.getvalue()
    assert "\x1b[" not in text
    lines = [line.split() for line in text.splitlines()]
    assert ["world", "error", "(http)", "2026-01-01", "11:00", "UTC", "2", "2026-01-01", "12:00", "UTC", "5"] in lines
    assert ["NATO", "[summit]", "3"] in lines
    assert ["gone", "(not", "in", "the", "settings)", "1"] in lines
    assert ["2", "0", "4", "7m"] in lines
    assert ["team", "4"] in lines


LONG_NAME = "agence-france-presse-international-" * 4 + "end"
LONG_RULE = "NATO summit in Vilnius, Madrid or Washington " * 3 + "end"


def long_summary() -> Summary:
    feed = FeedHealth(LONG_NAME, "http://x", "ok", NOW - timedelta(hours=1), NOW, None, None, 200, 0, NOW, None, 7)
    return Summary(NOW, [feed], [LONG_RULE], {LONG_RULE: 2}, {"sent": 2}, None, {"a-webhook-with-a-long-name": 1})


def test_piped_tables_keep_every_cell_whole() -> None:
    out = io.StringIO()
    render(long_summary(), out)
    text = out.getvalue()
    assert "…" not in text
    (feed_line,) = [line for line in text.splitlines() if line.lstrip().startswith(LONG_NAME)]
    assert feed_line.split() == [LONG_NAME, "ok", "2026-01-01", "11:00", "UTC", "0", "2026-01-01", "12:00", "UTC", "7"]
    assert any(line.lstrip().startswith(LONG_RULE) and line.split()[-1] == "2" for line in text.splitlines())


@pytest.mark.parametrize("width", [40, 60, 100])
def test_a_narrow_terminal_wraps_cells_and_loses_nothing(width: int) -> None:
    wide, narrow = io.StringIO(), Terminal()
    render(long_summary(), wide)
    render(long_summary(), narrow, width=width)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", narrow.getvalue())
    assert "…" not in plain
    assert all(len(line) <= width for line in plain.splitlines())
    # Wrapping moves characters to other lines; none is dropped.
    assert cells(plain) == cells(wide.getvalue())


def cells(text: str) -> Counter[str]:
    """Return how often each character of the tables' cells occurs (spaces and rules left out)."""
    return Counter(c for c in text if not c.isspace() and c != "─")


def test_render_colours_on_a_terminal() -> None:
    out = Terminal()
    render(summary(), out)
    assert "\x1b[" in out.getvalue()


@pytest.mark.parametrize(("stream", "drawn"), [(io.StringIO(), False), (Terminal(), True)])
def test_progress_only_on_a_terminal(stream: io.StringIO, drawn: bool) -> None:
    assert list(progress.track(range(3), "backtest", stream=stream)) == [0, 1, 2]
    with progress.bar("feeds", 2, stream) as advance:
        advance()
        advance()
    assert bool(stream.getvalue()) is drawn


def test_status_after_a_cycle_and_no_progress_when_piped(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> None:
    loopback.serve_file("/rss.xml", FIXTURES / "feeds" / "rss2.xml")
    loopback.routes["/broken.xml"] = lambda _h: (503, {}, b"try later")
    config = tmp_path / "settings.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[seeds]
path = "{ROOT / "seeds"}"

[ingest]
first_poll_window = "10000d"  # the fixture feed's entries date from 2022

[[feeds]]
name = "world"
url = "{loopback.url("/rss.xml")}"

[[feeds]]
name = "broken"
url = "{loopback.url("/broken.xml")}"

[webhooks.gone]
url = "{loopback.url("/missing-hook")}"
format = "generic"

{shipped_rules()}
""",
        encoding="utf-8",
    )
    once = monitor("--config", str(config), "run", "--once")
    assert once.returncode == 0, once.stderr
    backtest = monitor("--config", str(config), "rules", "backtest", "Donbass")
    assert backtest.returncode == 0, backtest.stderr
    for result in (once, backtest):
        assert "\x1b[" not in result.stderr and "━" not in result.stderr
    assert backtest.stderr == ""

    status = monitor("--config", str(config), "status")
    assert status.returncode == 0, status.stderr
    assert "\x1b[" not in status.stdout
    lines = [line.split() for line in status.stdout.splitlines()]
    world = next(line for line in lines if line[:1] == ["world"])
    broken = next(line for line in lines if line[:1] == ["broken"])
    assert world[1] == "ok" and world[-1] == "3"  # the fixture feed's three entries
    assert broken[1:3] == ["error", "(http)"] and broken[3] == "never"
    matches = dict(rows(database_url, "SELECT rule, count(*) FROM alerts GROUP BY rule"))
    dead = scalar(database_url, "SELECT count(*) FROM deliveries WHERE status = 'dead'")
    assert matches["Donbass"] >= 1 and dead == sum(matches.values())
    assert ["NATO", "summit", str(matches["NATO summit"])] in lines and ["Donbass", str(matches["Donbass"])] in lines
    assert ["0", "0", str(dead), "-"] in lines  # the 404 webhook: every delivery dead at once
    assert ["gone", str(dead)] in lines
    assert all(line == line.rstrip() for line in status.stdout.splitlines())
