"""Let at most LARGE_AT_ONCE large feed bodies be parsed at a time in a process, whichever threads fetched them.

Parsing a body takes about ten times its size in memory while it runs (the document as text, the HTML tree of
its longest entry), and the feed poller fetches up to ``[http] max_connections`` feeds at once: bodies near
``[http] max_bytes`` from that many sites would otherwise be parsed all together. A body under LARGE never
waits, so ordinary feeds go on while large ones take their turn.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

LARGE = 1024 * 1024
LARGE_AT_ONCE = 2

_slots = threading.BoundedSemaphore(LARGE_AT_ONCE)


@contextmanager
def parsing(size: int) -> Iterator[None]:
    """Hold one of the large bodies' slots while a body of ``size`` bytes is parsed, if it is large; yield."""
    if size < LARGE:
        yield
        return
    with _slots:
        yield
