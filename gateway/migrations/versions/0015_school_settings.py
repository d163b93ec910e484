"""each school's own settings (retention, face detector) and link lists; MIS ids unique within a school

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# SQLite reflects an unnamed unique constraint without a name; in batch mode this convention gives it the name
# drop_constraint is then given. PostgreSQL named it itself (<table>_<columns>_key), and reflection says so.
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _replace_unique(table: str, old: list[str], new: list[str], before=lambda batch: None) -> None:
    """Drop the unique constraint on `old`, whatever it was named, and make a named one on `new`."""
    found = next(c["name"] for c in sa.inspect(op.get_bind()).get_unique_constraints(table)
                 if c["column_names"] == old)
    with op.batch_alter_table(table, naming_convention=CONVENTION) as batch:
        before(batch)
        batch.drop_constraint(found or f"uq_{table}_{'_'.join(old)}", type_="unique")
        batch.create_unique_constraint(f"uq_{table}_{'_'.join(new)}", new)


def _link_rules_school(batch) -> None:
    batch.add_column(sa.Column("school_id", sa.Integer(), nullable=True))  # None: every school's (the trust's)
    batch.create_index("ix_link_rules_school_id", ["school_id"])
    batch.create_foreign_key("fk_link_rules_school_id", "schools", ["school_id"], ["id"])


def _no_link_rules_school(batch) -> None:
    batch.drop_constraint("fk_link_rules_school_id", type_="foreignkey")
    batch.drop_index("ix_link_rules_school_id")


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))  # None: the installation's
        batch.add_column(sa.Column("face_detector", sa.String(length=20), nullable=True))
    _replace_unique("people", ["mis_id"], ["school_id", "mis_id"])
    _replace_unique("link_rules", ["kind", "entry"], ["school_id", "entry"], _link_rules_school)


def downgrade() -> None:
    op.execute("DELETE FROM link_rules WHERE school_id IS NOT NULL")  # a school's own rules have no place before
    _replace_unique("link_rules", ["school_id", "entry"], ["kind", "entry"], _no_link_rules_school)
    with op.batch_alter_table("link_rules") as batch:
        batch.drop_column("school_id")
    _replace_unique("people", ["school_id", "mis_id"], ["mis_id"])
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("face_detector")
        batch.drop_column("retention_days")
