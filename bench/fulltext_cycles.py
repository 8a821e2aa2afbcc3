"""The full-text part of ``bench/ingest.py --full-text``: article pages, and the cycles with and without them.

``make_page`` is the article page the server answers for each item (``/page/N/I``); ``full_text_cycles`` runs
the first and the next poll of every feed without ``[ingest] full_text``, then with it, and prints what each
cost and the ratios.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cycle import Cost, timed_cycle  # bench/cycle.py, beside this file


class Corpus(Protocol):
    """The made-up words the pages are written in (``ingest.Corpus``)."""

    vocabulary: list[str]


def make_page(corpus: Corpus, paragraphs: list[str], key: str) -> bytes:
    """Return the article page ``key`` (``N/I``): about 42 KB of menu, scripts, article, asides, comments, footer."""
    rng = random.Random(key)
    menu = "".join(
        f'<li><a href="/section/{n}">{" ".join(rng.sample(corpus.vocabulary[:500], 2))}</a></li>' for n in range(150)
    )
    script = (
        "<script>window.state = [" + ",".join(f'{{"id": {n}, "v": "{n * 7}"}}' for n in range(1200)) + "];</script>"
    )
    article = "".join(rng.sample(paragraphs, 8))
    related = "".join(f'<li><a href="/r/{n}">{" ".join(rng.sample(corpus.vocabulary, 8))}</a></li>' for n in range(12))
    comments = "".join(
        f'<div class="comment"><p>{" ".join(rng.sample(corpus.vocabulary, 30))}</p></div>' for _ in range(8)
    )
    return (
        f"<!DOCTYPE html><html><head><title>Article {key}</title>{script}</head><body>"
        f'<header><nav><ul class="menu">{menu}</ul></nav></header><main><article><h1>Article {key}</h1>{article}'
        f'</article><aside><h2>Related</h2><ul>{related}</ul></aside><section class="comments">{comments}</section>'
        "</main><footer><p>Bench Gazette. All rights reserved. Terms. Privacy. Cookies.</p></footer></body></html>"
    ).encode()


def full_text_cycles(
    feeds: int, new: int, folder: Path, settings: Callable[[bool], Path], serve_poll: Callable[[int], None]
) -> None:
    """Run the first and the next poll of every feed without full text, then with it, each pair on a fresh
    database (``serve_poll(n)`` makes the server answer poll ``n``); print their costs and the ratios."""
    database = folder / "cycle.db"
    runs: dict[bool, list[tuple[Cost, tuple[int, int, dict[str, int]]]]] = {}
    for full_text in (False, True):
        for file in folder.glob(f"{database.name}*"):  # with its -wal and -shm files
            file.unlink()
        runs[full_text] = []
        for poll in (0, 1):
            serve_poll(poll)
            before = _stored(database)
            cost = timed_cycle(settings(full_text))
            after = _stored(database)
            pages = {kind: count - before[2].get(kind, 0) for kind, count in after[2].items()}
            runs[full_text].append((cost, (after[0] - before[0], after[1] - before[1], pages)))
    for poll, label in enumerate((f"first poll of {feeds} feeds", f"next poll, {new} new items a feed")):
        print(f"{label}:")
        for full_text in (False, True):
            cost, (articles, alerts, pages) = runs[full_text][poll]
            asked = {kind: count for kind, count in pages.items() if count}
            fetched = f"{sum(asked.values())} pages asked for, {asked.get('ok', 0)} read {asked}" if full_text else ""
            print(
                f"   {'with' if full_text else 'without'} full text: {cost.wall:6.1f} s wall, {cost.cpu:6.1f} s CPU, "
                f"peak {cost.peak_mb:4.0f} MB (main process {cost.own_mb:.0f} MB); {articles} articles, "
                f"{alerts} alerts{'; ' + fetched if fetched else ''}"
            )
        base, full = runs[False][poll][0], runs[True][poll][0]
        print(
            f"   with full text: {full.wall / base.wall:.2f}x the wall time ({full.wall - base.wall:+.1f} s), "
            f"{full.cpu / base.cpu:.2f}x the CPU ({full.cpu - base.cpu:+.1f} s), "
            f"{full.peak_mb - base.peak_mb:+.0f} MB at peak"
        )


def _stored(database: Path) -> tuple[int, int, dict[str, int]]:
    """Return how many articles and alerts a cycle database holds, and its pages by outcome."""
    if not database.exists():
        return 0, 0, {}
    db = sqlite3.connect(database)
    try:
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        pages = dict(db.execute("SELECT outcome, count(*) FROM pages GROUP BY outcome").fetchall())
    finally:
        db.close()
    return articles, alerts, pages
