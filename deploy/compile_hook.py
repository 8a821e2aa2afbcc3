"""Build hook: compile the matcher's hot modules to C with mypyc, or keep them pure Python if that fails.

``pip install`` runs it (see ``[tool.hatch.build.targets.wheel.hooks.custom]`` in ``pyproject.toml``). The
compiled modules match articles about 1.3 times faster; they need a C compiler and the Python headers. Where
those are missing, the build says so and goes on with the pure Python modules, which behave the same. pip shows
what a build says only with ``-v``: ``monitor check``, ``monitor run`` and ``python -m monitor.matching.native``
tell it too (``monitor.matching.native``). Set ``MONITOR_PURE_PYTHON=1`` to skip compiling.

It also builds the word-form tables (``deploy/forms_tables.py``) into ``monitor/matching/forms/``, which the wheel
carries; without them (they could not be built) rules match words as written, and ``monitor check`` says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hatch_mypyc.plugin import MypycBuildHook


class CompileHook(MypycBuildHook):
    """mypyc's hatch hook, with a fall-back to pure Python."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._build_forms(build_data)
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


    def _build_forms(self, build_data: dict[str, Any]) -> None:
        """Build the word-form tables, or say why rules will match words as written."""
        sys.path.insert(0, str(Path(self.root) / "deploy"))
        try:
            import forms_tables

            languages = forms_tables.chosen()
            folder = Path(self.root) / "monitor" / "matching" / "forms"
            built = forms_tables.ensure(folder, languages)
        except Exception as exc:  # no simplemma, no space: matching still works, on exact words
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            self.app.display_warning(f"building the word-form tables failed, rules match words as written: {reason}")
            return
        finally:
            sys.path.pop(0)
        self.app.display_info(f"word-form tables: {', '.join(path.stem for path in built) or 'none'}")
        build_data.setdefault("artifacts", []).append("/monitor/matching/forms/*")


def get_build_hook() -> type[MypycBuildHook]:
    return CompileHook
