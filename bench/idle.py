"""Benchmark what an idle feed costs: the CPU time of a poll answered 304 Not Modified, against a bare GET loop.

Run: ``python bench/idle.py`` (options: ``--feeds``, ``--rounds``, ``--rules``).

A server in a process of its own (so that its CPU time is not counted) serves ``--feeds`` small feeds on
127.0.0.1, each with an ETag, and answers 304 to a request that sends it back. Each feed has its own host name
(``feedN.bench.test``, resolved to 127.0.0.1 here, as ``bench/cycle.py`` does), so the per-host limit applies as
it would to real sites. A ``Pipeline`` on a temporary SQLite file, with ``--rules`` rules, polls every feed
once to learn its ETag; then for each of ``--rounds`` rounds the clock moves on by the feeds' interval and every
feed is polled again through the daemon's path: ``Pipeline.poll_feed`` (the scheduler's feed job: claim the
feed's lease, queue it) from the scheduler's thread count, the feed poller's threads fetching with a
conditional GET, the pipeline recording the 304. The process's CPU time over the round, divided by the feeds,
is the cost of a poll; the target is at most 1 ms. The baselines are bare loops of conditional GETs with one
``httpx.Client`` in this process, on the same server, over one kept-alive connection and with a new connection
each (what a poll of a feed on a host of its own, minutes after the last, needs): their CPU time per request,
and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOST_SUFFIX = ".bench.test"
INTERVAL = timedelta(minutes=1)
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
    "<link>https://feed{n}.example.org/</link><item><title>Quiet day {n}</title>"
    "<link>https://feed{n}.example.org/1</link><guid>https://feed{n}.example.org/1</guid>"
    "<description>Nothing new since.</description></item></channel></rss>"
)


def serve() -> None:
    """Serve the feeds on 127.0.0.1 until stdin closes, printing the port first (the server process)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            number = self.path.strip("/").removeprefix("feed")
            etag = f'"v1-{number}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = FEED.format(n=number).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    print(server.server_address[1], flush=True)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the benchmark closes it


def write_settings(folder: Path, port: int, feeds: int, rules: int) -> Path:
    """Write the settings: SQLite, no seeds, the feeds by host name every INTERVAL, ``rules`` word rules."""
    lines = ['[database]\nurl = "sqlite:///idle.db"\n', "[seeds]\nenabled = false\n"]
    lines.append(f'[scheduler]\npoll_interval = "{int(INTERVAL.total_seconds())}s"\n')
    for n in range(feeds):
        lines.append(f'[[feeds]]\nname = "feed{n}"\nurl = "http://feed{n}{HOST_SUFFIX}:{port}/feed{n}"\n')
    for n in range(rules):
        lines.append(f'[[rules]]\nname = "rule{n}"\nquery = "word{n} OR other{n}"\n')
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Clock:
    """A clock that stands still until moved on, so that every round finds every feed due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def pipeline_rounds(settings_path: Path, rounds: int) -> tuple[list[float], int, int]:
    """Poll every feed once, then ``rounds`` times more; return the CPU seconds of each later round, the polls
    recorded as not modified in the last one, and the number of feeds."""
    from monitor import scheduler
    from monitor.ingest import fetcher, netguard
    from monitor.pipeline import Pipeline
    from monitor.settings.config import load_settings
    from monitor.store.storage import Storage

    def resolve(host: str, port: int) -> list[netguard.Address]:
        if host.endswith(HOST_SUFFIX):
            return [netguard.Address("127.0.0.1", True)]
        return netguard.system_resolve(host, port)

    netguard.resolve = resolve
    settings = load_settings(settings_path, {})
    storage = Storage.open(settings.database.url)
    clock = Clock()
    client = fetcher.make_client(settings.http.timeout.total_seconds())
    pipeline = Pipeline(settings, storage, client, lambda _alert: None, clock=clock)
    feeds = settings.feeds
    costs: list[float] = []
    try:
        with ThreadPoolExecutor(scheduler.WORKERS) as jobs:  # the scheduler's job threads
            for round_ in range(rounds + 1):
                started = time.process_time()
                list(jobs.map(pipeline.poll_feed, feeds))
                pipeline.feeds.wait()
                if round_:
                    costs.append(time.process_time() - started)
                clock.now += INTERVAL + timedelta(seconds=1)
        not_modified = storage.feed_health([(f.name, f.url) for f in feeds], clock.now)
        unchanged = sum(1 for health in not_modified if health.status == "not_modified")
    finally:
        pipeline.close()
        client.close()
        storage.close()
    return costs, unchanged, len(feeds)


def bare_loop(port: int, feeds: int, close: bool) -> float:
    """Return the CPU seconds per request of conditional GETs of every feed, one after another, with httpx: on one
    kept-alive connection, or with ``close`` a new connection each (as feeds on hosts of their own need)."""
    import httpx

    def get(client: httpx.Client, number: int) -> None:
        headers = {"If-None-Match": f'"v1-{number}"'}
        if close:
            headers["Connection"] = "close"
        response = client.get(f"http://127.0.0.1:{port}/feed{number}", headers=headers)
        assert response.status_code == 304

    with httpx.Client(timeout=30) as client:
        for number in range(min(feeds, 50)):  # warm up httpx itself
            get(client, number)
        started = time.process_time()
        for number in range(feeds):
            get(client, number)
        return (time.process_time() - started) / feeds


def main() -> None:
    """Start the server, run the rounds of polls and the bare loop; print the CPU time per poll against 1 ms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    folder = Path(tempfile.mkdtemp(prefix="monitor-idle-"))
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        print(f"{args.feeds} feeds answering 304 Not Modified, {args.rules} rules, {args.rounds} rounds of polls")
        costs, unchanged, feeds = pipeline_rounds(write_settings(folder, port, args.feeds, args.rules), args.rounds)
        kept, fresh = bare_loop(port, args.feeds, close=False), bare_loop(port, args.feeds, close=True)
        per_poll = min(costs) / feeds
        rounds = ", ".join(f"{cost / feeds * 1000:.2f}" for cost in costs)
        print(f"poll through the pipeline: {per_poll * 1000:.2f} ms of CPU a poll (best round; rounds: {rounds} ms)")
        print(f"   {unchanged} of {feeds} feeds recorded as not modified in the last round")
        print(f"bare httpx conditional GET loop, one kept-alive connection: {kept * 1000:.2f} ms of CPU a request")
        print(f"bare httpx conditional GET loop, a new connection each: {fresh * 1000:.2f} ms of CPU a request")
        print(f"poll vs bare GET: {per_poll / kept:.2f}x (kept alive), {per_poll / fresh:.2f}x (new connection)")
        print(f"at most 1 ms of CPU a poll: {'yes' if per_poll <= 0.001 else 'NO'}")
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
