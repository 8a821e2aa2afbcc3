"""Word forms: the inflected forms of a word in a language are that word (``Донбассе`` is a form of ``Донбасс``).

Each language has a table, built at install time from simplemma's dictionaries (``deploy/forms_tables.py``),
that maps every folded form differing from its lemma to its folded lemma or lemmas. In a language, a word's
*keys* are its lemmas, or the word itself when the table does not hold it; two words are forms of one word when
they share a key. Precision comes first, which is why these are dictionaries and not stemmers: a dictionary knows
that ``organization`` is no form of ``organ``, nor ``university`` of ``universe``, nor French ``minerai`` of
``mine``, where a Snowball stemmer makes each pair one stem.

The language of an article is the one detected when it was ingested, when the detection was clear and a table
exists for it; otherwise (a title of three words, a mixed text) a word's languages are those of its script that
have a table. Tables are mapped into memory, so the processes of one machine share them, and each is opened on
first use; a word is looked up once per language, and remembered (up to a bound).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "forms"
SUFFIX = ".forms"
SEPARATOR = "\x1f"
REMEMBERED = 1 << 18  # looked-up words kept, all languages together

# The languages a word may be in, by the script of its first letter, when the article's language is unknown.
SCRIPTS = {
    "LATIN": (
        "cs",
        "da",
        "de",
        "en",
        "es",
        "fi",
        "fr",
        "hu",
        "id",
        "it",
        "nb",
        "nl",
        "pl",
        "pt",
        "ro",
        "sk",
        "sv",
        "tr",
    ),
    "CYRILLIC": ("bg", "ru", "uk"),
    "GREEK": ("el",),
    "ARABIC": ("ar", "fa"),
}


class Forms:
    """The form tables of one folder, looked up by folded word and language."""

    def __init__(self, folder: Path = FOLDER) -> None:
        self.folder = folder
        self.languages = frozenset(path.stem for path in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else frozenset()
        self._tables: dict[str, Any] = {}
        self._keys: dict[str, dict[str, tuple[str, ...]]] = {language: {} for language in self.languages}
        self._remembered = 0
        self._scripts = {script: tuple(c for c in codes if c in self.languages) for script, codes in SCRIPTS.items()}

    def __bool__(self) -> bool:
        return bool(self.languages)

    @classmethod
    def none(cls) -> Forms:
        """Return no tables at all: words match as written."""
        return cls(FOLDER / "none")

    def keys(self, word: str, language: str) -> tuple[str, ...]:
        """Return the keys of a folded word in a language: its lemmas, or the word itself when it is no form."""
        known = self._keys.get(language)
        if known is None:
            return (word,)
        found = known.get(word)
        if found is None:
            found = self.lookup(word, language) or (word,)
            if self._remembered >= REMEMBERED:
                for remembered in self._keys.values():
                    remembered.clear()
                self._remembered = 0
            known[word] = found
            self._remembered += 1
        return found

    def lookup(self, word: str, language: str) -> tuple[str, ...] | None:
        """Return the lemmas of a folded word in a language's table, or None when the table does not hold it."""
        table = self._table(language)
        values = table.get(word) if table is not None else None
        return tuple(values[0].decode().split(SEPARATOR)) if values else None

    def all_keys(self, word: str, languages: Iterable[str]) -> set[str]:
        """Return the keys of a folded word in any of the languages, the word itself included."""
        found = {word}
        for language in languages:
            found.update(self.keys(word, language))
        return found

    def languages_of(self, word: str, detected: str | None) -> tuple[str, ...]:
        """Return the languages to read a word in: the article's when known and tabled, else those of its script."""
        if detected is not None and detected in self.languages:
            return (detected,)
        for char in word:
            if char.isalpha():
                return self._scripts.get(unicodedata.name(char, "").partition(" ")[0], ())
        return ()

    def _table(self, language: str) -> Any:
        table = self._tables.get(language)
        if table is None and language in self.languages:
            import marisa_trie

            table = self._tables[language] = marisa_trie.BytesTrie()
            table.mmap(str(self.folder / f"{language}{SUFFIX}"))
        return table


_DEFAULT: Forms | None = None


def describe() -> str:
    """Return one line on the installed tables: their languages, or why words only match as written."""
    languages = sorted(default().languages)
    if not languages:
        return "none installed: rules match words as written (reinstall with simplemma reachable to build them)"
    return f"{len(languages)} languages ({', '.join(languages)})"


def default() -> Forms:
    """Return the tables installed with the package, opened once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Forms()
    return _DEFAULT


class FormIndex:
    """The rules' words whose other forms count too, and, for an article's words, the rules' words they are forms of.

    In a language, an article's word is a form of a rule's word when they share a key (``Forms.keys``). The
    rules' words that are forms themselves in a language (a rule may write ``summits``) are listed by key for that
    language on first use; the others are their own key. What an article's word is a form of is remembered per
    language (up to a bound), so that the words of the next articles cost one dictionary look-up each.
    """

    def __init__(self, vocabulary: Iterable[str], forms: Forms) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.forms = forms
        self._inflected: dict[str, tuple[frozenset[str], dict[str, list[str]]]] = {}
        self._targets: dict[str | None, dict[str, tuple[str, ...]]] = {}
        self._seen: dict[str | None, set[str]] = {}  # the article words looked at, per language
        self._forms_of_some: dict[str | None, set[str]] = {}  # those that are forms of some rule word
        self._remembered = 0

    def aliases(self, words: set[str], language: str | None) -> dict[str, list[str]]:
        """Return, for each rule word that some of these article words are other forms of, those words."""
        known = self._targets.get(language)
        if known is None:
            known = self._targets[language] = {}
            self._seen[language] = set()
            self._forms_of_some[language] = set()
        seen, forms_of_some = self._seen[language], self._forms_of_some[language]
        # Set operations in C do the usual case, where every word was seen before and few are forms of a rule word.
        fresh = words.difference(seen)
        if fresh:
            if self._remembered + len(fresh) >= REMEMBERED:
                for tables in (self._targets, self._seen, self._forms_of_some):
                    tables.clear()
                self._remembered = 0
                return self.aliases(words, language)
            for word in fresh:
                targets = self._targets_of(word, language)
                if targets:
                    known[word] = targets
                    forms_of_some.add(word)
            seen.update(fresh)
            self._remembered += len(fresh)
        found: dict[str, list[str]] = {}
        for word in words.intersection(forms_of_some):
            for target in known[word]:
                found.setdefault(target, []).append(word)
        return found

    def _targets_of(self, word: str, language: str | None) -> tuple[str, ...]:
        """Return the rule words that ``word`` is another form of, itself left out."""
        forms, vocabulary = self.forms, self.vocabulary
        found: list[str] = []
        for code in forms.languages_of(word, language):
            inflected, by_key = self._inflected_in(code)
            keys = forms.lookup(word, code)
            if keys is None:  # no form: its own key; only a rule word that is a form of it can share it
                found.extend(target for target in by_key.get(word, ()) if target != word)
                continue
            for key in keys:
                if key in vocabulary and key not in inflected and key != word:
                    found.append(key)
                found.extend(target for target in by_key.get(key, ()) if target != word)
        return tuple(dict.fromkeys(found)) if found else ()

    def _inflected_in(self, language: str) -> tuple[frozenset[str], dict[str, list[str]]]:
        """Return the rule words that are forms in a language, and them by key."""
        done = self._inflected.get(language)
        if done is None:
            by_key: dict[str, list[str]] = {}
            for word in self.vocabulary:
                keys = self.forms.lookup(word, language)
                if keys is not None:
                    for key in keys:
                        by_key.setdefault(key, []).append(word)
            inflected = frozenset(word for words in by_key.values() for word in words)
            done = self._inflected[language] = (inflected, by_key)
        return done
