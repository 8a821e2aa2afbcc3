"""The templates and what they use to show untrusted text: escaping everywhere, marks around matches, safe links.

Autoescaping is on for every template, so that a title, a snippet, an error or a rule name from a feed or the
settings is always text: ``<script>`` in a headline shows as ``<script>``. The only markup the code makes itself
is the ``<mark>`` around matched words (``marked``, which escapes the rest) and the charts (``charts``). A link is
only ever an ``http`` or ``https`` URL without credentials (``link``); anything else is shown without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from monitor.delivery.notify.text import web_url

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    """Return the template environment: every template autoescaped, unknown names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, link=link, marked=marked)
    return env


def when(moment: datetime | None) -> str:
    """Return a time as ``YYYY-MM-DD HH:MM UTC`` (empty for none)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def link(url: str | None) -> str | None:
    """Return the URL when it may be a link (``http`` or ``https``, no credentials), else None."""
    return web_url(url)


def marked(snippet: str, highlights: Sequence[Sequence[int]]) -> Markup:
    """Return a snippet escaped, its matched words (character offsets) in ``<mark>``."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted((int(s), int(e)) for s, e in highlights):
        if start < cursor or end > len(snippet) or start >= end:
            continue  # overlapping or out of range: never happens with the matcher's highlights
        out.append(str(escape(snippet[cursor:start])))
        out.append(f"<mark>{escape(snippet[start:end])}</mark>")
        cursor = end
    out.append(str(escape(snippet[cursor:])))
    return Markup("".join(out))


def page(env: jinja2.Environment, name: str, **context: Any) -> str:
    """Return a template rendered with its context."""
    return env.get_template(name).render(**context)
