"""encrypted credentials for social network accounts; takedown attempts

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("credentials_checked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("takedowns") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("takedowns") as batch_op:
        batch_op.drop_column("attempts")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("credentials_checked_at")
        batch_op.drop_column("credentials")
