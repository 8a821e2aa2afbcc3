"""Getting articles in: fetch feeds, parse them, read seed files, normalise the result."""

from __future__ import annotations

from monitor.ingest.article import ParsedArticle

__all__ = ["ParsedArticle"]
