"""how far the running check has got with each photo, for the teacher's page

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_images") as batch:
        batch.add_column(sa.Column("progress", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_images") as batch:
        batch.drop_column("progress")
