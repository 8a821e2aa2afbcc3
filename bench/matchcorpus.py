"""Make the side-by-side matching corpus: news-like articles in five languages and rules drawn from their words.

Each language has its own made-up vocabulary (English-like plain Latin, French-like and German-like Latin with
accents, Russian-like Cyrillic, Greek with its tonos), distinct once folded, drawn with a Zipf law into articles
of about 2 KB with capitals and punctuation. A rule is a small tree of one language's words: ``("word", w)``,
``("phrase", (w1, w2))``, ``("and", children)``, ``("or", children)`` or ``("not", child)``, written out in the
rule language by ``query``. Two families: ``perq`` rules are ANDs of ORs of words (what perq expresses), ``plain``
rules are words, phrases, AND, OR and NOT (what an Aho-Corasick pass and a boolean evaluation express).

How many rules hit an article follows how common their words are: the heavy corpus draws them from the more
frequent part of each vocabulary (about 300 hits an article with 100,000 rules), the light one from the rarer part
(about 30).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Union

# A rule tree: ("word", str) | ("phrase", tuple[str, ...]) | ("and" | "or", tuple[Node, ...]) | ("not", Node)
Node = tuple[str, Union[str, tuple[str, ...], tuple["Node", ...], "Node"]]

SEPARATORS = [" "] * 14 + [", ", ". ", " — ", "-", "'", ": ", "; ", " (", ") "]
# Per language: its consonants and its vowels, space-separated.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("b c d f g h j k l m n p r s t v w z ch sh th st tr br pl gr", "a e i o u a e i o u y"),
    "fr": ("b c d f g l m n p r s t v ch qu tr pr gr", "a e i o u é è ê à ç ou au"),
    "de": ("b d f g h k l m n p r s t w z sch st pf ß", "a e i o u ä ö ü ei au ie"),
    "ru": ("б в г д ж з к л м н п р с т х ш щ ч", "а е и о у я ю ы ё й"),
    "el": ("β γ δ ζ θ κ λ μ ν ξ π ρ σ τ φ χ", "α ε η ι ο υ ω ά έ ή ί ό ύ ώ"),
}
VOCABULARY = 40_000  # distinct words per language
# Where each corpus draws its rules' words, as ranks in a language's vocabulary by frequency.
WINDOWS = {"heavy": (150, 6_000), "light": (1_000, 40_000)}


@dataclass(frozen=True)
class Corpus:
    """Articles as (title, text, language), and rules by name in each family."""

    name: str
    articles: list[tuple[str, str, str]]
    rules: dict[str, dict[str, Node]]  # family -> name -> tree


def make_vocabulary(rng: random.Random, language: str, taken: set[str], fold: Callable[[str], str]) -> list[str]:
    """Return a language's words, none equal once folded to a word of ``taken`` (which it fills)."""
    consonants, vowels = (letters.split() for letters in LANGUAGES[language])
    words: list[str] = []
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
        folded = fold(word)
        if len(word) >= 3 and folded not in taken:
            taken.add(folded)
            words.append(word)
    # Frequent words are short: rank the words by length, with some noise.
    words.sort(key=lambda w: len(w) + rng.uniform(-2.5, 2.5))
    return words


def make_articles(rng: random.Random, vocabularies: dict[str, list[str]], count: int) -> list[tuple[str, str, str]]:
    """Return ``count`` articles (title, text, language) of about 2 KB, their words drawn with a Zipf law."""
    cumulative: list[float] = []
    total = 0.0
    for rank in range(1, VOCABULARY + 1):
        total += 1 / rank**1.07
        cumulative.append(total)

    def sentence(words: list[str], length: int) -> str:
        out = []
        for i, word in enumerate(rng.choices(words, cum_weights=cumulative, k=length)):
            if i == 0 or rng.random() < 0.08:
                word = word.capitalize() if rng.random() < 0.9 else word.upper()
            out.append(word + (rng.choice(SEPARATORS) if i < length - 1 else ". "))
        return "".join(out)

    articles = []
    languages = list(vocabularies)
    for _ in range(count):
        language = rng.choice(languages)
        words = vocabularies[language]
        title = sentence(words, rng.randint(6, 12)).strip()
        text = ""
        while len(text) < 2000:
            text += sentence(words, rng.randint(8, 25))
        articles.append((title, text.strip(), language))
    return articles


class RuleMaker:
    """Draw rules of one corpus: words from a window of frequency ranks, phrases as they occur in articles."""

    def __init__(
        self,
        rng: random.Random,
        vocabularies: dict[str, list[str]],
        articles: Sequence[tuple[str, str, str]],
        window: tuple[int, int],
        tokens: Callable[[str], list[str]],
    ) -> None:
        self.rng = rng
        self.pools = {language: words[window[0] : window[1]] for language, words in vocabularies.items()}
        self.language = "en"
        # Runs of words as the articles write them, by language, for phrases that really occur.
        self.samples: dict[str, list[list[str]]] = {}
        for _, text, language in articles[:300]:
            self.samples.setdefault(language, []).append(tokens(text))
        self.pooled = {language: set(pool) for language, pool in self.pools.items()}

    def word(self) -> Node:
        return ("word", self.rng.choice(self.pools[self.language]).lower())

    def phrase(self) -> Node:
        """Return a phrase of 2 words around a word of the window as some article writes it, else made up."""
        rng, pool = self.rng, self.pooled[self.language]
        for _ in range(20):
            words = rng.choice(self.samples[self.language])
            at = rng.randrange(len(words) - 1)
            pair = (words[at].lower(), words[at + 1].lower())
            if pair[0] in pool or pair[1] in pool:
                return ("phrase", pair)
        return ("phrase", (self.word()[1], self.word()[1]))  # type: ignore[return-value]

    def rule(self, family: str) -> Node:
        """Return one rule of a family, all in one language drawn at random."""
        rng = self.rng
        self.language = rng.choice(list(self.pools))
        word, phrase = self.word, self.phrase
        choices: list[tuple[float, Callable[[], Node]]]
        if family == "perq":
            choices = [
                (0.45, word),
                (0.25, lambda: ("and", tuple(word() for _ in range(rng.randint(2, 3))))),
                (0.15, lambda: ("or", tuple(word() for _ in range(rng.randint(2, 3))))),
                (0.15, lambda: ("and", (("or", (word(), word())), word()))),
            ]
        else:
            choices = [
                (0.35, word),
                (0.20, phrase),
                (0.15, lambda: ("and", (word(), word()))),
                (0.10, lambda: ("or", (word(), word(), phrase()))),
                (0.10, lambda: ("and", (("or", (word(), word())), word()))),
                (0.10, lambda: ("and", (word(), ("not", word())))),
            ]
        return rng.choices([make for _, make in choices], weights=[weight for weight, _ in choices])[0]()


def query(node: Node) -> str:
    """Return a rule tree in the rule language."""
    kind, value = node
    if kind == "word":
        return str(value)
    if kind == "phrase":
        return '"' + " ".join(value) + '"'  # type: ignore[arg-type]
    if kind == "not":
        return f"NOT {query(value)}"  # type: ignore[arg-type]
    parts = [query(child) if child[0] != "or" or kind == "or" else f"({query(child)})" for child in value]  # type: ignore[union-attr]
    return (" OR " if kind == "or" else " ").join(parts)


def make_corpus(
    name: str,
    count: int,
    rules: int,
    seed: int,
    fold: Callable[[str], str],
    tokens: Callable[[str], list[str]],
) -> Corpus:
    """Return a corpus of ``count`` articles with ``rules`` rules in each family; the same seed, the same corpus."""
    rng = random.Random(seed)
    taken: set[str] = set()
    vocabularies = {language: make_vocabulary(rng, language, taken, fold) for language in LANGUAGES}
    articles = make_articles(rng, vocabularies, count)
    maker = RuleMaker(rng, vocabularies, articles, WINDOWS[name], tokens)
    families = {family: {f"{family} {i}": maker.rule(family) for i in range(rules)} for family in ("perq", "plain")}
    # A few rules that match through NOT alone, which no index anchors.
    for i in range(5):
        maker.language = rng.choice(list(LANGUAGES))
        families["plain"][f"plain not {i}"] = ("not", maker.word())
    return Corpus(name, articles, families)
