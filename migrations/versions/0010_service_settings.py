"""Service settings

Revision ID: 0010
Revises: 0006
Each service's settings, one immutable row per saved version, with what changed and which API key saved it.

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0006'
branch_labels = None
depends_on = None

JSONB = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table('service_settings_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('settings', JSONB, nullable=False),
    sa.Column('changes', JSONB, nullable=False),
    sa.Column('api_key_id', sa.Uuid(), nullable=False),
    sa.Column('api_key_prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'],
                            name='fk_service_settings_versions_api_key_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('service', 'version', name='uq_service_settings_versions_service_version')
    )


def downgrade():
    op.drop_table('service_settings_versions')
