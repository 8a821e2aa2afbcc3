"""Whether the matcher's hot modules run compiled or as pure Python.

Installing the package compiles ``COMPILED`` to C with mypyc where a C compiler is there (the build hook in
``deploy/compile_hook.py``); each compiled module sits beside its source as an extension module, which Python
imports in its place. Where compiling failed, or was skipped, the sources run: the same code, about 1.3 times
slower. In a working copy installed with ``pip install -e .``, a source edited after the build is stale until
the next install, which ``stale()`` tells.
"""

from __future__ import annotations

import importlib
import importlib.machinery
from pathlib import Path

COMPILED = ("compiled", "document", "index", "matcher", "snippet", "text", "wordtable")


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


def _module_file(name: str) -> str:
    return str(importlib.import_module(f"monitor.matching.{name}").__file__ or "")


def _is_extension(path: str) -> bool:
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
