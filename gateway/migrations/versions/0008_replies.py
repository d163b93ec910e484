"""replies under published posts: what was read and judged, each account's reading schedule, SMT's e-mails

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("publication_id", sa.Integer(), sa.ForeignKey("publications.id"), nullable=False),
        sa.Column("platform_id", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=300), nullable=False),
        sa.Column("author_id", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=True),
        sa.Column("action_by", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("author_blocked", sa.Boolean(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("concern", sa.Text(), nullable=True),
        sa.Column("concern_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("concern_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("publication_id", "platform_id"),
    )
    op.create_index("ix_replies_publication_id", "replies", ["publication_id"])
    op.create_index("ix_replies_state", "replies", ["state"])
    op.create_index("ix_replies_action", "replies", ["action"])
    op.create_table(
        "reply_polls",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reads", sa.Integer(), nullable=False),
    )
    op.create_table(
        "reply_alerts",
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("publications") as batch_op:
        batch_op.add_column(sa.Column("reply_cursor", sa.String(length=100), nullable=True))

def downgrade() -> None:
    with op.batch_alter_table("publications") as batch_op:
        batch_op.drop_column("reply_cursor")
    op.drop_table("reply_alerts")
    op.drop_table("reply_polls")
    op.drop_index("ix_replies_action", "replies")
    op.drop_index("ix_replies_state", "replies")
    op.drop_index("ix_replies_publication_id", "replies")
    op.drop_table("replies")
