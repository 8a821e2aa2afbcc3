"""Benchmark PostgreSQL against SQLite on the two database-bound steps: storing a cycle's articles, and delivering.

Run: ``python bench/postgres.py`` (options: ``--database-url`` of a PostgreSQL server, ``--feeds``, ``--items``,
``--threads``, ``--deliveries``, ``--rounds``). It makes a database of its own on that server for each
measurement and drops it; the SQLite database is a file in a temporary folder.

It prints, the same work done on each database in turn (rounds alternate between them, best kept):
1. storing: articles/s through the cycle's storing step (``Filing.store``, one call per feed of ``--items`` new
   articles: saved with their keys, filed in stories, ``RULES`` rules' alerts recorded with a delivery each to
   one webhook, and the feed's success), the articles analysed beforehand as the cycle's parse workers do, called
   from ``--threads`` threads at once as the cycle's feed poller calls it (one by default); and
   PostgreSQL's rate against SQLite's, the target being at least 0.8x;
2. delivering: deliveries/s to one fast generic webhook on 127.0.0.1, queued beforehand (``bench/instances.py``),
   the target being at least 300/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from instances import DEFAULT_URL, WORDS, FastHook, delivery_rate, fresh_database

from monitor.analysis import analyze
from monitor.ingest.article import ParsedArticle
from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store.storage import Storage, Tx

RULES = 40  # rules of five words each: about 0.6 alerts an article between them
STORE_TARGET = 0.8  # PostgreSQL's storing rate against SQLite's
DELIVERY_TARGET = 300.0  # deliveries/s on PostgreSQL


def feed_items(feed: int, items: int, rng: random.Random, wire: list[str]) -> list[ParsedArticle]:
    """Return one feed's new articles of about 120 words; one in ten is a copy of one of a few wire stories."""
    made = []
    for n in range(items):
        if n % 10 == 0:
            story = wire[(feed + n) % len(wire)]
            title, text = f"Wire: {story[:40]}", f"{story} copy {feed}-{n}"
        else:
            title, text = " ".join(rng.choices(WORDS, k=8)), " ".join(rng.choices(WORDS, k=120))
        made.append(ParsedArticle(f"feed{feed}:{n}", f"feed{feed}", title, text, url=f"https://f{feed}.test/{n}"))
    return made


def settings_text(url: str, hook: str) -> str:
    """Return settings with ``RULES`` rules on the articles' words and one webhook, which every rule alerts."""
    rng = random.Random(RULES)
    rules = "".join(f'[[rules]]\nname = "rule {n}"\nquery = "{" ".join(rng.sample(WORDS, 5))}"\n' for n in range(RULES))
    return (
        f'[database]\nurl = "{url}"\n[seeds]\nenabled = false\n'
        f'[webhooks.hook]\nurl = "{hook}"\nformat = "generic"\n{rules}'
    )


def store_rate(url: str, folder: Path, hook: str, feeds: int, items: int, threads: int) -> float:
    """Return the articles/s that the storing step of one pipeline on ``url`` stores, ``feeds`` calls of ``items``
    made from ``threads`` threads (as the cycle's feed poller calls it)."""
    config = folder / f"settings-{uuid.uuid4().hex[:8]}.toml"
    config.write_text(settings_text(url, hook), encoding="utf-8")
    settings = load_settings(config, {})
    pipeline = Pipeline(settings, Storage.open(url), httpx.Client(), lambda _alert: None)
    rng = random.Random(7)
    wire = [" ".join(rng.choices(WORDS, k=120)) for _ in range(20)]
    work = [feed_items(feed, items, rng, wire) for feed in range(feeds)]
    matcher = pipeline.active.matcher
    found = [analyze(matcher, batch, {a.content_key for a in batch}) for batch in work]
    now = datetime.now(UTC)

    def store(feed: int) -> None:
        def success(tx: Tx, name: str = f"feed{feed}") -> None:
            tx.record_feed_success(name, f"https://{name}.test/rss", None, None, 200, now, now + timedelta(hours=1))

        pipeline.filing.store(work[feed], success, analysis=found[feed])

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(store, range(feeds)))
    elapsed = time.perf_counter() - started
    stored = sum(map(len, work))
    pipeline.storage.close()
    pipeline.client.close()
    return stored / elapsed


def alternate(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run each measurement ``rounds`` times, taking turns, printing each rate; return the best of each."""
    rates: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        for label, run in runs.items():
            rates[label].append(run())
    for label, found in rates.items():
        print(f"  {label:<10}: " + ", ".join(f"{rate:,.0f}" for rate in found), flush=True)
    return {label: max(found) for label, found in rates.items()}


def verdict(met: bool) -> str:
    """Return "met" or "not met"."""
    return "met" if met else "not met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL server (a database is made on it)")
    parser.add_argument("--feeds", type=int, default=60, help="storing calls, one per feed")
    parser.add_argument("--items", type=int, default=50, help="new articles per feed")
    parser.add_argument("--threads", type=int, default=1, help="threads calling the storing step at once")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FastHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)

        def sqlite_url() -> str:
            return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"

        def on_postgres(measure: Callable[[str], float]) -> Callable[[], float]:
            def run() -> float:
                with fresh_database(args.database_url) as url:
                    return measure(url)

            return run

        def storing(url: str) -> float:
            return store_rate(url, folder, hook, args.feeds, args.items, args.threads)

        def delivering(url: str) -> float:
            return delivery_rate(url, args.deliveries, hook)

        total = args.feeds * args.items
        print(
            f"storing step: {args.feeds} feeds of {args.items} new articles, {RULES} rules, from {args.threads} "
            "thread(s) (articles/s)"
        )
        store = alternate(args.rounds, {"SQLite": lambda: storing(sqlite_url()), "PostgreSQL": on_postgres(storing)})
        print(f"delivering {args.deliveries:,} alerts to one fast webhook (deliveries/s)")
        deliver = alternate(
            args.rounds, {"SQLite": lambda: delivering(sqlite_url()), "PostgreSQL": on_postgres(delivering)}
        )
    server.shutdown()
    ratio = store["PostgreSQL"] / store["SQLite"]
    print(
        f"storing ({total:,} articles): PostgreSQL {store['PostgreSQL']:,.0f}/s, SQLite {store['SQLite']:,.0f}/s: "
        f"{ratio:.2f}x (target >= {STORE_TARGET}x: {verdict(ratio >= STORE_TARGET)})"
    )
    rate = deliver["PostgreSQL"]
    print(
        f"delivering: PostgreSQL {rate:,.0f}/s (target >= {DELIVERY_TARGET:.0f}/s: "
        f"{verdict(rate >= DELIVERY_TARGET)}), SQLite {deliver['SQLite']:,.0f}/s: {rate / deliver['SQLite']:.2f}x"
    )


if __name__ == "__main__":
    main()
