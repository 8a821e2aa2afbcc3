"""Rules as code: a rule's ``examples`` are texts it must match, its ``counterexamples`` texts it must not.

They are checked when the settings are loaded (``monitor check``, ``monitor run`` and every reload): a rule that
misses one of its examples, or matches one of its counterexamples, makes the settings invalid, naming the rule
and the text, so that a rule edited for one case never silently stops catching another. Each text is matched as
the text of an article with no title, in the language its words make clear (as at ingestion), with the rule's
word forms as they will run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.ingest.normalize import detect_language
from monitor.matching import Matcher, Node
from monitor.settings.lines import problem

QUOTED = 80  # characters of a failing text quoted in its problem


def check_examples(
    name: str, tree: Node, examples: Sequence[str], counterexamples: Sequence[str], where: tuple[Path, str, int]
) -> list[str]:
    """Return the problems of a rule's examples and counterexamples; ``where`` is (file, source, rule index)."""
    if not examples and not counterexamples:
        return []
    path, source, index = where
    matcher = Matcher({name: tree})
    problems: list[str] = []
    for key, texts, wanted in (("examples", examples, True), ("counterexamples", counterexamples, False)):
        for position, text in enumerate(texts):
            if bool(matcher.match(text=text, language=detect_language(text))) == wanted:
                continue
            what = "does not match its example" if wanted else "matches its counterexample"
            message = f"rule {name!r} {what} {_quoted(text)}"
            problems.append(problem(path, source, ("rules", index, key, position), message))
    return problems


def _quoted(text: str) -> str:
    """Return a text in quotes on one line, cut to QUOTED characters."""
    line = " ".join(text.split())
    return repr(line if len(line) <= QUOTED else line[: QUOTED - 1] + "…")
