"""article keys and stories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.models

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_article_id', sa.Integer(), nullable=False),
    sa.Column('created_at', monitor.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('article_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('article_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_keys_article_id'), ['article_id'], unique=False)

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('story_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signature', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_articles_story_id'), ['story_id'], unique=False)
        batch_op.create_foreign_key('fk_articles_story_id_stories', 'stories', ['story_id'], ['id'])

    # The articles stored so far are known by their content key.
    op.execute('INSERT INTO article_keys (key, article_id) SELECT content_key, id FROM articles')


def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_constraint('fk_articles_story_id_stories', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_articles_story_id'))
        batch_op.drop_column('signature')
        batch_op.drop_column('story_id')

    with op.batch_alter_table('article_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_keys_article_id'))

    op.drop_table('article_keys')
    op.drop_table('stories')
