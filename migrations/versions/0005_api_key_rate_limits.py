"""API key rate limits

Revision ID: 0005
Revises: 0004
Each API key may carry its own write and read budgets; NULL means the default from the settings.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('write_rate_limit', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('read_rate_limit', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('read_rate_limit')
        batch_op.drop_column('write_rate_limit')
