"""Benchmark one ingestion cycle: 500 feeds from a slow loopback server, 1,000 rules, against a sequential loop.

Run: ``python bench/ingest.py`` (options: ``--feeds``, ``--items``, ``--rules``, ``--delay``, ``--seed``,
``--bigger``, ``--no-loop``, ``--full-text`` with ``--new`` and ``--wait``).

A threaded HTTP server on 127.0.0.1 serves ``--feeds`` synthetic feeds (half RSS 2.0 with ``content:encoded``,
half Atom with HTML content; ``--items`` entries of about 2 KB of HTML each, ~100 KB a feed), every answer
delayed by ``--delay`` seconds like a remote site. Each feed has its own host name (``feedN.bench.test``), which
the cycle's resolver hook maps to 127.0.0.1, so the per-host limit applies as it would to real sites.

It prints:
1. the cycle: ``monitor run --once`` in a subprocess on a temporary settings file (the feeds, ``--rules`` word,
   AND and phrase rules, SQLite), its wall time, feeds/s, articles/s and peak memory of its process tree, both
   as the sum of each process's RSS (which counts the pages that processes share once per process) and as the
   sum of their PSS (each shared page split between the processes mapping it: what the tree holds), sampled
   at the same instants (``bench/cycle.py``);
2. the sequential loop in this process: httpx GET, ``feedparser.parse``, SQLModel insert, one feed after another;
3. feedparser alone on the same bytes (one core, sanitizing and URI resolution off, as the pipeline parses);
4. the ratios: the loop's time over the cycle's (the target is at least 8), and the cycle's over feedparser's;
5. newsboat, when it is installed (``apt-get install newsboat``), on the same feeds: ``newsboat -x reload`` with a
   temporary urls file, config (``reload-threads 20``, the cycle's 20 connections) and cache file, its wall time,
   CPU time and peak memory (sampled, as the cycle's), and the cycle's as multiples of them (the target: no slower).
   Its URLs are ``http://127.0.0.1:PORT/feedN.xml``: one host for all, which costs newsboat nothing since it has
   no per-host limit, while the cycle, limited to 2 connections a host, reaches each feed by its own host name;
   both then fetch 20 feeds at a time;
6. the peak memory of the cycle's whole process tree (PSS) against 150 MB; with ``--bigger N``, one more cycle
   alone on ``N`` feeds (the first ones the same), its peak memory and its ratio to the first (PSS; the target:
   at most 1.2).

With ``--full-text``, every item links to an article page on its feed's host (a news page of about 42 KB:
menu, scripts, the article, related links, comments, footer; answered after ``--delay`` too), and two cycles
are run without ``[ingest] full_text``, then the same two with it (each pair on a fresh database): the first
poll of every feed (its backlog stored, its recent items matched, their pages fetched), then the next poll, in
which each feed carries ``--new`` items more. For each it prints the wall time, the CPU time of the cycle's
process and its workers, their peak memory together and the pages fetched (by outcome), then the ratios of
the cycle with full text to the one without. ``--wait`` sets ``[ingest] full_text_wait``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle import HOST_SUFFIX, Cost, timed_command, timed_cycle  # bench/cycle.py, beside this file
from fulltext_cycles import full_text_cycles, make_page

SYLLABLES = "ba be bi bo bu ca ce co da de di do fa fe ga go ka ke la le li lo ma me mi mo na ne ni no pa pe "
SYLLABLES += "ra re ri ro sa se si so ta te ti to va ve vi za ze"


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Return ``size`` distinct made-up words, shortest (most frequent) first."""
    syllables = SYLLABLES.split()
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 5))))
    return sorted(words, key=lambda w: len(w) + rng.uniform(-2, 2))


class Corpus:
    """Zipf-distributed sentences and HTML paragraphs over one vocabulary."""

    def __init__(self, rng: random.Random, vocabulary: list[str]) -> None:
        self.rng = rng
        self.vocabulary = vocabulary
        total, self.cumulative = 0.0, []
        for rank in range(1, len(vocabulary) + 1):
            total += 1 / rank**1.07
            self.cumulative.append(total)

    def words(self, count: int) -> list[str]:
        """Return ``count`` words drawn with a Zipf law."""
        return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=count)

    def paragraph(self) -> str:
        """Return one HTML paragraph of about 400 bytes with links, emphasis and entities."""
        words = self.words(55)
        words[0] = words[0].capitalize()
        at = self.rng.randrange(5, 40)
        words[at] = f'<a href="/story/{words[at]}?utm_source=rss">{words[at]}</a>'
        words[at + 5] = f"<b>{words[at + 5]}</b> &amp;"
        return "<p>" + " ".join(words) + ".</p>"


def make_feed(
    corpus: Corpus,
    paragraphs: list[str],
    number: int,
    items: int,
    now: datetime,
    pages: int | None = None,
    serial: int = 0,
) -> bytes:
    """Return feed ``number`` as RSS 2.0 (even numbers) or Atom (odd), ``items`` entries of HTML content, newest
    first; with ``pages`` (the server's port), each entry links to its article page there, the newest to page
    ``serial``, the next to ``serial + 1``, and so on (a feed made again with a smaller ``serial`` has new items)."""
    rng = corpus.rng
    entries = []
    for position in range(items):
        index = serial + position
        title = " ".join(corpus.words(9)).capitalize()
        body = "".join(rng.sample(paragraphs, 4))
        link = f"https://feed{number}.example.org/{index}/{title.split()[0]}"
        if pages is not None:
            link = f"http://feed{number}{HOST_SUFFIX}:{pages}/page/{number}/{index}"
        when = now - timedelta(minutes=37 * position + number)
        if number % 2 == 0:
            entries.append(
                f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{format_datetime(when)}</pubDate><description>{escape(body[:300])}</description>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
            )
        else:
            entries.append(
                f'<entry><title>{escape(title)}</title><link href="{link}"/><id>{link}</id>'
                f"<updated>{when.isoformat()}</updated><summary>{escape(body[:300])}</summary>"
                f'<content type="html">{escape(body)}</content></entry>'
            )
    if number % 2 == 0:
        head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        head += 'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        head += f"<title>Feed {number}</title><link>https://feed{number}.example.org/</link><language>en</language>"
        return (head + "".join(entries) + "</channel></rss>").encode()
    head = '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
    head += f"<title>Feed {number}</title><id>https://feed{number}.example.org/</id>"
    head += f"<updated>{now.isoformat()}</updated>"
    return (head + "".join(entries) + "</feed>").encode()


def make_rules(rng: random.Random, corpus: Corpus, paragraphs: list[str], count: int) -> list[str]:
    """Return ``count`` rule queries: rare words, AND pairs and a few phrases taken from the paragraphs."""
    rare = corpus.vocabulary[len(corpus.vocabulary) * 2 // 3 :]
    rules = []
    for index in range(count):
        kind = index % 50
        if kind < 30:
            rules.append(rng.choice(rare))
        elif kind < 49:
            rules.append(f"{rng.choice(rare)} {rng.choice(corpus.vocabulary[2000:10000])}")
        else:
            words = [w for w in rng.choice(paragraphs)[3:-5].split() if w.isalpha()]
            start = rng.randrange(0, max(len(words) - 3, 1))
            rules.append('"' + " ".join(words[start : start + 3]) + '"')
    return rules


def serve(
    bodies: list[bytes], delay: float, page: Callable[[str], bytes] | None = None
) -> tuple[ThreadingHTTPServer, int]:
    """Start the feed server on 127.0.0.1 (path ``/feedN.xml``, each answer after ``delay``); return it, port.

    With ``page``, it serves ``/page/N/I`` too (and no robots.txt)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(delay)
            path = self.path.split("?")[0]
            if path.startswith("/page/") and page is not None:
                self.answer(page(path.removeprefix("/page/")), "text/html")
                return
            if not path.startswith("/feed"):
                self.answer(b"not found", "text/plain", 404)
                return
            number = int(path.removeprefix("/feed").removesuffix(".xml"))
            body = bodies[number]
            self.send_response(200)
            kind = "application/rss+xml" if number % 2 == 0 else "application/atom+xml"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def answer(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that hangs up: a page still being read when its wait ended

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def write_settings(
    folder: Path, port: int, feeds: int, rules: list[str], full_text: bool = False, wait: str | None = None
) -> Path:
    """Write the cycle's settings file: SQLite, no seeds, the feeds by host name, the rules; return its path."""
    lines = ['[database]\nurl = "sqlite:///cycle.db"\n', "[seeds]\nenabled = false\n", '[logging]\nlevel = "ERROR"\n']
    lines.append(f"[ingest]\nfull_text = {'true' if full_text else 'false'}\n")
    if wait is not None:
        lines.append(f'full_text_wait = "{wait}"\n')
    for n in range(feeds):
        lines.append(f'[[feeds]]\nname = "feed{n}"\nurl = "http://feed{n}{HOST_SUFFIX}:{port}/feed{n}.xml"\n')
    for n, query in enumerate(rules):
        lines.append(f"[[rules]]\nname = \"rule{n}\"\nquery = '{query}'\n")
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def sequential(port: int, feeds: int, database: Path) -> tuple[float, int]:
    """Fetch, parse and store every feed one after another; return the wall time and the articles stored."""
    import feedparser
    import httpx
    from sqlmodel import Session, SQLModel, create_engine

    from monitor.store.models import Article

    engine = create_engine(f"sqlite:///{database}")
    SQLModel.metadata.create_all(engine)
    stored = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for n in range(feeds):
            response = client.get(f"http://127.0.0.1:{port}/feed{n}.xml")
            parsed = feedparser.parse(response.content)
            now = datetime.now(UTC)
            rows = [
                Article(
                    content_key=entry.get("id") or entry.get("link"),
                    source=f"feed{n}",
                    title=entry.get("title", ""),
                    url=entry.get("link"),
                    text=(entry.get("content") or [{}])[0].get("value", entry.get("summary", "")),
                    fetched_at=now,
                )
                for entry in parsed.entries
            ]
            with Session(engine) as session:
                session.add_all(rows)
                session.commit()
            stored += len(rows)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, stored


def newsboat(port: int, feeds: int, folder: Path) -> tuple[Cost, int] | None:
    """Reload every feed once with newsboat, 20 at a time; return what it cost and the items it stored, or None
    when newsboat is not installed."""
    binary = shutil.which("newsboat")
    if binary is None:
        return None
    home = folder / "newsboat"
    home.mkdir()
    urls, config, cache = home / "urls", home / "config", home / "cache.db"
    # One host for all: newsboat has no per-host limit, so 20 feeds are fetched at a time, as by the cycle.
    urls.write_text("".join(f"http://127.0.0.1:{port}/feed{n}.xml\n" for n in range(feeds)), encoding="utf-8")
    config.write_text("reload-threads 20\ndownload-timeout 60\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home)}
    command = [binary, "-q", "-u", str(urls), "-c", str(cache), "-C", str(config), "-x", "reload"]
    cost, code, errors = timed_command(command, env)
    if code != 0:
        sys.exit(f"newsboat failed ({code}):\n{errors[-3000:]}")
    with sqlite3.connect(cache) as db:
        items = db.execute("SELECT count(*) FROM rss_item").fetchone()[0]
    return cost, items


def feedparser_alone(bodies: list[bytes]) -> float:
    """Return the time feedparser takes to parse every body, on one core, as the pipeline configures it."""
    import feedparser

    started = time.perf_counter()
    for body in bodies:
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return time.perf_counter() - started


def compare_loop(port: int, feeds: int, folder: Path, bodies: list[bytes], cycle_time: float) -> None:
    """Run the sequential loop and feedparser alone on the same feeds; print their times and the cycle's ratios."""
    loop_time, loop_articles = sequential(port, feeds, folder / "sequential.db")
    print(
        f"sequential loop (httpx, feedparser, SQLModel): {loop_time:6.2f} s  "
        f"{feeds / loop_time:7.1f} feeds/s  "
        f"{loop_articles / loop_time:8.0f} articles/s"
    )
    parse_time = feedparser_alone(bodies)
    print(f"feedparser alone on the same bytes (one core): {parse_time:6.2f} s")
    print(f"cycle vs sequential loop: {loop_time / cycle_time:5.1f}x faster (target: at least 8x)")
    print(f"cycle vs feedparser alone: {cycle_time / parse_time:5.2f}x the parsing time (floor: 1x, aim: 2x)")


def report_cycle(label: str, folder: Path, feeds: int, cost: Cost) -> None:
    """Print what a cycle stored and cost."""
    with sqlite3.connect(folder / "cycle.db") as db:
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        failed = db.execute("SELECT count(*) FROM feeds WHERE status != 'ok'").fetchone()[0]
    print(
        f"{label}: {cost.wall:6.2f} s  {feeds / cost.wall:7.1f} feeds/s  "
        f"{articles / cost.wall:8.0f} articles/s  {articles} articles, {alerts} alerts, {failed} feeds failed"
    )
    print(
        f"   peak memory of the tree: {cost.pss_mb:.0f} MB held (PSS summed), {cost.peak_mb:.0f} MB as RSS summed "
        f"(shared pages counted once per process); main process alone {cost.own_mb:.0f} MB RSS; CPU {cost.cpu:.1f} s"
    )


def main() -> None:
    """Build the corpus and the server, run the cycle, the sequential loop and feedparser alone; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bigger", type=int, help="then run the cycle alone on this many feeds: memory flatness")
    parser.add_argument("--no-loop", action="store_true", help="skip the sequential loop and feedparser alone")
    parser.add_argument("--full-text", action="store_true", help="serve article pages and compare with full text")
    parser.add_argument("--new", type=int, default=3, help="with --full-text: new items a feed at the next poll")
    parser.add_argument("--wait", help="with --full-text: [ingest] full_text_wait (default: the settings' 30s)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    corpus = Corpus(rng, make_vocabulary(rng, 30_000))
    paragraphs = [corpus.paragraph() for _ in range(4000)]
    now = datetime.now(UTC).replace(microsecond=0)
    bodies: list[bytes] = []
    page = (lambda key: make_page(corpus, paragraphs, key)) if args.full_text else None
    server, port = serve(bodies, args.delay, page)
    links = port if args.full_text else None
    # The next poll's feeds: ``--new`` items on top, the oldest as many gone (made first: one corpus state).
    polls = [
        [make_feed(corpus, paragraphs, n, args.items, now, links, serial) for n in range(args.feeds)]
        for serial in ((args.new, 0) if args.full_text else (0,))
    ]
    bodies.extend(polls[0])
    rules = make_rules(rng, corpus, paragraphs, args.rules)
    # The bigger cycle's feeds come after (made last, so that the first ones are those of a run without it).
    more = range(args.feeds, max(args.feeds, args.bigger or 0))
    served = [*bodies, *(make_feed(corpus, paragraphs, n, args.items, now) for n in more)]
    size = sum(map(len, bodies))
    print(f"corpus: {args.feeds} feeds x {args.items} items, {size / args.feeds / 1024:.0f} KB a feed on average,")
    print(f"        {args.rules} rules, every answer delayed {args.delay * 1000:.0f} ms")
    if args.full_text:
        print(f"        article pages of {len(make_page(corpus, paragraphs, '0/0')) / 1024:.0f} KB each")

    folder = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    try:
        if args.full_text:

            def serve_poll(poll: int) -> None:
                bodies[:] = polls[poll]

            def settings(full_text: bool) -> Path:
                return write_settings(folder, port, args.feeds, rules, full_text, args.wait)

            full_text_cycles(args.feeds, args.new, folder, settings, serve_poll)
            return
        cost = timed_cycle(write_settings(folder, port, args.feeds, rules))
        report_cycle("cycle (monitor run --once)", folder, args.feeds, cost)
        cycle_time, peak_mb = cost.wall, cost.pss_mb
        if not args.no_loop:
            compare_loop(port, args.feeds, folder, bodies, cycle_time)
        beside = newsboat(port, args.feeds, folder)
        if beside is None:
            print("newsboat: not installed (apt-get install newsboat), not compared")
        else:
            other, items = beside
            print(
                f"newsboat -x reload (reload-threads 20, no matching): {other.wall:6.2f} s  "
                f"{args.feeds / other.wall:7.1f} feeds/s  {items} items; CPU {other.cpu:.1f} s, "
                f"peak memory {other.pss_mb:.0f} MB PSS, {other.peak_mb:.0f} MB RSS"
            )
            print(
                f"cycle / newsboat: wall {cycle_time / other.wall:4.2f}x (target: at most 1), "
                f"CPU {cost.cpu / other.cpu:4.2f}x, memory {peak_mb / other.pss_mb:4.2f}x PSS, "
                f"{cost.peak_mb / other.peak_mb:4.2f}x RSS"
            )
        print(
            f"peak memory of the whole tree under 150 MB: {'yes' if peak_mb < 150 else 'NO'} ({peak_mb:.0f} MB "
            f"held, PSS summed; {cost.peak_mb:.0f} MB as RSS summed)"
        )
        if args.bigger:
            bodies[:] = served
            bigger = Path(tempfile.mkdtemp(prefix="monitor-bench-", dir=folder))
            big = timed_cycle(write_settings(bigger, port, args.bigger, rules))
            report_cycle(f"cycle on {args.bigger} feeds", bigger, args.bigger, big)
            growth = big.pss_mb / peak_mb
            print(
                f"memory from {args.feeds} to {args.bigger} feeds: {growth:4.2f}x PSS, "
                f"{big.peak_mb / cost.peak_mb:4.2f}x RSS (target: within 20 %, at most 1.2x): "
                f"{'yes' if growth <= 1.2 else 'NO'}"
            )
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
