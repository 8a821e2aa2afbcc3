"""The SAX driver feedparser parses feeds with: Python's expat reader, which never expands a declared entity and
hands character data over in one piece.

Entities. Expat expands the entities a document declares in its DOCTYPE, up to its amplification limit (a
hundred times the document): enough for a feed of a few megabytes to become gigabytes of text (billion laughs,
or one long entity named over and over). This reader refuses the first entity declaration it meets, as defusedxml
does, from expat's own report of it (``EntityDeclHandler``), whatever comes before it in the document: nothing is
expanded, since a declaration always comes before its first use. A reference that expat would skip (an entity
that only an unread external DTD could declare) is refused too. Either way the parse stops with
``EntityRefused``, a ``SAXParseException``: feedparser then reads the document with its tolerant parser, which
``parser`` gives no entity to expand, so that each such reference stays as written (``&name;``), unless HTML names
it (``&eacute;``). No external entity or DTD is ever read (feedparser turns external entities off).

Text. Expat calls the content handler once per run of text between two entity references or line breaks, and
feedparser pays for each call (a look-up of the content type, a list append); a feed whose HTML content is
escaped (``&lt;p&gt;``) makes thousands of them. With ``buffer_text``, expat joins each run of text up to the
next tag, comment or instruction into one call: feedparser joins the pieces of an element anyway, so the text
it reads is the same. ``parser`` names this module in feedparser's ``PREFERRED_XML_PARSERS``.
"""

from __future__ import annotations

from typing import Any
from xml.sax import SAXParseException
from xml.sax.expatreader import ExpatParser


class EntityRefused(SAXParseException):
    """Raised when a document declares an entity, or names one that was not declared to the parser."""


class BufferedExpatParser(ExpatParser):
    """Python's expat SAX reader that refuses entity declarations, with contiguous character data in one call."""

    def reset(self) -> None:
        super().reset()
        parser: Any = self._parser  # type: ignore[attr-defined]
        parser.buffer_text = True
        parser.EntityDeclHandler = self._refuse_declaration
        # Expat reports an unparsed entity to this handler rather than the one above when it is set, as it is.
        parser.UnparsedEntityDeclHandler = self._refuse_declaration
        parser.SkippedEntityHandler = self._refuse_reference

    def _refuse_declaration(self, name: str, *_details: Any) -> None:
        raise EntityRefused(f"entity '{name}' declared: declared entities are not expanded", None, self)

    def _refuse_reference(self, name: str, is_parameter_entity: bool) -> None:
        sign = "%" if is_parameter_entity else "&"
        raise EntityRefused(f"entity reference {sign}{name}; not declared to the parser", None, self)


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    """Return a new buffered expat reader (the entry point ``xml.sax.make_parser`` calls)."""
    return BufferedExpatParser(*args, **kwargs)
