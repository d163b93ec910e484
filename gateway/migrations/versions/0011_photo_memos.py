"""what an earlier check of a photo kept to be reused while its inputs are unchanged

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_images") as batch:
        batch.add_column(sa.Column("memos", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("post_images") as batch:
        batch.drop_column("memos")
