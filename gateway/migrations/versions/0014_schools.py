"""schools: every record that belongs to one says which; the installation's first school is school 1

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OWNED = ("accounts", "posts", "people")  # every existing row is the first school's


def upgrade() -> None:
    schools = op.create_table(
        "schools",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.bulk_insert(schools, [{"name": None, "domains": []}])  # school 1: its id from the sequence, which moves on
    for name in OWNED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("school_id", sa.Integer(), nullable=False, server_default="1"))
            batch.create_index(f"ix_{name}_school_id", ["school_id"])
            batch.create_foreign_key(f"fk_{name}_school_id", "schools", ["school_id"], ["id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        batch.create_index("ix_users_school_id", ["school_id"])
        batch.create_foreign_key("fk_users_school_id", "schools", ["school_id"], ["id"])
    op.execute("UPDATE users SET school_id = 1")
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        batch.create_index("ix_audit_log_school_id", ["school_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_school_id")
        batch.drop_column("school_id")
    for name in ("users", *OWNED):
        with op.batch_alter_table(name) as batch:
            batch.drop_constraint(f"fk_{name}_school_id", type_="foreignkey")
            batch.drop_index(f"ix_{name}_school_id")
            batch.drop_column("school_id")
    op.drop_table("schools")
