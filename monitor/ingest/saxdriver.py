"""The SAX driver feedparser parses feeds with: Python's expat reader, its character data handed over in one piece.

Expat calls the content handler once per run of text between two entity references or line breaks, and
feedparser pays for each call (a look-up of the content type, a list append); a feed whose HTML content is
escaped (``&lt;p&gt;``) makes thousands of them. With ``buffer_text``, expat joins each run of text up to the
next tag, comment or instruction into one call: feedparser joins the pieces of an element anyway, so the text
it reads is the same. ``parser`` names this module in feedparser's ``PREFERRED_XML_PARSERS``.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser


class BufferedExpatParser(ExpatParser):
    """Python's expat SAX reader, with contiguous character data reported in one call."""

    def reset(self) -> None:
        super().reset()
        self._parser.buffer_text = True  # type: ignore[attr-defined]


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    """Return a new buffered expat reader (the entry point ``xml.sax.make_parser`` calls)."""
    return BufferedExpatParser(*args, **kwargs)
