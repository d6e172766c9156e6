"""Relay promotion index

Revision ID: 0006
Revises: 0005
An index on the due time of pending rows that were never published: the relay's chunks read
only what they promote, however many rows wait in the broker or far in the future.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

UNENQUEUED = "status IN ('scheduled', 'retrying') AND enqueued_at IS NULL"


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_unenqueued_due', ['deliver_at'], unique=False,
                              postgresql_where=sa.text(UNENQUEUED), sqlite_where=sa.text(UNENQUEUED))


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_unenqueued_due', postgresql_where=sa.text(UNENQUEUED),
                            sqlite_where=sa.text(UNENQUEUED))
