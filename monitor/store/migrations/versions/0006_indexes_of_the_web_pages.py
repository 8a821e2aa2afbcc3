"""indexes for the web pages and for replaying rules over recent articles

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00

The web pages count articles per feed and alerts per rule for each of the last days, page through a rule's
alerts newest first, and the workbench (like ``monitor rules backtest``) reads the articles fetched *or published*
within a window: each of these reads an index of its own instead of the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_published_at", "articles", ["published_at"])
    op.create_index("ix_articles_source_fetched", "articles", ["source", "fetched_at"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])
    op.create_index("ix_alerts_rule_created", "alerts", ["rule", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_rule_created", table_name="alerts")
    op.drop_index("ix_alerts_created_at", table_name="alerts")
    op.drop_index("ix_articles_source_fetched", table_name="articles")
    op.drop_index("ix_articles_published_at", table_name="articles")
