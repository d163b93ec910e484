"""the head's allow and block lists for links, seeded with a default allow list for a UK school

Revision ID: 0004
Revises: 0003
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The default list as it was when this migration was written: a migration never imports live code.
DEFAULT_ALLOW = (
    "*.gov.uk",
    "*.nhs.uk",
    "*.police.uk",
    "*.parliament.uk",
    "*.royal.uk",
    "*.bbc.co.uk",
    "*.bbc.com",
    "*.nspcc.org.uk",
    "*.childline.org.uk",
    "*.thinkuknow.co.uk",
    "*.saferinternet.org.uk",
    "*.thenational.academy",
    "*.ucas.com",
    "*.nhm.ac.uk",
    "*.sciencemuseum.org.uk",
    "*.britishmuseum.org",
)


def upgrade() -> None:
    rules = op.create_table(
        "link_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("entry", sa.String(length=300), nullable=False),
        sa.Column("added_by", sa.String(length=300), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "entry"),
    )
    now = datetime.now(timezone.utc)
    op.bulk_insert(rules, [{"kind": "allow", "entry": e, "added_by": "default list", "added_at": now}
                           for e in DEFAULT_ALLOW])
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("links", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("links")
    op.drop_table("link_rules")
