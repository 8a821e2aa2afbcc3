"""Progress bars for long commands, drawn on stderr only when it is a terminal (never in logs, pipes or cron)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
    )


@contextmanager
def bar(description: str, total: int | None, stream: TextIO | None = None) -> Iterator[Callable[[], None]]:
    """Yield a function that advances a bar of ``total`` steps; a no-op unless ``stream`` (stderr) is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield lambda: None
        return
    with _progress(stream) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def track(items: Iterable[T], description: str, total: int | None = None, stream: TextIO | None = None) -> Iterator[T]:
    """Yield the items, advancing a bar on a terminal for each one."""
    with bar(description, total, stream) as advance:
        for item in items:
            yield item
            advance()
