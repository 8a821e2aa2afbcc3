"""What feedparser's tolerant parser is given in place of its own parts: how it reads a DOCTYPE, and the parser.

feedparser reads a document with its strict XML parser (``saxdriver``) and, when that fails, with a tolerant one
built on ``sgmllib``. Before either, its ``replace_doctype`` cut the DOCTYPE out with patterns whose time grows
with the square of a long prolog, and kept the entities it declares for the tolerant parser to expand, once per
reference: a quadratic blow-up. ``read_doctype`` takes its place: the document is left as it is (the strict
parser refuses entity declarations itself) and no entity is handed on, so that the tolerant parser leaves a
reference to a declared entity as written, ``&name;``, and reads HTML's named entities (``&eacute;``) as HTML does.

``LooseParser`` is that tolerant parser. It keeps each piece of text it reads in a list until the element ends,
one string per entity or character reference: some 60 bytes for each 3 bytes of ``&x;``, 20 times the document.
Here a reference's text is made once and shared by every reference to it, as long as the document does not name
too many different ones.
"""

from __future__ import annotations

from typing import Any

import feedparser.api

# Where a DOCTYPE may start, and how much of it is read to tell Netscape's RSS 0.91 from the others.
DOCTYPE_WITHIN = 64 * 1024
DOCTYPE_HEAD = 1024
# How many different reference texts are shared at once; past this the table starts afresh.
SHARED_TEXTS = 4096


def read_doctype(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
    """Return the RSS version a DOCTYPE names (Netscape's 0.91 only), the document unchanged, and no entities."""
    start = data.find(b"<!DOCTYPE", 0, DOCTYPE_WITHIN)
    if start < 0:
        return None, data, {}
    head = data[start : start + DOCTYPE_HEAD]
    end = min((at for at in (head.find(b">"), head.find(b"[")) if at >= 0), default=len(head))
    return ("rss091n" if b"netscape" in head[:end].lower() else None), data, {}


class LooseParser(feedparser.api.LooseFeedParser):  # type: ignore[misc]
    """feedparser's tolerant parser, which shares the text of repeated entity and character references."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._texts: dict[str, str] = {}

    def handle_charref(self, ref: str) -> None:
        super().handle_charref(ref)
        self._share_last()

    def handle_entityref(self, ref: str) -> None:
        super().handle_entityref(ref)
        self._share_last()

    def _share_last(self) -> None:
        """Replace the piece of text just added with the same text already held, if some reference made it."""
        if not self.elementstack:
            return
        pieces = self.elementstack[-1][2]
        if not pieces:
            return
        piece = pieces[-1]
        # feedparser adds some references' text as UTF-8 bytes, which it decodes when the element ends.
        text = piece.decode("utf-8") if isinstance(piece, bytes) else piece
        if len(self._texts) >= SHARED_TEXTS and text not in self._texts:
            self._texts.clear()
        pieces[-1] = self._texts.setdefault(text, text)
