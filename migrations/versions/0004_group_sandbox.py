"""Groups know whether test keys made them

Revision ID: 0004
Revises: 0003
A test key sees only sandbox notifications and groups, a live key only live ones:
notification_groups gains the `sandbox` flag notifications already have, taken
from their members for the groups that exist.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sandbox', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.execute(
        "UPDATE notification_groups SET sandbox = true WHERE EXISTS ("
        "SELECT 1 FROM notifications WHERE notifications.group_id = notification_groups.id "
        "AND notifications.sandbox)"
    )


def downgrade():
    with op.batch_alter_table('notification_groups', schema=None) as batch_op:
        batch_op.drop_column('sandbox')
