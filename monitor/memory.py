"""Keep the daemon's resident memory down where the C library lets us.

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

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Ask glibc to create at most ``arenas`` malloc arenas from now on; return whether it agreed."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    agreed = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("malloc arenas limited to %d: %s", arenas, agreed)
    return agreed
