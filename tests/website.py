"""A daemon with something to show in its web pages: feeds on a loopback server, one of them hostile.

``serve_feeds`` puts three feeds on a ``LoopbackServer``: ``world``, whose items carry a hostile title (markup, a
script, an event handler) and a ``javascript:`` link; ``wire`` and ``paper``, which carry the same story lightly
rewritten (so that it is one story from two outlets); and ``broken``, which answers 503. Every item is dated now,
so that the first poll alerts on it. ``write_settings`` writes settings that poll them with the shipped rules and
the seeds, with the server on ``listen`` and, when given, a token.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from tests.conftest import ROOT, LoopbackServer
from tests.daemon import Daemon
from tests.test_end_to_end import shipped_rules

HOSTILE_TITLE = '<script>alert("title")</script> Donbass <img src=x onerror=alert(1)> & <b>bold</b>'
STORY_TITLE = "Shelling in the Donbass region continues for a third day"
STORY_TEXT = (
    "Artillery fire was reported across the Donbass region on Tuesday, local officials said, as the shelling "
    "continued for a third day and residents of the frontline towns sheltered in basements."
)


def _feed(title: str, items: list[tuple[str, str, str, str]]) -> bytes:
    now = format_datetime(datetime.now(UTC))
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(guid)}</guid>"
        f"<pubDate>{now}</pubDate><description>{escape(text)}</description></item>"
        for t, link, guid, text in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://127.0.0.1/</link><description>{title}</description>{entries}</channel></rss>"
    ).encode()


def serve_feeds(server: LoopbackServer) -> None:
    """Serve the feeds ``world``, ``wire``, ``paper`` and ``broken`` from the loopback server."""
    world = _feed(
        "World",
        [
            (HOSTILE_TITLE, "javascript:alert(1)", "world-1", "The front in the Donbass moved little this week."),
            ("Leaders gather for the NATO summit in Vilnius", "http://127.0.0.1/nato", "world-2", "Talks open."),
        ],
    )
    wire = _feed("Wire", [(STORY_TITLE, "http://127.0.0.1/wire/1", "wire-1", STORY_TEXT)])
    paper = _feed("Paper", [(STORY_TITLE + ", officials say", "http://127.0.0.1/paper/1", "paper-1", STORY_TEXT)])
    for path, body in (("/world.xml", world), ("/wire.xml", wire), ("/paper.xml", paper)):
        server.routes[path] = lambda _h, body=body: (200, {"Content-Type": "application/rss+xml"}, body)
    server.routes["/broken.xml"] = lambda _h: (503, {}, b"try later")


def write_settings(folder: Path, server: LoopbackServer, listen: str, token: str | None = None) -> Path:
    """Write settings polling the loopback feeds with the shipped rules and seeds; return their path."""
    feeds = "".join(
        f'[[feeds]]\nname = "{name}"\nurl = "{server.url(f"/{name}.xml")}"\n\n'
        for name in ("world", "wire", "paper", "broken")
    )
    token_line = f'token = "{token}"\n' if token else ""
    text = (
        f'[database]\nurl = "sqlite:///{folder / "monitor.db"}"\n\n[seeds]\npath = "{ROOT / "seeds"}"\n\n'
        f'[server]\nlisten = "{listen}"\n{token_line}\n{feeds}{shipped_rules()}'
    )
    path = folder / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_for_alerts(daemon: Daemon, base: str, headers: dict[str, str] | None = None, count: int = 4) -> str:
    """Return the alerts page once it lists ``count`` alerts (the seed's two, the hostile one, the story's)."""
    deadline = time.monotonic() + 60
    while True:
        assert daemon.process.poll() is None, daemon.log()
        try:
            page = httpx.get(f"{base}/", headers=headers, timeout=5).text
        except httpx.TransportError:
            page = ""
        if page.count('class="alert"') >= count:
            return page
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.2)
