"""consent registry

Revision ID: 0002
Revises: 0001

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mis_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('preferred_name', sa.String(length=100), nullable=True),
    sa.Column('year_group', sa.String(length=40), nullable=True),
    sa.Column('leaving_date', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mis_id')
    )
    op.create_table('biometric_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('given_by', sa.String(length=200), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=True),
    sa.Column('child_objects', sa.Boolean(), nullable=False),
    sa.Column('evidence', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=300), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('biometric_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_biometric_consents_person_id'), ['person_id'], unique=False)

    op.create_table('face_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('face_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_templates_person_id'), ['person_id'], unique=False)

    op.create_table('photo_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('given_by', sa.String(length=200), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('evidence', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=300), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('photo_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_consents_person_id'), ['person_id'], unique=False)

    op.create_table('takedowns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=300), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('takedowns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_takedowns_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_takedowns_state'), ['state'], unique=False)

    op.create_table('image_faces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('box', sa.JSON(), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('obscured', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['post_images.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_faces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_faces_image_id'), ['image_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_faces_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('post_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manual_regions', sa.JSON(), nullable=False, server_default='[]'))




def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table('post_images', schema=None) as batch_op:
        batch_op.drop_column('manual_regions')

    with op.batch_alter_table('image_faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_faces_person_id'))
        batch_op.drop_index(batch_op.f('ix_image_faces_image_id'))

    op.drop_table('image_faces')
    with op.batch_alter_table('takedowns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_takedowns_state'))
        batch_op.drop_index(batch_op.f('ix_takedowns_post_id'))

    op.drop_table('takedowns')
    with op.batch_alter_table('photo_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_consents_person_id'))

    op.drop_table('photo_consents')
    with op.batch_alter_table('face_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_templates_person_id'))

    op.drop_table('face_templates')
    with op.batch_alter_table('biometric_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_biometric_consents_person_id'))

    op.drop_table('biometric_consents')
    op.drop_table('people')

