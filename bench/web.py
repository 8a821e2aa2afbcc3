"""Benchmark the web pages and the rule workbench on a real SQLite file of 100,000 articles and 20,000 alerts.

Run: ``python bench/web.py`` (options: ``--articles``, ``--alerts``, ``--feeds``, ``--rules``, ``--days``,
``--repeat``, ``--keep DIR``). It fills a SQLite file through the package's own schema (``Storage.open``) with
articles shaped like feed items: a title and a description of 200 to 900 characters of made-up words drawn with a
Zipf law (as ``bench/match.py`` makes them) with real words in some of their forms, one in ten with the main text
of its page (2 to 5 KB), fetched evenly over the last ``--days`` days (30 by default, so that the workbench's
default window of 7 days holds about 23,000 of them; ``--days 7`` puts all of them in it), one in five filed in a
story with other outlets, in English, French, Russian or an unknown language. Then alerts of ``--rules`` rules
over the last 14 days with one or two deliveries each (sent, pending or dead), the feeds' polling state and some
health alerts.

It serves the pages on 127.0.0.1 as the daemon does (``StatusServer`` with the pages), requests each one
``--repeat`` times and prints the median and worst time against the 200 ms target, with a static file as the
baseline of a round trip. Then the workbench over the default 7 days, once its word index is built, for several
queries, against the 2 s target, beside the time to only read those articles from the database and the ratio
(``bench/workbench.py`` compares it with replaying every article).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from match import make_vocabulary

from monitor.matching import native
from monitor.observe.metrics import Metrics
from monitor.observe.server import StatusServer
from monitor.settings.config import Settings, load_settings
from monitor.store.models import Alert, Article, Delivery, Feed, Story
from monitor.store.storage import Storage
from monitor.store.tx import table_of
from monitor.web.app import Site, pages

PAGE_TARGET = 0.2
WORKBENCH_TARGET = 2.0
CHUNK = 2000
NAMES = ["Donbass", "Vilnius", "NATO", "Kherson", "Brussels", "Sahel", "Taiwan", "Gaza", "Davos", "Arctic"]
# Real words in some of their forms, so that rules' words find their other forms (``Донбасс`` finds "Донбассе").
FORMS = ["Донбассе", "Донбасса", "summits", "sommets", "attacked", "securities", "sécurité", "Москве", "выборах"]
QUERIES = [
    ("a word", {"q": "Donbass"}),
    ("a phrase", {"q": '"NATO summit"'}),
    ("any of four, one exclude", {"any": "Donbass\nDonbas\nДонбасс\nДонбас", "exclude": "football"}),
    ("AND, OR, NEAR", {"q": "(Vilnius OR Brussels) AND NATO NEAR/3 summit"}),
    ("a prefix", {"q": "kher*"}),
]


class Words:
    """Made-up words drawn with a Zipf law (``bench/match.py``'s vocabulary), about one in five in Cyrillic."""

    def __init__(self, rng: random.Random, size: int = 60_000) -> None:
        self.rng = rng
        self.vocabulary = make_vocabulary(rng, size)
        self.cumulative = list(accumulate(1 / rank**1.07 for rank in range(1, size + 1)))

    def sentence(self, words: int) -> str:
        rng = self.rng
        out = rng.choices(self.vocabulary, cum_weights=self.cumulative, k=words)
        if rng.random() < 0.15:
            out.insert(rng.randrange(len(out)), rng.choice(NAMES))
        if rng.random() < 0.03:
            out[rng.randrange(len(out))] = "summit"
        if rng.random() < 0.05:
            out.insert(rng.randrange(len(out)), rng.choice(FORMS))
        return " ".join(out).capitalize() + "."

    def text(self, chars: int) -> str:
        pieces: list[str] = []
        size = 0
        while size < chars:
            piece = self.sentence(self.rng.randint(6, 18))
            pieces.append(piece)
            size += len(piece) + 1
        return " ".join(pieces)


def settings_file(folder: Path, database: Path, feeds: int, rules: int) -> Path:
    lines = [f'[database]\nurl = "sqlite:///{database}"\n', "[seeds]\nenabled = false\n"]
    lines += [f'[[feeds]]\nname = "feed-{n}"\nurl = "http://127.0.0.1:1/feed-{n}.xml"\n' for n in range(feeds)]
    for n in range(rules):
        name = NAMES[n % len(NAMES)]
        lines.append(f'[[rules]]\nname = "rule-{n}"\nquery = "{name} OR {name.lower()}{n}"\n')
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fill(storage: Storage, args: argparse.Namespace, now: datetime) -> None:
    rng = random.Random(7)
    words = Words(rng)
    articles, alerts, deliveries = table_of(Article), table_of(Alert), table_of(Delivery)
    story_ids: list[int] = []
    with storage.engine.begin() as connection:
        connection.execute(
            insert(table_of(Feed)),
            [
                {
                    "name": f"feed-{n}",
                    "url": f"http://127.0.0.1:1/feed-{n}.xml",
                    "status": "error" if n % 17 == 0 else "ok",
                    "last_error": "feed 'feed-{n}': HTTP 503 from 127.0.0.1" if n % 17 == 0 else None,
                    "error_kind": "http" if n % 17 == 0 else None,
                    "consecutive_failures": 3 if n % 17 == 0 else 0,
                    "created_at": now - timedelta(days=30),
                    "last_checked_at": now - timedelta(minutes=5),
                    "last_success_at": now - timedelta(minutes=5 if n % 17 else 600),
                    "next_poll_at": now + timedelta(minutes=10),
                }
                for n in range(args.feeds)
            ],
        )
        span = timedelta(days=args.days).total_seconds()
        for start in range(0, args.articles, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, args.articles)):
                language = rng.choice(["en", "en", "fr", "ru", None])
                fetched = now - timedelta(seconds=span * (1 - n / args.articles))
                full = words.text(rng.randint(2000, 5000)) if rng.random() < 0.1 else None
                rows.append(
                    {
                        "id": n + 1,
                        "content_key": f"bench:{n}",
                        "source": f"feed-{rng.randrange(args.feeds)}",
                        "title": words.sentence(rng.randint(5, 12))[:-1],
                        "url": f"https://news.example/{n}",
                        "text": words.text(rng.randint(200, 900)),
                        "full_text": full,
                        "language": language,
                        "published_at": fetched - timedelta(minutes=rng.randint(0, 120)),
                        "fetched_at": fetched,
                        "story_id": None,
                    }
                )
            for row in rows:
                if rng.random() < 0.2 and story_ids:
                    row["story_id"] = rng.choice(story_ids[-50:])
                elif rng.random() < 0.1:
                    story_ids.append(row["id"])
                    row["story_id"] = row["id"]
            new_stories = [
                {"id": r["id"], "first_article_id": r["id"], "created_at": now}
                for r in rows
                if r["story_id"] == r["id"]
            ]
            if new_stories:
                connection.execute(insert(table_of(Story)), new_stories)
            connection.execute(insert(articles), rows)
        health = [
            {
                "content_key": f"health:feed-{n}:failing:{n}",
                "source": "monitor/health",
                "title": f"Feed 'feed-{n}' failing for 6 h: HTTP 503 from 127.0.0.1",
                "text": "",
                "fetched_at": now - timedelta(hours=n),
            }
            for n in range(0, args.feeds, 17)
        ]
        connection.execute(insert(articles), health)
        picked = rng.sample(range(1, args.articles + 1), args.alerts)
        for start in range(0, args.alerts, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, args.alerts)):
                rows.append(
                    {
                        "id": n + 1,
                        "rule": f"rule-{rng.randrange(args.rules)}",
                        "query": "NATO",
                        "article_id": picked[n],
                        "matched": ["NATO"],
                        "field": "text",
                        "snippet": "…the NATO summit opens in Vilnius on Tuesday, with the war in the east…",
                        "highlights": [[4, 8]],
                        "created_at": now - timedelta(seconds=14 * 86400 * (1 - n / args.alerts)),
                    }
                )
            connection.execute(insert(alerts), rows)
            connection.execute(
                insert(deliveries),
                [
                    {
                        "uid": f"msg_{uuid.uuid4().hex}",
                        "alert_id": row["id"],
                        "webhook": hook,
                        "status": rng.choice(["sent", "sent", "sent", "pending", "dead"]),
                        "attempts": 1,
                        "next_attempt_at": row["created_at"],
                        "created_at": row["created_at"],
                        "queued_at": row["created_at"],
                    }
                    for row in rows
                    for hook in (["newsroom", "phones"] if row["id"] % 3 == 0 else ["newsroom"])
                ],
            )


def timed(client: httpx.Client, url: str, repeat: int) -> tuple[list[float], int]:
    times: list[float] = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - started)
        status = answer.status_code
    return times, status


def filled(args: argparse.Namespace, prefix: str) -> tuple[Path, datetime, Settings, Storage, float]:
    """Return a SQLite file filled as ``args`` say (in ``args.keep``, else a new folder named from ``prefix``), the
    time it was filled at, its settings, its storage, and how many seconds filling took."""
    folder = args.keep or Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "monitor.db"
    database.unlink(missing_ok=True)
    now = datetime.now(UTC)
    settings = load_settings(settings_file(folder, database, args.feeds, args.rules), {})
    storage = Storage.open(settings.database.url)
    started = time.perf_counter()
    fill(storage, args, now)
    return database, now, settings, storage, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--days", type=int, default=30, help="the articles are fetched over this many last days")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="fill the database in this folder and keep it")
    args = parser.parse_args()
    database, now, settings, storage, took = filled(args, "monitor-web-bench-")
    size = database.stat().st_size / 1e6
    print(f"filled {database} in {took:.1f} s: {args.articles:,} articles over the last")
    print(f"  {args.days} days, {args.alerts:,} alerts, {args.feeds} feeds, {args.rules} rules ({size:.0f} MB)")
    print(f"matcher: {native.describe()}")
    server = StatusServer(
        "127.0.0.1:0", Metrics(), lambda: True, storage.probe, pages=pages(Site(storage, lambda: settings), None, None)
    )
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            report_pages(client, args.repeat)
            report_workbench(client, storage, now)
    finally:
        server.stop()
        storage.close()


def report_pages(client: httpx.Client, repeat: int) -> None:
    story = client.get("/").text.split('href="/stories/', 1)[-1].split('"', 1)[0]
    rule_page = "/?rule=rule-3"
    paths = [
        "/static/style.css",
        "/healthz",
        "/",
        rule_page,
        "/?before=10000",
        f"/stories/{story}",
        "/feeds",
        "/rules",
        "/workbench",
    ]
    print(f"\npages, {repeat} requests each (target: under {PAGE_TARGET * 1000:.0f} ms):")
    print(f"  {'page':<22}{'status':>7}{'median':>10}{'worst':>10}  vs a static file")
    baseline = 0.0
    for path in paths:
        times, status = timed(client, path, repeat)
        median, worst = statistics.median(times), max(times)
        if path.startswith("/static/"):
            baseline = median
        verdict = "ok" if worst < PAGE_TARGET else "OVER"
        ratio = median / baseline if baseline else 0
        print(f"  {path:<22}{status:>7}{median * 1000:>8.1f}ms{worst * 1000:>8.1f}ms  {ratio:5.1f}x  {verdict}")


def report_workbench(client: httpx.Client, storage: Storage, now: datetime) -> None:
    since = now - timedelta(days=7)
    started = time.perf_counter()
    count = sum(1 for _ in storage.articles_since(since))
    reading = time.perf_counter() - started
    print(f"\nworkbench over the last 7 days ({count:,} articles; target: under {WORKBENCH_TARGET:.0f} s)")
    print(f"  reading them alone from the database: {reading:.2f} s")
    started = time.perf_counter()
    while "is being built" in client.get("/workbench/results?" + urlencode({"q": "nato"})).text:
        time.sleep(0.2)
    print(f"  the word index, built on first use: ready after {time.perf_counter() - started:.1f} s")
    print("  as you type (stops after 1.5 s and says how many of the newest articles it covered), then all=1:")
    for label, params in QUERIES:
        for every in (False, True):
            query = {**params, "since": "7d", **({"all": "1"} if every else {})}
            started = time.perf_counter()
            answer = client.get("/workbench/results?" + urlencode(query))
            spent = time.perf_counter() - started
            found = re.search(r"<strong>(\d+)</strong> of (\d+)", answer.text)
            matched, scanned = (int(found[1]), int(found[2])) if found else (0, 0)
            verdict = "ok" if spent < WORKBENCH_TARGET else "OVER"
            rate = scanned / spent if spent else 0
            print(
                f"  {label if not every else '':<26} {'all=1' if every else 'typing':<7} {answer.status_code}"
                f"  {spent:5.2f} s  {matched:>6} of {scanned:>6} matched  {rate:>7,.0f} articles/s"
                f"  {spent / reading:4.1f}x the reading  {verdict}"
            )


if __name__ == "__main__":
    main()
