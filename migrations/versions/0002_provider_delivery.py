"""Provider delivery

Revision ID: 0002
Revises: 0001
Push options, test-mode notifications, SMS segments, and provider health for /ready.

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('provider_health',
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('sandbox', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('segments', sa.Integer(), nullable=True))




def downgrade():

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('segments')
        batch_op.drop_column('sandbox')
        batch_op.drop_column('options')

    op.drop_table('provider_health')

