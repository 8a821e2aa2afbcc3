"""Measure the peak memory of ``monitor run --once`` over a feed whose articles link to hostile pages.

Run: ``python bench/fulltext_memory.py``. A server on 127.0.0.1 serves one feed of title-only items with full
text on, linking to: a news page, a PDF, 14 MB of HTML links (under the 15 MB cap: read, cut, extracted), 40 MB
of HTML (past the cap) and 14 MB of nested ``<div>``s. It prints the peak RSS of the process and its workers
together, sampled, and each page's outcome.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cycle import watch_peak
from tests.feedserver import MB, FeedServer, reply, serve_file

PAGES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def main() -> None:
    """Serve the feed and its pages, run the cycle, print the peak and the outcomes."""
    links = b"<!DOCTYPE html><html><body>" + b'<a href="/x">Marioupol</a> ' * (14 * MB // 27)
    nested = b"<!DOCTYPE html><html><body>" + b"<div>" * (7 * MB // 5) + b"deep" + b"</div>" * (7 * MB // 6)
    with FeedServer() as server, tempfile.TemporaryDirectory() as folder:
        server.routes["/news"] = serve_file(PAGES / "fr-news.html", HTML["Content-Type"])
        server.routes["/report.pdf"] = reply(200, b"%PDF-1.7\n" + bytes(MB), {"Content-Type": "application/pdf"})
        server.routes["/links"] = reply(200, links, HTML)
        server.routes["/past-cap"] = reply(200, links * 3, HTML)
        server.routes["/nested"] = reply(200, nested, HTML)
        items = "".join(
            f"<item><title>Item {path}</title><link>{server.url(path)}</link></item>"
            for path in ("/news", "/report.pdf", "/links", "/past-cap", "/nested")
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        server.routes["/feed.xml"] = reply(200, feed.encode(), {"Content-Type": "application/rss+xml"})
        config = Path(folder) / "settings.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{folder}/m.db"\n[seeds]\nenabled = false\n[ingest]\nfull_text_wait = "2m"\n'
            f'[[feeds]]\nname = "hostile"\nurl = "{server.url("/feed.xml")}"\nfull_text = true\n'
            '[[rules]]\nname = "r"\nquery = "Marioupol"\n',
            encoding="utf-8",
        )
        with subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as cycle:
            watched = watch_peak(cycle)
            errors = cycle.communicate()[1]
        peak = watched.result()
        if cycle.returncode != 0:
            sys.exit(f"the cycle failed ({cycle.returncode}):\n{errors[-3000:]}")
        with sqlite3.connect(Path(folder) / "m.db") as db:
            outcomes = db.execute("SELECT url_key, outcome FROM pages ORDER BY url_key").fetchall()
            alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    for key, outcome in outcomes:
        print(f"{key.rsplit('/', 1)[-1]:12} {outcome}")
    print(f"alerts: {alerts}; peak memory: {peak[0] / 1024:.0f} MB (process and workers, sampled)")
    print(f"peak under 400 MB: {'yes' if peak[0] / 1024 < 400 else 'NO'}")


if __name__ == "__main__":
    main()
