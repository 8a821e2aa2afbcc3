"""where the matched words lie in an alert's snippet

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:00:00

A snippet is now stored as plain text, with the [start, end] character offsets of its matched words in
``alerts.highlights``. Alerts stored before the upgrade keep their snippet with ``**`` around the matched words and
a null ``highlights``; they are read that way (``store.message.unmark``), so nothing needs converting.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("highlights", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("highlights")
