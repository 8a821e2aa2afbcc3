"""article full text and fetched pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00

Feeds with ``full_text`` fetch the page of each new article: its main text is kept with the article, and each
page's outcome in ``pages``, once per canonical URL, so that no page is fetched twice. Articles stored before
the upgrade have no full text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.store.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("full_text", sa.Text(), nullable=True))
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_key", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.Column("feed", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("fetched_at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_key"),
    )
    with op.batch_alter_table("pages") as batch:
        batch.create_index(batch.f("ix_pages_feed"), ["feed"], unique=False)
        batch.create_index(batch.f("ix_pages_fetched_at"), ["fetched_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_index(batch.f("ix_pages_fetched_at"))
        batch.drop_index(batch.f("ix_pages_feed"))
    op.drop_table("pages")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("full_text")
