"""Progress bars and log lines sharing a terminal (a real pseudo-terminal), and no bar anywhere else."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from monitor.observe import progress
from monitor.observe.logs import JsonFormatter
from tests.terminal import screen, terminal

LONG = "a long line that the terminal wraps itself " * 8


@pytest.fixture
def handlers() -> Iterator[list[logging.Handler]]:
    """Yield a list to put root handlers in; remove them afterwards."""
    added: list[logging.Handler] = []
    yield added
    for handler in added:
        logging.getLogger().removeHandler(handler)


def log_to(stream: io.TextIOBase | object, added: list[logging.Handler], formatter: logging.Formatter) -> None:
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    added.append(handler)


@pytest.mark.parametrize(
    ("formatter", "message", "expected"),
    [
        (logging.Formatter("%(levelname)s %(message)s"), "feed %d done", [f"WARNING feed {i} done" for i in range(3)]),
        # Longer than the terminal is wide: no line break is added, the terminal wraps it.
        (logging.Formatter("%(message)s"), LONG + "%d", [f"{LONG}{i}" for i in range(3)]),
    ],
)
def test_log_lines_print_whole_above_the_bar(
    handlers: list[logging.Handler], formatter: logging.Formatter, message: str, expected: list[str]
) -> None:
    with terminal() as term:
        stream = term.slave()
        log_to(stream, handlers, formatter)
        with progress.bar("feeds", 3, stream) as advance:
            for index in range(3):
                logging.getLogger("monitor.test").warning(message, index)
                advance()
        logging.getLogger().removeHandler(handlers[0])
        stream.close()
        raw = term.close()
    assert "feeds" in raw  # the bar was drawn, then erased
    assert screen(raw) == expected


def test_json_lines_stay_one_json_object_a_line_on_a_terminal(handlers: list[logging.Handler]) -> None:
    with terminal(columns=80) as term:
        stream = term.slave()
        log_to(stream, handlers, JsonFormatter())
        with progress.bar("feeds", 2, stream) as advance:
            logging.getLogger("monitor.pipeline").warning("feed 'world': %s", LONG, extra={"feed": "world"})
            advance()
        logging.getLogger().removeHandler(handlers[0])
        stream.close()
        raw = term.close()
    [line] = screen(raw)
    assert json.loads(line)["message"] == f"feed 'world': {LONG}"
    assert json.loads(line)["feed"] == "world"


def test_standard_output_on_the_same_terminal_prints_above_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    with terminal() as term:
        stream, stdout = term.slave(), term.slave()  # two streams, one terminal
        monkeypatch.setattr(sys, "stdout", stdout)
        with progress.bar("feeds", 2, stream) as advance:
            print("ALERT [NATO summit] Leaders gather", flush=True)
            advance()
        monkeypatch.undo()
        assert sys.stdout is not stdout
        stdout.close()
        stream.close()
        raw = term.close()
    assert screen(raw) == ["ALERT [NATO summit] Leaders gather"]


def test_standard_output_elsewhere_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stdout", piped)
    with terminal() as term:
        stream = term.slave()
        with progress.bar("feeds", 2, stream) as advance:
            assert sys.stdout is piped
            print("ALERT [NATO summit] Leaders gather")
            advance()
        stream.close()
        raw = term.close()
    assert piped.getvalue() == "ALERT [NATO summit] Leaders gather\n"
    assert "ALERT" not in raw
    assert screen(raw) == []


def test_no_bar_and_no_change_when_not_a_terminal(handlers: list[logging.Handler]) -> None:
    stream = io.StringIO()
    log_to(stream, handlers, logging.Formatter("%(levelname)s %(message)s"))
    with progress.bar("feeds", 2, stream) as advance:
        assert handlers[0].stream is stream  # type: ignore[attr-defined]
        logging.getLogger("monitor.test").warning("feed 'world': 3 entries")
        advance()
    assert list(progress.track([1, 2], "items", stream=stream)) == [1, 2]
    assert stream.getvalue() == "WARNING feed 'world': 3 entries\n"


def test_handlers_get_their_streams_back_after_the_bar(handlers: list[logging.Handler]) -> None:
    with terminal() as term:
        stream = term.slave()
        log_to(stream, handlers, logging.Formatter("%(message)s"))
        with progress.bar("feeds", 1, stream):
            assert handlers[0].stream is not stream  # type: ignore[attr-defined]
        assert handlers[0].stream is stream  # type: ignore[attr-defined]
        logging.getLogger().removeHandler(handlers[0])
        stream.close()
        term.close()
