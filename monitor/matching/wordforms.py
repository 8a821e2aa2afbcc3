"""The word forms of indexed articles: their words' tagged lemmas, the words found as forms, and where each counts.

An article's words are read in the languages ``Forms.languages_of`` gives (the article's language when tabled,
else those of the word's script); a word that is a form in such a language has its lemmas there, tagged with the
language (``language TAG lemma``). The lemmas of each word looked at are remembered per article language, up to
a bound while many articles are added, then fewer once settled; the words found as forms of each tagged lemma are
kept for good: they are the article words a rule's word may find (``spellings``).

An article's word is a form of a rule's word when, in a language the article's word is read in, they share a key
(``forms.py``). Which article languages a word found so counts in (``counted_in``) is that, language by language:
the article languages are numbered by ``codes`` (1, 2, ...), 0 standing for an article in no tabled language,
whose words are read in the languages of their script.
"""

from __future__ import annotations

from monitor.matching.forms import Forms

# Words whose lemmas are remembered, all article languages together, while adding many articles, then once settled.
REMEMBERED = 1 << 20
SETTLED = 1 << 15
TAG = "\x1f"  # between a language and a lemma (no folded word holds it)


class ArticleForms:
    """The tagged lemmas of the indexed articles' words, and the words found as forms of each."""

    def __init__(self, forms: Forms) -> None:
        self.forms = forms
        self.codes = {language: code for code, language in enumerate(sorted(forms.languages), 1)}
        # The tagged lemmas of each word looked at, by the article language it was read in (None: read in the
        # languages of its script), and the words among them that have some.
        self._seen: dict[str | None, set[str]] = {}
        self._tagged: dict[str | None, dict[str, tuple[str, ...]]] = {}
        self._inflected: dict[str | None, set[str]] = {}
        self._remembered = 0
        self._bound = REMEMBERED
        # Every word read in a language where it is a form, by language TAG lemma: the words a rule's word may find.
        self.found: dict[str, set[str]] = {}

    def settle(self) -> None:
        """Forget the lemmas remembered while adding many articles; remember fewer from now on."""
        self._forget()
        self._bound = SETTLED

    def lemmas_of(self, words: set[str], read_in: str | None) -> set[str]:
        """Return the tagged lemmas of an article's words that are forms in the languages they are read in."""
        forms = self.forms
        if self._remembered >= self._bound:
            self._forget()
        seen = self._seen.get(read_in)
        if seen is None:
            seen = self._seen[read_in] = set()
            self._tagged[read_in] = {}
            self._inflected[read_in] = set()
        tagged, inflected = self._tagged[read_in], self._inflected[read_in]
        new = words.difference(seen)
        if new:
            for word in new:
                found = [
                    language + TAG + lemma
                    for language in forms.languages_of(word, read_in)
                    for lemma in forms.lookup(word, language) or ()
                ]
                if found:
                    tagged[word] = tuple(found)
                    inflected.add(word)
                    for lemma in found:
                        self.found.setdefault(lemma, set()).add(word)
            seen.update(new)
            self._remembered += len(new)
        lemmas: set[str] = set()
        for word in words.intersection(inflected):
            lemmas.update(tagged[word])
        return lemmas

    def spellings(self, word: str) -> set[str]:
        """Return the words of the indexed articles a rule's word (not ``=word``) may find, and more: those that
        are a form of it in some tabled language."""
        found = {word}
        forms = self.forms
        if forms:
            for language in self.codes:
                for key in forms.lookup(word, language) or (word,):
                    found.add(key)
                    found.update(self.found.get(language + TAG + key, ()))
        return found

    def counted_in(self, spelled: str, word: str) -> frozenset[int] | None:
        """Return the codes of the article languages in which an article's word counts as a rule's word (not
        ``=word``), or None for all of them."""
        if spelled == word:
            return None
        codes = {code for language, code in self.codes.items() if self._shared(spelled, word, language)}
        if any(self._shared(spelled, word, language) for language in self.forms.languages_of(spelled, None)):
            codes.add(0)
        return None if len(codes) > len(self.codes) else frozenset(codes)

    def _shared(self, spelled: str, word: str, language: str) -> bool:
        """Return whether two words share a key in a language."""
        keys = self.forms.keys
        return not set(keys(spelled, language)).isdisjoint(keys(word, language))

    def _forget(self) -> None:
        """Forget the lemmas of the words looked at (they are looked up again when next seen)."""
        for tables in (self._seen, self._tagged, self._inflected):
            tables.clear()
        self._remembered = 0
