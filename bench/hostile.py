"""Run one cycle over hostile feeds beside a good one; print its peak memory, its wall time and what got through.

Run: ``python bench/hostile.py`` (options: ``--trick-mb``, ``--big-feeds``, ``--big-mb``, ``--own-hosts``).

A threaded HTTP server on 127.0.0.1 serves:
1. an entity-trick feed of ``--trick-mb`` MB: its DOCTYPE holds a comment with ``<a`` (which ends a prolog read by
   a pattern over bytes early), then an entity of 280 bytes that the only item's text names again and again,
   about 93 times the feed once expanded: just under expat's amplification limit;
2. ``--big-feeds`` feeds of ``--big-mb`` MB, each one item of HTML paragraphs in which the rule's two words lie
   a few words apart all along (the most work a ``NEAR`` rule can be given);
3. a good feed of one ordinary item that the rule matches.

With ``--own-hosts`` each feed has a host name of its own (``NAME.bench.test``, which the cycle resolves to
127.0.0.1), so that they are all fetched and parsed at once, as feeds from different sites are; otherwise two
at a time, as from one site.

``monitor run --once`` then runs in a subprocess on a temporary settings file (SQLite, the five or so feeds, the
rule ``alpha NEAR/3 beta``, a generic webhook on a receiver on 127.0.0.1). It prints the cycle's exit code, wall
time and peak memory (the RSS of the process tree, sampled), whether the good feed's alert reached the webhook,
``monitor feeds`` and the longest article stored.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle import HOST_SUFFIX, run_cycle, watch_peak  # bench/cycle.py, beside this file

MB = 1024 * 1024
RULE = "alpha NEAR/3 beta"
GOOD_TITLE = "Alpha and beta teams meet in Geneva"


def trick_feed(size: int) -> bytes:
    """Return an RSS feed of about ``size`` bytes whose one item names a declared entity over and over."""
    value = "word " * 56  # 280 bytes for each 3-byte reference: about 93 times, under expat's limit of 100
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n<!-- <a href="/"> -->\n'
        f'<!ENTITY w "{value}">\n]>\n<rss version="2.0"><channel><title>trick</title>'
        "<item><title>Entities</title><guid>trick-1</guid><description>"
    )
    tail = "</description></item></channel></rss>"
    references = "&w;" * ((size - len(head) - len(tail)) // 3)
    return (head + references + tail).encode()


def big_feed(number: int, size: int) -> bytes:
    """Return an RSS feed of about ``size`` bytes: one item of HTML paragraphs full of the rule's two words."""
    paragraph = "<p>" + " ".join(f"alpha one beta two gamma{n % 10} delta" for n in range(12)) + "</p>\n"
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>big</title>'
        f"<item><title>Long read {number}</title><guid>big-{number}</guid><description><![CDATA["
    )
    tail = "]]></description></item></channel></rss>"
    count = (size - len(head) - len(tail)) // len(paragraph)
    return (head + f"<p>Issue {number}</p>" + paragraph * count + tail).encode()


def good_feed() -> bytes:
    """Return an ordinary feed of one item that the rule matches."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>good</title>'
        f"<item><title>{GOOD_TITLE}</title><guid>good-1</guid><link>http://127.0.0.1/good/1</link>"
        "<description>&lt;p&gt;The alpha team and the beta team met on Monday.&lt;/p&gt;</description>"
        "</item></channel></rss>"
    ).encode()


def serve(bodies: dict[str, bytes], received: list[bytes]) -> tuple[ThreadingHTTPServer, int]:
    """Serve the feeds by path, and record the bodies posted to ``/hook``; return the server and its port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def write_settings(folder: Path, port: int, names: list[str], own_hosts: bool) -> Path:
    """Write the cycle's settings: SQLite, no seeds, the feeds, one NEAR rule, a generic webhook; return it."""
    lines = [
        '[database]\nurl = "sqlite:///cycle.db"\n',
        "[seeds]\nenabled = false\n",
        '[logging]\nlevel = "WARNING"\n',
        f'[webhooks.hook]\nurl = "http://127.0.0.1:{port}/hook"\nformat = "generic"\n',
        f'[[rules]]\nname = "near"\nquery = "{RULE}"\n',
    ]
    for name in names:
        host = f"{name}{HOST_SUFFIX}" if own_hosts else "127.0.0.1"
        lines.append(f'[[feeds]]\nname = "{name}"\nurl = "http://{host}:{port}/{name}.xml"\n')
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main() -> None:
    """Serve the feeds and the webhook, run the cycle, print its figures and what came through."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trick-mb", type=float, default=2)
    parser.add_argument("--big-feeds", type=int, default=4)
    parser.add_argument("--big-mb", type=float, default=14)
    parser.add_argument("--own-hosts", action="store_true", help="give each feed a host name of its own")
    parser.add_argument("--cycle", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cycle:
        sys.exit(run_cycle(args.cycle))

    bodies = {"/trick.xml": trick_feed(int(args.trick_mb * MB)), "/good.xml": good_feed()}
    for n in range(args.big_feeds):
        bodies[f"/big{n}.xml"] = big_feed(n, int(args.big_mb * MB))
    names = [path.strip("/").removesuffix(".xml") for path in bodies]
    sizes = ", ".join(f"{name} {len(body) / MB:.1f} MB" for name, body in zip(names, bodies.values(), strict=True))
    print(f"feeds: {sizes}\nrule:  {RULE}")

    received: list[bytes] = []
    server, port = serve(bodies, received)
    folder = Path(tempfile.mkdtemp(prefix="monitor-hostile-"))
    try:
        settings = write_settings(folder, port, names, args.own_hosts)
        command = [sys.executable, "-m", "monitor", "--config", str(settings)]
        started = time.perf_counter()
        with subprocess.Popen(
            [sys.executable, __file__, "--cycle", str(settings)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        ) as cycle:
            watched = watch_peak(cycle)
            errors = cycle.communicate()[1]
        peak = watched.result()
        elapsed = time.perf_counter() - started
        print(f"cycle: exit {cycle.returncode}, {elapsed:.1f} s, peak memory {peak[0] / 1024:.0f} MB (process tree)")
        alerts = [json.loads(body) for body in received]
        titles = sorted({alert["article"]["title"] for alert in alerts})
        print(f"webhook: {len(alerts)} alerts: {titles}")
        print(f"good feed's alert delivered: {'yes' if GOOD_TITLE in titles else 'NO'}")
        table = subprocess.run([*command, "feeds"], capture_output=True, text=True, cwd=folder, check=False)
        print(table.stdout.rstrip())
        with sqlite3.connect(folder / "cycle.db") as db:
            longest = db.execute("SELECT source, length(text) FROM articles ORDER BY length(text) DESC").fetchone()
        if longest:
            print(f"longest article stored: {longest[1]:,} characters (from {longest[0]})")
        log = [line for line in errors.strip().splitlines() if not line.startswith("peak_kb ")]
        if log:
            print("log (last lines):\n" + "\n".join(log[-10:]))
    finally:
        server.shutdown()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
