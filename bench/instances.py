"""Benchmark what several instances on one PostgreSQL database cost: storing in turns, delivering under leases.

Run: ``python bench/instances.py`` (options: ``--database-url`` of a PostgreSQL server, ``--articles``,
``--batch``, ``--deliveries``). It makes a database of its own on that server for each measurement and drops it.

It prints:
1. storing: articles/s through the pipeline's storing step (new articles in batches, each filed in a story and
   matched), with one instance and with two instances storing at once (two threads, each with its own engine
   and story index), with the filing turns on (as shipped) and off (no advisory lock, no catching up on the
   others' sketches, as before they existed), and the ratio of the two;
2. delivering: deliveries/s to one fast generic webhook on 127.0.0.1 (each request under the webhook's lease,
   its pacing slot reserved in the database), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
from sqlalchemy.engine import make_url

from monitor.ingest.article import ParsedArticle
from monitor.pipeline import Pipeline
from monitor.settings.config import load_settings
from monitor.store import storage as storage_module
from monitor.store.alerts import NewAlert
from monitor.store.storage import Storage

DEFAULT_URL = os.environ.get("MONITOR_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORDS = [a + b + c for a in "bcdfglmnprst" for b in "aeiou" for c in ("", "la", "ri", "to", "ne")]  # 300 words


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """Yield the URL of a new PostgreSQL database on ``server``; drop it afterwards."""
    url = make_url(server)
    name = f"monitor_bench_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def articles(count: int, seed: int) -> list[ParsedArticle]:
    """Return ``count`` distinct articles of about 120 words, one in ten a copy of a wire story."""
    rng = random.Random(seed)
    wire = " ".join(rng.choices(WORDS, k=120))
    made = []
    for n in range(count):
        text = wire + f" copy {n}" if n % 10 == 0 else " ".join(rng.choices(WORDS, k=120)) + f" {seed} {n}"
        made.append(ParsedArticle(f"bench:{seed}:{n}", "bench", f"NATO summit report {seed}-{n}", text))
    return made


def pipeline_on(url: str, folder: Path) -> Pipeline:
    """Return a pipeline on the database at ``url`` with one rule and no webhook."""
    config = folder / "settings.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[seeds]\nenabled = false\n[[rules]]\nname = "NATO"\nquery = "NATO summit"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    return Pipeline(settings, Storage.open(url), httpx.Client(), lambda _alert: None)


def store_rate(server: str, instances: int, count: int, batch: int) -> float:
    """Return the articles/s stored by ``instances`` pipelines storing ``count`` articles each, all at once."""
    with fresh_database(server) as url, tempfile.TemporaryDirectory() as folder:
        pipelines = [pipeline_on(url, Path(folder)) for _ in range(instances)]
        work = [articles(count, seed) for seed in range(instances)]
        gate = threading.Barrier(instances + 1)

        def store(number: int) -> None:
            gate.wait()
            items = work[number]
            for start in range(0, len(items), batch):
                pipelines[number].filing.store(items[start : start + batch], lambda _tx: None)

        threads = [threading.Thread(target=store, args=(n,)) for n in range(instances)]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for pipeline in pipelines:
            pipeline.storage.close()
        return instances * count / elapsed


@contextmanager
def turns_off() -> Iterator[None]:
    """Store as before filing turns existed: no advisory lock, and no catching up on the others' sketches."""
    serialize, filed_after = storage_module.Tx.serialize_filing, storage_module.Tx.filed_after

    def nothing_after(self: Any, turn: int) -> tuple[list[Any], int]:
        return [], turn

    storage_module.Tx.serialize_filing = lambda self: None  # type: ignore[method-assign]
    storage_module.Tx.filed_after = nothing_after  # type: ignore[method-assign]
    try:
        yield
    finally:
        storage_module.Tx.serialize_filing = serialize  # type: ignore[method-assign]
        storage_module.Tx.filed_after = filed_after  # type: ignore[method-assign]


class FastHook(BaseHTTPRequestHandler):
    """A webhook that answers 200 at once, over keep-alive connections."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer's body waits for the client's delayed ACK (40 ms)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def delivery_rate(url: str, count: int, hook: str) -> float:
    """Return the deliveries/s to one fast generic webhook, ``count`` alerts queued beforehand."""
    from monitor.delivery.dispatcher import Dispatcher
    from monitor.settings.config import DeliverySettings, WebhookSettings
    from monitor.store.outbox import Outbox

    storage = Storage.open(url)
    now = datetime.now(UTC)
    with storage.transaction() as tx:
        stored = tx.save_new_articles(articles(count, 99), now)
        tx.record_alerts([NewAlert(item, "NATO", "nato", ("NATO",), "title", "", ("hook",)) for item in stored], now)
    webhook = WebhookSettings.model_validate({"url": hook, "format": "generic"})
    with httpx.Client() as client:
        dispatcher = Dispatcher(Outbox(storage), client)
        started = time.perf_counter()
        report = dispatcher.drain({"hook": webhook}, {}, DeliverySettings())
        elapsed = time.perf_counter() - started
        dispatcher.close()
    storage.close()
    assert report.sent == count, report
    return count / elapsed


def measure(label: str, run: Callable[[], float], rounds: int) -> float:
    """Return the best of ``rounds`` runs, printing each."""
    rates = [run() for _ in range(rounds)]
    print(f"  {label}: " + ", ".join(f"{rate:,.0f}" for rate in rates), flush=True)
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL server (a database is made on it)")
    parser.add_argument("--articles", type=int, default=3000, help="articles stored by each instance")
    parser.add_argument("--batch", type=int, default=50, help="articles per storing transaction")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    print(f"storing {args.articles:,} articles per instance in batches of {args.batch} (articles/s, best kept)")
    figures: dict[tuple[int, bool], float] = {}
    for instances in (1, 2):
        figures[instances, True] = measure(
            f"{instances} instance(s), filing turns on ",
            lambda n=instances: store_rate(args.database_url, n, args.articles, args.batch),
            args.rounds,
        )
        with turns_off():
            figures[instances, False] = measure(
                f"{instances} instance(s), filing turns off",
                lambda n=instances: store_rate(args.database_url, n, args.articles, args.batch),
                args.rounds,
            )
    for instances in (1, 2):
        on, off = figures[instances, True], figures[instances, False]
        print(f"{instances} instance(s): turns on {on:,.0f}/s, off {off:,.0f}/s: {on / off:.2f}x")

    server = ThreadingHTTPServer(("127.0.0.1", 0), FastHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    print(f"delivering {args.deliveries:,} alerts to one fast webhook (deliveries/s, best kept)")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = measure(
            "SQLite    ",
            lambda: delivery_rate(f"sqlite:///{Path(folder) / f'd{uuid.uuid4().hex}.db'}", args.deliveries, hook),
            args.rounds,
        )

    def on_postgres() -> float:
        with fresh_database(args.database_url) as url:
            return delivery_rate(url, args.deliveries, hook)

    postgres = measure("PostgreSQL", on_postgres, args.rounds)
    print(f"PostgreSQL delivers at {postgres / sqlite:.2f}x SQLite's rate ({postgres:,.0f}/s against {sqlite:,.0f}/s)")
    server.shutdown()


if __name__ == "__main__":
    main()
