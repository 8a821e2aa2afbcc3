"""Benchmark the rule matcher: side by side with perq and an Aho-Corasick baseline, then throughput, compile time
and memory at 100,000 rules, and a regex baseline.

Run: ``python bench/match.py`` (options: ``--rules``, ``--articles``, ``--seed``, ``--part``; the bench extra
installs perq and pyahocorasick: ``pip install -e '.[bench]'``). Everything runs in one process on one core; the
corpora are synthetic but shaped like news: Zipf-distributed vocabularies, ~2 KB articles with punctuation and
capitals.

It prints:
0. Side by side (``--part compare``), 100,000 rules x 1,000 articles in five languages (``matchcorpus.py``), word
   forms off since the others have none: the matcher against perq on the rules perq expresses (ANDs of ORs of
   words) and against a pyahocorasick pass with a boolean evaluation (``matchbaselines.py``) on the rules it
   expresses (words, phrases, AND, OR, NOT), on a heavy-hit corpus (about 300 hits an article) and a light-hit
   one (about 30): each system's articles per second from raw text to hits, the ratio (target: at least 1), whether
   the hit sets are identical, and how each system's cost per article grows from 1,000 to 100,000 rules.
Then (``--part own``), on a corpus in Latin (with accents) and Cyrillic whose rules are drawn from the less common
part of the vocabulary (names and topics, as people watch them) mixed as words, phrases taken from real article
text, boolean combinations, NEAR pairs, prefixes and title-only terms:
1. 100,000 rules x 1,000 articles: compile time, memory of the compiled matcher, articles per second (hits as
   matching finds them, then with every hit's terms and snippet worked out as if each became an alert), and the
   same articles matched by evaluating every rule (the baseline without the index), with the ratio; once with word
   forms on (as rules run by default, the articles read as LANGUAGE: each distinct word is looked up in its
   form table) and once off, and what forms cost.
2. The same with 100,000 rules that are each an AND of 2 to 4 words, the usual set-up of percolator benchmarks.
3. 2,000 phrase rules, word forms on: the matcher, compiling included, against a per-rule regular-expression loop
   (stdlib ``re`` on folded text, and the ``regex`` module too), checking that both find exactly the same hits (the
   synthetic words have no other forms), with the ratio.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from monitor.matching import Hit, Matcher, native
from monitor.matching import text as text_module
from monitor.matching.forms import Forms
from monitor.matching.matcher import match_every_rule
from monitor.matching.text import fold

LATIN = "b c d f g h j k l m n p r s t v z ch st tr br pl gr".split()  # noqa: SIM905
VOWELS = "a e i o u a e i o u é è ü ö y".split()  # noqa: SIM905
CYRILLIC = "б в г д ж з к л м н п р с т х ш".split()  # noqa: SIM905
CYR_VOWELS = "а е и о у я ю ы і".split()  # noqa: SIM905
LANGUAGE = "en"  # the articles' language, as detection would give it, when word forms are on
VOCABULARY = 200_000  # distinct words in the corpus; news text has hundreds of thousands
COMMON = 5_000  # the most frequent words, never watched on their own
SEPARATORS = [" "] * 14 + [", ", ". ", " — ", "-", "'", ": ", "; "]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Return ``size`` made-up words, distinct once folded, about one in five in Cyrillic."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        cyrillic = rng.random() < 0.2
        consonants, vowels = (CYRILLIC, CYR_VOWELS) if cyrillic else (LATIN, VOWELS)
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
        if len(word) >= 3 and fold(word) not in seen:
            seen.add(fold(word))
            words.append(word)
    # Frequent words are short (Zipf's law of abbreviation): rank the words by length, with some noise.
    words.sort(key=lambda w: len(w) + rng.uniform(-2.5, 2.5))
    return words


def make_articles(rng: random.Random, vocabulary: list[str], count: int) -> list[tuple[str, str]]:
    """Return ``count`` (title, text) pairs of about 2 KB, words drawn with a Zipf law."""
    weights = [1 / (rank**1.07) for rank in range(1, len(vocabulary) + 1)]
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)

    def sentence(length: int) -> str:
        words = rng.choices(vocabulary, cum_weights=cumulative, k=length)
        out = []
        for i, word in enumerate(words):
            if i == 0 or rng.random() < 0.08:
                word = word.capitalize() if rng.random() < 0.9 else word.upper()
            out.append(word + (rng.choice(SEPARATORS) if i < length - 1 else ". "))
        return "".join(out)

    articles = []
    for _ in range(count):
        title = sentence(rng.randint(6, 12)).strip()
        text = ""
        while len(text) < 2000:
            text += sentence(rng.randint(8, 25))
        articles.append((title, text.strip()))
    return articles


class RuleMaker:
    """Draw rule parts the way people write them: less common words, phrases around them, prefixes."""

    def __init__(self, rng: random.Random, vocabulary: list[str], articles: Sequence[tuple[str, str]]) -> None:
        self.rng = rng
        self.topical = vocabulary[COMMON:]
        self.is_topical = set(map(fold, self.topical))
        self.sample = [re.findall(r"\w+", text) for _, text in articles[: min(len(articles), 200)]]

    def word(self) -> str:
        return self.rng.choice(self.topical)

    def phrase(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:  # a phrase that really occurs somewhere, around a topical word
            words = rng.choice(self.sample)
            places = [i for i in range(1, len(words) - 2) if fold(words[i]) in self.is_topical]
            start = rng.choice(places) - rng.randint(0, 1) if places else 0
            return '"' + " ".join(words[start : start + rng.randint(2, 3)]) + '"'
        return '"' + " ".join(self.word() for _ in range(rng.randint(2, 3))) + '"'

    def prefix(self) -> str:
        long_word = next(w for w in iter(self.word, None) if len(w) >= 7)
        return long_word[: len(long_word) - self.rng.randint(1, 2)] + "*"


def make_rules(rng: random.Random, maker: RuleMaker, count: int) -> dict[str, str]:
    """Return ``count`` rules: words, phrases, booleans, NEAR pairs, prefixes and title-only terms."""
    word, phrase = maker.word, maker.phrase
    makers: list[tuple[float, Callable[[], str]]] = [
        (0.30, word),
        (0.22, phrase),
        (0.10, lambda: f"{word()} {word()}"),
        (0.08, lambda: f"({word()} OR {word()}) {word()}"),
        (0.06, lambda: f"{word()} OR {word()} OR {phrase()}"),
        (0.05, lambda: f"{word()} -{word()}"),
        (0.10, lambda: f"{word()} NEAR/{rng.randint(1, 8)} {word()}"),
        (0.05, maker.prefix),
        (0.04, lambda: f"title:{word()}"),
    ]
    weights = [w for w, _ in makers]
    rules = {f"rule {i}": rng.choices(makers, weights=weights)[0][1]() for i in range(count - 10)}
    rules.update({f"not-only {i}": f"NOT {word()}" for i in range(10)})
    return rules


def rss_mb() -> float:
    """Return the resident memory of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def scale(
    rules: dict[str, str],
    articles: Sequence[tuple[str, str]],
    warm_up: Sequence[tuple[str, str]],
    baseline_articles: int,
    forms: bool = True,
) -> float:
    """Print the figures of one rule set, word forms on (the articles in LANGUAGE) or off; return its rate."""
    gc.collect()
    before = rss_mb()
    language = LANGUAGE if forms else None
    tables = None if forms else Forms.none()
    compile_seconds, matcher = timed(lambda: Matcher(rules, forms=tables))
    assert isinstance(matcher, Matcher)
    gc.collect()
    gc.freeze()  # as the daemon does once the rules are compiled (ruleset.Ruleset.build)
    memory = rss_mb() - before
    # Hits as matching finds them (what explains one is worked out for those that become alerts), then with
    # every hit explained (its terms and snippet), as if each became an alert; each pass after the same warm-up.
    warm(matcher.match, warm_up, language)
    match_seconds, names = timed(
        lambda: [[hit.rule for hit in matcher.match(title, text, language)] for title, text in articles]
    )
    warm(matcher.match, warm_up, language)
    explained_seconds, hits = timed(
        lambda: [[hit.settled() for hit in matcher.match(title, text, language)] for title, text in articles]
    )
    assert isinstance(hits, list) and all(hit.snippet for found in hits for hit in found)
    assert names == [[hit.rule for hit in found] for found in hits]
    rate = len(articles) / match_seconds
    sample = articles[:baseline_articles]
    # The reference evaluates every rule on the same words, the forms the matcher found in them included.
    documents = [matcher.document(title, text, language) for title, text in sample]
    base_seconds, base_hits = timed(lambda: [match_every_rule(matcher.rules, d) for d in documents])
    base_rate = len(sample) / base_seconds
    same = base_hits == hits[:baseline_articles]
    total_hits = sum(len(h) for h in hits)
    print(f"rules                      {len(rules):>10,}  word forms {'on' if forms else 'off'}")
    print(f"articles                   {len(articles):>10,}  (mean {mean_size(articles):,.0f} bytes)")
    print(f"  warm-up, not timed       {len(warm_up):>10,}  other articles of the same stream")
    print(f"compile time               {compile_seconds:>10.2f} s    (target < 10 s)")
    print(f"matcher memory             {memory:>10.0f} MB   (target < 500 MB; process RSS {rss_mb():.0f} MB)")
    print(f"throughput, indexed        {rate:>10,.0f} articles/s  (target >= 2,000)")
    print(f"  every hit explained      {len(articles) / explained_seconds:>10,.0f} articles/s  (terms and snippet)")
    print(f"  hits                     {total_hits:>10,}  ({total_hits / len(articles):.1f} per article)")
    print(f"baseline, every rule       {base_rate:>10,.1f} articles/s  (on {len(sample)} articles)")
    print(f"  ratio                    {rate / base_rate:>10,.0f} x   identical hits: {same}")
    return rate


def warm(match: Callable[..., object], articles: Sequence[tuple[str, ...]], *more: object) -> None:
    """Empty the matcher's caches of folded words, then match ``articles``: a running daemon has seen earlier
    articles, and its caches hold their words, not those of the articles about to be timed."""
    text_module._RUNS.clear()
    text_module.fold.cache_clear()
    text_module.fold_word.cache_clear()
    for title, text, *_ in articles:
        match(title, text, *more)


def mean_size(articles: Sequence[tuple[str, str]]) -> float:
    return sum(len((t + x).encode()) for t, x in articles) / len(articles)


def phrase_pattern(words: list[str], module: object) -> object:
    body = r"\W+".join(re.escape(w) for w in words)
    return module.compile(rf"\b{body}\b")  # type: ignore[attr-defined]


def regex_loop(rules: dict[str, list[str]], articles: Sequence[tuple[str, str]], module: object) -> tuple[float, set]:
    """Return the time and hits of the classic approach: one regular expression per rule, tried in turn."""
    patterns = [(name, phrase_pattern(words, module)) for name, words in rules.items()]
    started = time.perf_counter()
    hits = set()
    for number, (title, text) in enumerate(articles):
        folded_title, folded_text = fold(title), fold(text)
        for name, pattern in patterns:
            if pattern.search(folded_title) or pattern.search(folded_text):  # type: ignore[attr-defined]
                hits.add((number, name))
    return time.perf_counter() - started, hits


def phrases(
    maker: RuleMaker, articles: Sequence[tuple[str, str]], warm_up: Sequence[tuple[str, str]], count: int
) -> None:
    rules: dict[str, list[str]] = {}
    while len(rules) < count:
        rules[f"phrase {len(rules)}"] = [fold(w) for w in re.findall(r"\w+", maker.phrase())]
    started = time.perf_counter()
    matcher = Matcher({name: '"' + " ".join(words) + '"' for name, words in rules.items()})
    compiled = time.perf_counter()
    hits = {(n, h.rule) for n, (title, text) in enumerate(articles) for h in matcher.match(title, text, LANGUAGE)}
    seconds = time.perf_counter() - started  # compiling included: the loops below compile their patterns too
    re_seconds, re_hits = regex_loop(rules, articles, re)
    regex_seconds, regex_hits = regex_loop(rules, articles, regex)
    print(f"phrase rules               {count:>10,}  word forms on, compiling included ({compiled - started:.2f} s)")
    print(f"matcher                    {len(articles) / seconds:>10,.0f} articles/s   hits {len(hits):,}")
    print(
        f"per-rule loop, re          {len(articles) / re_seconds:>10,.1f} articles/s   "
        f"ratio {re_seconds / seconds:,.0f} x (target >= 100)   identical hits: {hits == re_hits}"
    )
    print(
        f"per-rule loop, regex       {len(articles) / regex_seconds:>10,.1f} articles/s   "
        f"ratio {regex_seconds / seconds:,.0f} x   identical hits: {hits == regex_hits}"
    )


def side_by_side(
    ours: Callable[[str, str], list[Hit]],
    theirs: Callable[[str, str], list[int]],
    articles: Sequence[tuple[str, str, str]],
    chunk: int = 50,
) -> tuple[float, list[list[str]], float, list[list[int]]]:
    """Return the time and hits of each system on the articles, timed in turns of ``chunk`` articles so that both
    run under the same load; the compiled rules are frozen out of the garbage collector first, as the daemon does.

    The matcher's hits are kept as rule names, the hit set the others return as rule positions (what explains a hit
    is worked out only for those that become alerts).
    """
    gc.collect()
    gc.freeze()
    ours_seconds = their_seconds = 0.0
    our_hits: list[list[str]] = []
    their_hits: list[list[int]] = []
    try:
        for start in range(0, len(articles), chunk):
            part = articles[start : start + chunk]
            began = time.perf_counter()
            our_hits += [[hit.rule for hit in ours(title, text)] for title, text, _ in part]
            middle = time.perf_counter()
            their_hits += [theirs(title, text) for title, text, _ in part]
            their_seconds += time.perf_counter() - middle
            ours_seconds += middle - began
    finally:
        gc.unfreeze()
    return ours_seconds, our_hits, their_seconds, their_hits


def compare(rules: int, count: int, seed: int) -> bool:
    """Print the matcher side by side with perq and the Aho-Corasick baseline; return whether every hit set and
    every ratio met its target."""
    from matchbaselines import AhoCorasick, Perq, spaced
    from matchcorpus import Corpus, make_corpus, query

    warming = min(1_000, count)
    others = {"perq": ("perq", Perq), "plain": ("Aho-Corasick", AhoCorasick)}
    print(f"side by side: {count:,} articles in five languages, word forms off (the others have none), one core")
    print(f"  each system from raw text to hits, after a warm-up on {warming:,} other articles of the same stream")
    print(f"{'corpus':<7} {'rules':<6} {'system':<13} {'rules':>8} {'build':>7} {'articles/s':>11} {'hits/art.':>10}")
    met = True
    growth: list[str] = []
    for name in ("heavy", "light"):
        corpus: Corpus = make_corpus(name, count + warming, rules, seed, fold, lambda text: spaced(text).split())
        timed_articles, warm_up = corpus.articles[warming:], corpus.articles[:warming]
        for family, (label, system) in others.items():
            trees = list(corpus.rules[family].values())
            costs: dict[str, list[float]] = {"monitor": [], label: []}
            for size in sorted({min(1_000, len(trees)), len(trees)}):
                subset = trees[:size]
                named = {f"{i}": query(tree) for i, tree in enumerate(subset)}
                build_ours, ours = timed(lambda named=named: Matcher(named, forms=Forms.none()))
                build_theirs, theirs = timed(lambda subset=subset, system=system: system(subset))
                assert isinstance(ours, Matcher)
                warm(theirs.match, warm_up)  # type: ignore[attr-defined]
                warm(ours.match, warm_up)  # last: the caches it empties are the matcher's
                ours_seconds, our_hits, their_seconds, their_hits = side_by_side(
                    ours.match,
                    theirs.match,  # type: ignore[attr-defined]
                    timed_articles,
                )
                ours_found = [sorted(map(int, names)) for names in our_hits]
                same = ours_found == their_hits
                mean = sum(map(len, their_hits)) / len(timed_articles)
                ratio = their_seconds / ours_seconds
                costs["monitor"].append(ours_seconds)
                costs[label].append(their_seconds)
                rate = len(timed_articles) / ours_seconds
                print(
                    f"{name:<7} {family:<6} {'monitor':<13} {size:>8,} {build_ours:>6.1f}s {rate:>11,.0f} "
                    f"{sum(map(len, ours_found)) / len(timed_articles):>10.1f}"
                )
                print(
                    f"{'':<7} {'':<6} {label:<13} {size:>8,} {build_theirs:>6.1f}s "
                    f"{len(timed_articles) / their_seconds:>11,.0f} {mean:>10.1f}   "
                    f"monitor/{label} {ratio:.2f} x (target >= 1)   identical hits: {'yes' if same else 'NO'}"
                )
                # The ratio's target is at full size; the hits must be the same at every size.
                met = met and same and (ratio >= 1 or size < len(trees))
            if len(costs["monitor"]) == 2:
                growth.append(
                    f"{name} {family}: "
                    + ", ".join(f"{system_name} {later / first:.1f} x" for system_name, (first, later) in costs.items())
                )
    if growth:
        print(f"cost per article from {min(1_000, rules):,} to {rules:,} rules:")
        for line in growth:
            print(f"  {line}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=1_000)
    parser.add_argument("--baseline-articles", type=int, default=10)
    parser.add_argument("--warm-up", type=int, default=2_000)
    parser.add_argument("--phrase-rules", type=int, default=2_000)
    parser.add_argument("--phrase-articles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part", choices=("all", "compare", "own"), default="all")
    args = parser.parse_args()
    stale = native.stale()
    how = "compiled with mypyc" if native.compiled() else "pure Python (the install did not compile it)"
    print(f"python {sys.version.split()[0]}, one process, one core; matcher {how}")
    if stale:
        print(f"WARNING: {', '.join(stale)} changed since the matcher was compiled: run `pip install -e .` again")
    print()
    if args.part in ("all", "compare"):
        met = compare(args.rules, args.articles, args.seed)
        print(f"side by side: {'every target met' if met else 'SOME TARGET MISSED'}")
        print()
    if args.part == "compare":
        return
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, VOCABULARY)
    articles = make_articles(rng, vocabulary, args.articles)
    warm_up = make_articles(rng, vocabulary, args.warm_up)
    maker = RuleMaker(rng, vocabulary, articles)
    rules = make_rules(rng, maker, args.rules)
    on = scale(rules, articles, warm_up, args.baseline_articles)
    print()
    off = scale(rules, articles, warm_up, args.baseline_articles, forms=False)
    print(
        f"word forms cost            {1 - on / off:>10.0%}   of the throughput"
        f" ({on:,.0f} against {off:,.0f} articles/s)"
    )
    print()
    print("the same articles, 100,000 rules that are each an AND of 2 to 4 words (a percolator's usual benchmark):")
    and_rules = {f"and {i}": " ".join(maker.word() for _ in range(rng.randint(2, 4))) for i in range(args.rules)}
    scale(and_rules, articles, warm_up, args.baseline_articles)
    print()
    phrases(maker, articles[: args.phrase_articles], warm_up, args.phrase_rules)


if __name__ == "__main__":
    main()
