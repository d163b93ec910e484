"""cleaned alt text and the changes the text check made

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("text_changes", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("post_images") as batch_op:
        batch_op.add_column(sa.Column("clean_alt_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("alt_changes", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("post_images") as batch_op:
        batch_op.drop_column("alt_changes")
        batch_op.drop_column("clean_alt_text")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("text_changes")
