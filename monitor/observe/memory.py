"""Keep the daemon's resident memory down where the C library lets us: fewer malloc arenas, free pages returned.

glibc's ``malloc`` gives threads that allocate at the same time arenas of their own, up to eight per core, and
memory freed in one arena is seldom handed back or reused by another: with a pool of fetching threads each
allocating feed bodies and article texts, the daemon would grow by tens of megabytes that hold nothing. Python
threads take turns under the GIL anyway, so one arena costs them no speed. Elsewhere (musl, macOS) this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Ask glibc to create at most ``arenas`` malloc arenas from now on; return whether it agreed."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    agreed = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("malloc arenas limited to %d: %s", arenas, agreed)
    return agreed


class Trimmer:
    """Hand memory that ``malloc`` holds free back to the system, at most once per ``every`` seconds.

    After a batch of articles is stored, its texts, parsed entries and query results are freed, but glibc keeps
    the pages for reuse; ``malloc_trim`` returns them, so the resident size follows what is live.
    """

    def __init__(self, every: float = 1.0) -> None:
        self._every = every
        self._last = -math.inf  # the first call trims, however soon after boot
        self._lock = threading.Lock()
        self._trim = _malloc_trim()

    def __call__(self) -> None:
        """Trim if the last trim is ``every`` seconds old (and the C library can)."""
        if self._trim is None:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                return
            self._last = now
        self._trim(0)


def _malloc_trim() -> Any:
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None
