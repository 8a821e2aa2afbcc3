"""Whether the matcher's hot modules run compiled or as pure Python.

Installing the package compiles ``COMPILED`` to C with mypyc where a C compiler is there (the build hook in
``deploy/compile_hook.py``); each compiled module sits beside its source as an extension module, which Python
imports in its place. Where compiling failed, or was skipped, the sources run: the same code, about 1.3 times
slower. In a working copy installed with ``pip install -e .``, a source edited after the build is stale until
the next install, which ``stale()`` tells.

``pip install`` shows what the build said only with ``-v``, so a failed compile would pass unseen: ``monitor
check`` prints ``describe()``, ``monitor run`` logs it as a warning when the matcher is pure Python, and
``python -m monitor.matching.native`` prints it and exits 1 then (the Docker image's build runs it, and fails).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path

COMPILED = ("compiled", "decide", "document", "forms", "hit", "index", "matcher", "snippet", "text", "wordtable")


def compiled() -> bool:
    """Return whether every module of ``COMPILED`` was imported from an extension module."""
    return all(_is_extension(_module_file(name)) for name in COMPILED)


def stale() -> list[str]:
    """Return the modules of ``COMPILED`` whose source is newer than the extension module built from it."""
    found, folder = [], Path(__file__).parent
    for name in COMPILED:
        built = [folder / f"{name}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        built = [path for path in built if path.exists()]
        source = folder / f"{name}.py"
        if built and source.exists() and source.stat().st_mtime > max(path.stat().st_mtime for path in built):
            found.append(name)
    return found


def describe() -> str:
    """Return one line saying whether the matcher runs compiled, and what to do when it does not."""
    # Not whether it is stale: pip gives an installed file the time it was unpacked, which says nothing there.
    if compiled():
        return "compiled (mypyc)"
    return "pure Python (about 1.3x slower; install gcc and python3-dev, then reinstall)"


def main() -> int:
    """Print whether the matcher runs compiled; return 0 if it does, 1 if it runs as pure Python."""
    print(f"matcher: {describe()}")
    return 0 if compiled() else 1


def _module_file(name: str) -> str:
    return str(importlib.import_module(f"monitor.matching.{name}").__file__ or "")


def _is_extension(path: str) -> bool:
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


if __name__ == "__main__":
    sys.exit(main())
