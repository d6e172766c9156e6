"""In-app inbox

Revision ID: 0007
Revises: 0006
The inbox of each recipient (one row per in-app item, its read state) and the
last sequence number given in it.

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        'inbox_items',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('service', sa.String(length=100), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('seq', SEQUENCE, nullable=False),
        sa.Column('title', sa.String(length=255), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('data', JSONB, nullable=True),
        sa.Column('action_url', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['id'], ['notifications.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_inbox_items_recipient_seq', 'inbox_items', ['service', 'recipient', 'seq'],
                    unique=True)
    op.create_table(
        'inbox_sequences',
        sa.Column('service', sa.String(length=100), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('last_seq', SEQUENCE, nullable=False),
        sa.PrimaryKeyConstraint('service', 'recipient'),
    )


def downgrade():
    op.drop_table('inbox_sequences')
    op.drop_index('ix_inbox_items_recipient_seq', table_name='inbox_items')
    op.drop_table('inbox_items')
