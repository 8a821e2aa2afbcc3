"""Build hook: compile the matcher's hot modules to C with mypyc, or keep them pure Python if that fails.

``pip install`` runs it (see ``[tool.hatch.build.targets.wheel.hooks.custom]`` in ``pyproject.toml``). The
compiled modules match articles about 1.3 times faster; they need a C compiler and the Python headers. Where
those are missing, the build says so and goes on with the pure Python modules, which behave the same. pip shows
what a build says only with ``-v``: ``monitor check``, ``monitor run`` and ``python -m monitor.matching.native``
tell it too (``monitor.matching.native``). Set ``MONITOR_PURE_PYTHON=1`` to skip compiling.
"""

from __future__ import annotations

import os
from typing import Any

from hatch_mypyc.plugin import MypycBuildHook


class CompileHook(MypycBuildHook):
    """mypyc's hatch hook, with a fall-back to pure Python."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("MONITOR_PURE_PYTHON", "") not in ("", "0"):
            self.app.display_info("MONITOR_PURE_PYTHON is set: the matcher stays pure Python")
            self.clean([version])
            return
        try:
            super().initialize(version, build_data)
        except Exception as exc:  # no compiler, no headers: the pure Python modules do the same work
            self.clean([version])
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            self.app.display_warning(
                f"compiling the matcher failed, it stays pure Python (about 1.3x slower; `monitor check` says which "
                f"runs): {reason}"
            )


def get_build_hook() -> type[MypycBuildHook]:
    return CompileHook
