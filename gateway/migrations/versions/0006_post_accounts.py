"""a post goes to one or more of the school's accounts

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_accounts",
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
    )
    op.execute("INSERT INTO post_accounts (post_id, account_id) SELECT id, account_id FROM posts "
               "WHERE account_id IS NOT NULL")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("account_id")


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True))
    op.execute("UPDATE posts SET account_id = (SELECT min(account_id) FROM post_accounts "
               "WHERE post_accounts.post_id = posts.id)")
    op.drop_table("post_accounts")
