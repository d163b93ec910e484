"""the senior leaders who changed a post's words, none of whom may approve it

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("editor_ids", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("editor_ids")
