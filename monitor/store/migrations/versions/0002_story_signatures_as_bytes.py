"""story signatures as 512 bytes instead of a JSON list

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:40:00

The signatures are only read back to rebuild the in-memory story index of the last ``[ingest] story_window``;
the JSON ones are dropped rather than converted. Until the window has passed, a copy of a story stored before the
upgrade may open a story of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("signature")
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("signature")
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("signature", sa.JSON(), nullable=True))
