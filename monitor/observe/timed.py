"""A call run in a thread of its own, one at a time, and waited for a bounded time: the database checks and reads
that an HTTP answer must not hang on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from monitor.errors import StorageError

T = TypeVar("T")


class TimedCheck(Generic[T]):
    """Run a call in a thread of its own, one at a time, and wait for its answer ``seconds`` at most."""

    def __init__(self, check: Callable[[], T], seconds: float) -> None:
        self._check = check
        self.seconds = seconds
        self._lock = threading.Lock()
        self._running: Future[T] | None = None

    def __call__(self) -> T:
        """Return the call's answer; raise what it raised, or StorageError if it takes too long."""
        with self._lock:
            if self._running is None or self._running.done():
                # A call still running from an earlier request is waited for again, never run twice at once.
                self._running = Future()
                threading.Thread(target=self._run, args=(self._running,), name="timed-check", daemon=True).start()
            running = self._running
        try:
            return running.result(timeout=self.seconds)
        except TimeoutError:
            raise StorageError(f"no answer within {self.seconds:g} s") from None

    def _run(self, future: Future[T]) -> None:
        try:
            future.set_result(self._check())
        except Exception as exc:  # handed to every request waiting on it
            future.set_exception(exc)
