"""monitor: a news-monitoring daemon that turns matching articles into chat alerts."""

from __future__ import annotations

__version__ = "0.1.0"
USER_AGENT = f"monitor/{__version__} (news-monitoring daemon; +https://github.com/monitor-news/monitor)"
