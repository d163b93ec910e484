"""consent per network: where each face is shown, and a photo's own rendition for a network that shows more

Revision ID: 0007
Revises: 0006
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_renditions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("post_images.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("image_id", "channel"),
    )
    op.create_index("ix_image_renditions_image_id", "image_renditions", ["image_id"])
    with op.batch_alter_table("image_faces") as batch_op:
        batch_op.add_column(sa.Column("shown_on", sa.JSON(), nullable=False, server_default="[]"))
    # Until now a face with consent was shown on every network its post went to
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT f.id, a.platform FROM image_faces f JOIN post_images i ON i.id = f.image_id "
        "JOIN post_accounts pa ON pa.post_id = i.post_id JOIN accounts a ON a.id = pa.account_id "
        "WHERE f.verdict = 'consented'")).all()
    shown: dict[int, set[str]] = {}
    for face_id, platform in rows:
        shown.setdefault(face_id, set()).add(platform)
    for face_id, platforms in shown.items():
        bind.execute(sa.text("UPDATE image_faces SET shown_on = :shown WHERE id = :id"),
                     {"shown": json.dumps(sorted(platforms)), "id": face_id})


def downgrade() -> None:
    with op.batch_alter_table("image_faces") as batch_op:
        batch_op.drop_column("shown_on")
    op.drop_index("ix_image_renditions_image_id", "image_renditions")
    op.drop_table("image_renditions")
