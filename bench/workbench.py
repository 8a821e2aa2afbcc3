"""Benchmark the rule workbench's word index on a real SQLite file of 100,000 articles fetched over 7 days.

Run: ``python bench/workbench.py`` (options: ``--articles``, ``--days``, ``--keep DIR``). It fills a SQLite file
as ``bench/web.py`` does (feed items of made-up words drawn with a Zipf law, about one in five in Cyrillic, with
real words in some of their forms; one in ten with its page's main text; in English, French, Russian or an
unknown language), all of them within the workbench's default window of 7 days. Then it builds the word index
(``monitor/web/articleindex.py``) as the web process does on first use and prints the time it took and the
memory it holds (the growth of the process's resident memory, and what its arrays and words take).

For several queries (a rare word, a common word, phrases, a prefix, words in the title and in the text, an
``any``/``exclude`` rule, a Cyrillic word found in its other forms, ``NEAR``, a rule of ``NOT`` only), it times
the workbench with the index and with the full replay of every article (``all=1``), in the same run, checks that
both give the same count and the same listed matches, and prints the ratio against the 2 s target.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from web import Words, filled

from monitor.matching import native
from monitor.store.storage import Storage
from monitor.web.articleindex import ArticleIndex
from monitor.web.workbench import Form, Outcome, Workbench

TARGET = 2.0


def resident() -> int:
    """Return the process's resident anonymous memory (not counting the word-form tables, mapped from files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def queries(vocabulary: list[str]) -> list[tuple[str, Form]]:
    """Return the queries timed, words of the made-up vocabulary picked by how common they are."""
    return [
        ("a rare word", Form(query=vocabulary[20_000])),
        ("a common word", Form(query=vocabulary[30])),
        ("a phrase of rarer words", Form(query=f'"{vocabulary[1500]} {vocabulary[1501]}"')),
        ("a phrase of common words", Form(query='"NATO summit"')),
        ("the two commonest words", Form(query=f'"{vocabulary[0]} {vocabulary[1]}"')),
        ("a prefix", Form(query="kher*")),
        ("a word in the title", Form(query="title:Kherson")),
        ("a word in the text", Form(query="text:Kherson")),
        ("any of four, one exclude", Form(any=("Donbass", "Donbas", "Донбасс", "Донбас"), exclude=("football",))),
        ("Cyrillic, with its forms", Form(query="Донбасс")),
        ("AND, OR, NEAR", Form(query="(Vilnius OR Brussels) AND NATO NEAR/3 summit")),
        ("NEAR, forms, a prefix", Form(query=f"Донбасс NEAR/10 {vocabulary[0][:3]}*")),
        ("NOT only", Form(query=f"NOT {vocabulary[2]}")),
    ]


def timed(bench: Workbench, form: Form, now: datetime) -> tuple[Outcome, float]:
    started = time.perf_counter()
    outcome = bench.run(form, now)
    return outcome, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7, help="the articles are fetched over this many last days")
    parser.add_argument("--keep", type=Path, help="fill the database in this folder and keep it")
    args = parser.parse_args()
    args.alerts, args.feeds, args.rules = 0, 200, 1
    database, now, _, storage, took = filled(args, "monitor-workbench-bench-")
    size = database.stat().st_size / 1e6
    print(f"filled {database} in {took:.1f} s: {args.articles:,} articles over the last")
    print(f"  {args.days} days ({size:.0f} MB); matcher: {native.describe()}")
    try:
        gc.collect()
        before = resident()
        index = ArticleIndex(storage)
        started = time.perf_counter()
        index.ready(now)
        index.wait()
        building = time.perf_counter() - started
        gc.collect()
        held = resident() - before
        built = index.ready(now)
        assert built is not None
        words = built.index
        arrays = words.footprint()
        ordered = words.sequences.footprint()
        print(
            f"\nword index: {len(words):,} articles, {words.words:,} words and keys, built in {building:.1f} s;"
            f" it holds {held / 1e6:.0f} MB (growth of resident anonymous memory; its arrays, words and postings:"
            f" {arrays / 1e6:.0f} MB, of which the articles' {len(words.sequences.tokens):,} words in order:"
            f" {ordered / 1e6:.0f} MB)"
        )
        report(storage, index, now)
    finally:
        storage.close()


def report(storage: Storage, index: ArticleIndex, now: datetime) -> None:
    indexed = Workbench(storage.articles_since, index)
    replayed = Workbench(storage.articles_since)
    print(f"\nworkbench over the last 7 days (target: under {TARGET:.0f} s): with the index, then replaying all")
    print("  (as you type, a search stops at 1.5 s; all=1 reads every article it needs)")
    print(f"  {'query':<26} {'matched':>15}  {'index':>7} {'all=1':>7}  {'replay all=1':>12}  {'ratio':>6}")
    for label, form in queries(Words(random.Random(7)).vocabulary):
        typing, typing_time = timed(indexed, form, now)
        every = Form(query=form.query, any=form.any, exclude=form.exclude, every=True)
        fast, fast_time = (
            timed(indexed, every, now) if not typing.report or not typing.report.complete else (typing, typing_time)
        )
        slow, slow_time = timed(replayed, every, now)
        assert fast.indexed and fast.report is not None and slow.report is not None and typing.report is not None
        a, b = fast.report, slow.report
        if (a.scanned, a.matched, a.matches) != (b.scanned, b.matched, b.matches):
            raise SystemExit(
                f"{label}: the index found {a.matched} of {a.scanned}, the replay {b.matched} of {b.scanned}"
            )
        verdict = "ok" if typing.report.complete and typing_time < TARGET else "OVER"
        covered = "" if typing.report.complete else f" (stopped: newest {typing.report.scanned:,} covered)"
        print(
            f"  {label:<26} {a.matched:>6} of {a.scanned:>6}  {typing_time:6.2f}s {fast_time:6.2f}s  {slow_time:11.2f}s"
            f"  {slow_time / fast_time:5.1f}x  {verdict}{covered}"
        )
    print("  identical counts and listed matches with and without the index for every query")


if __name__ == "__main__":
    main()
