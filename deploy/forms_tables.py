"""Build the word-form tables: for each language, the inflected forms of its dictionary and their lemmas.

Each table maps every word form of simplemma's dictionary for one language that differs from its lemma, folded
as rules see words (``monitor.matching.text.fold``: case folded, accents of Latin, Greek, Cyrillic, Arabic and
Hebrew letters removed), to its folded lemma (a folded form can have several: ``\\x1f`` joins them), as a MARISA
trie (``marisa_trie.BytesTrie``) that the matcher maps into memory. Forms and lemmas of several words (``New
York``) are left out: rules see one word at a time.

The install runs it (``deploy/compile_hook.py``) and writes the tables beside ``monitor/matching/forms.py``,
unless the ones there were built by the same simplemma for the same languages (``STAMP``). ``MONITOR_FORM_LANGUAGES``
chooses the languages (``en,fr,ru``; empty: none, and rules match words as written). ``python
deploy/forms_tables.py [FOLDER] [--languages en,fr,...]`` builds them by hand.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# The languages built by default: the most common languages of news, where simplemma's dictionaries are good.
LANGUAGES = (
    "ar", "bg", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr", "hu", "id", "it", "nb", "nl",
    "pl", "pt", "ro", "ru", "sk", "sv", "tr", "uk",
)  # fmt: skip
SEPARATOR = "\x1f"
SUFFIX = ".forms"
STAMP = "STAMP"
ROOT = Path(__file__).resolve().parent.parent
LANGUAGES_ENV = "MONITOR_FORM_LANGUAGES"


def build_one(language: str, folder: Path) -> Path:
    """Build the table of one language into ``folder``; return its path."""
    import marisa_trie
    from simplemma.strategies.dictionaries.dictionary_factory import _load_dictionary_from_disk

    sys.path.insert(0, str(ROOT))
    from monitor.matching.text import fold

    lemmas: dict[str, str] = {}  # each distinct lemma folded once
    pairs: dict[str, set[str]] = {}
    for raw_form, raw_lemma in _load_dictionary_from_disk(language).items():
        form = fold(raw_form.decode())
        lemma = lemmas.get(raw_lemma.decode())
        if lemma is None:
            lemma = lemmas[raw_lemma.decode()] = fold(raw_lemma.decode())
        if form != lemma and " " not in form and " " not in lemma and form and lemma:
            pairs.setdefault(form, set()).add(lemma)
    # A form that is also a lemma in its own right (folded together, ``gipfel`` is a form of the verb ``gipfeln`` and
    # the noun ``Gipfel``) keeps itself among its keys.
    lemma_set = set(lemmas.values())
    for form, found in pairs.items():
        if form in lemma_set:
            found.add(form)
    trie = marisa_trie.BytesTrie(
        (form, SEPARATOR.join(sorted(found)).encode()) for form, found in pairs.items()
    )
    path = folder / f"{language}{SUFFIX}"
    partial = path.with_suffix(".partial")
    trie.save(str(partial))
    partial.replace(path)
    return path


def build(folder: Path, languages: Sequence[str] = LANGUAGES, workers: int | None = None) -> list[Path]:
    """Build the tables of ``languages`` into ``folder``, on every core; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(language, folder) for language in languages]
    with multiprocessing.get_context("spawn").Pool(workers or min(len(jobs), multiprocessing.cpu_count())) as pool:
        return pool.starmap(build_one, jobs)


def chosen(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Return the languages to build: ``MONITOR_FORM_LANGUAGES`` when set, else ``LANGUAGES``."""
    value = (environ if environ is not None else dict(os.environ)).get(LANGUAGES_ENV)
    if value is None:
        return LANGUAGES
    return tuple(code.strip() for code in value.split(",") if code.strip())


def ensure(folder: Path, languages: Sequence[str]) -> list[Path]:
    """Build the tables of ``languages`` into ``folder`` unless those there are up to date; remove the others."""
    from importlib.metadata import version

    stamp = f"simplemma {version('simplemma')}; builder {_digest()}; languages {','.join(sorted(languages))}\n"
    paths = [folder / f"{language}{SUFFIX}" for language in languages]
    current = folder / STAMP
    if current.exists() and current.read_text() == stamp and all(path.exists() for path in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"*{SUFFIX}"):
        stale.unlink()
    current.unlink(missing_ok=True)
    built = build(folder, languages) if languages else []
    current.write_text(stamp)
    return built


def _digest() -> str:
    """Return a digest of this builder and of the folding it applies, which the tables depend on."""
    import hashlib

    sources = [Path(__file__), ROOT / "monitor" / "matching" / "text.py"]
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "monitor" / "matching" / "forms")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    args = parser.parse_args()
    for path in build(args.folder, [code for code in args.languages.split(",") if code]):
        print(path, f"{path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
