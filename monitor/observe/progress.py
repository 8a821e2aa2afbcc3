"""Progress bars for long commands, drawn on stderr only when it is a terminal (never in logs, pipes or cron).

While a bar is drawn, what would be written on its terminal goes above it, whole lines at a time: the log
records of the handlers writing to that terminal, and standard output when it is the same terminal (the alerts
``run --once`` prints). Standard output sent elsewhere (a pipe, a file) is left alone, and nothing changes when
stderr is not a terminal.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

T = TypeVar("T")


def _progress(stream: TextIO) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
        # Lines are put above the bar by ``_above``: rich's own redirection would send a piped stdout to stderr.
        redirect_stdout=False,
        redirect_stderr=False,
    )


@contextmanager
def bar(description: str, total: int | None, stream: TextIO | None = None) -> Iterator[Callable[[], None]]:
    """Yield a function that advances a bar of ``total`` steps; a no-op unless ``stream`` (stderr) is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield lambda: None
        return
    progress = _progress(stream)
    with progress, _above(progress.console, stream):
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def track(items: Iterable[T], description: str, total: int | None = None, stream: TextIO | None = None) -> Iterator[T]:
    """Yield the items, advancing a bar on a terminal for each one."""
    with bar(description, total, stream) as advance:
        for item in items:
            yield item
            advance()


class LinesAbove(io.TextIOBase):
    """A text stream that prints each whole line written to it above the console's live display."""

    def __init__(self, console: Console, terminal: TextIO) -> None:
        self._console = console
        self._terminal = terminal
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Print the lines that text completes above the display; keep a last partial line for later."""
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:
                # As written: no markup, no highlighting, no wrapping (the terminal wraps long lines itself).
                self._console.print(Text(line), soft_wrap=True)
        return len(text)

    def close(self) -> None:
        """Print a partial line left over, then close."""
        with self._lock:
            if self._partial:
                self._console.print(Text(self._partial), soft_wrap=True)
                self._partial = ""
        super().close()

    def writable(self) -> bool:
        """Return True."""
        return True

    def isatty(self) -> bool:
        """Return True: what is written ends up on the terminal."""
        return True

    def fileno(self) -> int:
        """Return the terminal's file descriptor."""
        return self._terminal.fileno()


@contextmanager
def _above(console: Console, terminal: TextIO) -> Iterator[None]:
    """Send the log handlers writing to ``terminal``, and stdout when it is that terminal, above the display."""
    above = LinesAbove(console, terminal)
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and _same_file(handler.stream, terminal)
    ]
    previous = [handler.setStream(above) for handler in handlers]
    stdout = sys.stdout
    if _same_file(stdout, terminal):
        stdout.flush()
        sys.stdout = above
    try:
        yield
    finally:
        sys.stdout = stdout
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)
        above.close()


def _same_file(stream: object, terminal: TextIO) -> bool:
    """Return whether stream writes to the same file as terminal (the same object, or the same open file)."""
    if stream is terminal:
        return True
    try:
        mine, theirs = os.fstat(stream.fileno()), os.fstat(terminal.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    return (mine.st_dev, mine.st_ino, mine.st_rdev) == (theirs.st_dev, theirs.st_ino, theirs.st_rdev)
