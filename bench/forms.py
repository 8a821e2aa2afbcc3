"""Measure word forms: dictionary lemmas (the matcher's tables) against Snowball stemmers, on labelled pairs.

Run: ``python bench/forms.py`` (Snowball needs ``pip install snowballstemmer``; without it only the tables are
measured). The pairs are ``tests/fixtures/word_forms.tsv``: a rule's word, a word of an article and whether the
second is a form of the first, in Russian, Ukrainian, English, French, German, Spanish, Polish and Turkish. For
each method it prints, per language and in all: the forms found (recall), the other words wrongly taken for forms
(false matches), and the cost per word.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.matching import Matcher
from monitor.matching.text import fold

PAIRS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "word_forms.tsv"
SNOWBALL = {"ru": "russian", "en": "english", "fr": "french", "de": "german", "es": "spanish", "pl": "polish"}
SNOWBALL |= {"tr": "turkish"}  # no Ukrainian stemmer in Snowball


def main() -> None:
    rows = [
        line.split("\t")
        for line in PAIRS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    try:
        import snowballstemmer
    except ImportError:
        snowballstemmer = None
    methods = {"dictionary (tables)": tables_same}
    if snowballstemmer is not None:
        stemmers = {code: snowballstemmer.stemmer(name) for code, name in SNOWBALL.items()}

        def stems_same(language: str, word: str, form: str) -> bool:
            stemmer = stemmers.get(language)
            return stemmer is not None and stemmer.stemWord(fold(word)) == stemmer.stemWord(fold(form))

        methods["Snowball stems"] = stems_same
    else:
        print("snowballstemmer is not installed: only the tables are measured")
    for name, same in methods.items():
        found, missed, wrong, right = Counter(), Counter(), Counter(), Counter()
        started = time.perf_counter()
        for language, word, form, label in rows:
            verdict = same(language, word, form.strip())
            if label.strip() == "1":
                (found if verdict else missed)[language] += 1
            else:
                (wrong if verdict else right)[language] += 1
        seconds = (time.perf_counter() - started) / len(rows)
        print(f"\n{name}: {seconds * 1e6:,.0f} µs a pair")
        for language in [*sorted({row[0] for row in rows}), "all"]:
            pick = (lambda c: sum(c.values())) if language == "all" else (lambda c, lang=language: c[lang])
            forms, others = pick(found) + pick(missed), pick(wrong) + pick(right)
            print(
                f"  {language:>4}: forms found {pick(found):>3}/{forms:<3} ({pick(found) / max(forms, 1):4.0%})   "
                f"other words taken for forms {pick(wrong):>2}/{others:<3} ({pick(wrong) / max(others, 1):4.0%})"
            )


def tables_same(language: str, word: str, form: str) -> bool:
    """Return whether the matcher, with its tables, finds ``form`` for a rule of ``word`` in ``language`` (the
    matcher is built for each pair: its time is most of the figure)."""
    return bool(Matcher({"rule": word}).match("", form, language))


if __name__ == "__main__":
    main()
