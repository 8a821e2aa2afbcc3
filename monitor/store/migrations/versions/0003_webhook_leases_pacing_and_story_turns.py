"""webhook leases, shared pacing and story filing turns

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:30:00

Several instances on one database coordinate through these: the instance holding a webhook's lease is the only
one sending its deliveries, the pacing state of each webhook URL is shared, and each article records the turn
in which it was filed in its story. Articles stored before the upgrade have no turn; they are read from the
stored sketches of the story window as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.store.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_states") as batch:
        batch.add_column(sa.Column("lease_holder", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch.add_column(sa.Column("lease_until", monitor.store.models.UTCDateTime(), nullable=True))
    op.create_table(
        "webhook_paces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("next_at", monitor.store.models.UTCDateTime(), nullable=True),
        sa.Column("window_start", monitor.store.models.UTCDateTime(), nullable=True),
        sa.Column("in_window", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_digest"),
    )
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_seq", sa.BigInteger(), nullable=True))
        batch.create_index(batch.f("ix_articles_story_seq"), ["story_seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_index(batch.f("ix_articles_story_seq"))
        batch.drop_column("story_seq")
    op.drop_table("webhook_paces")
    with op.batch_alter_table("webhook_states") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_holder")
