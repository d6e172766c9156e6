"""Webhooks: endpoints, messages and attempts; idempotency keys for requests that make no notification

Revision ID: 0010
Revises: 0009
Status callbacks to calling services (signed, retried, logged), and an idempotency key that
may remember an answer naming no single notification (a replay by filter).

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT = sa.Integer().with_variant(postgresql.BIGINT(), "postgresql")


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('service', sa.String(length=100), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('event_types', JSONB, nullable=False),
        sa.Column('description', sa.String(length=500), nullable=True),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('previous_secret', sa.String(length=100), nullable=True),
        sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_endpoints_service', 'webhook_endpoints', ['service'])
    op.create_table(
        'webhook_messages',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('endpoint_id', sa.Uuid(), nullable=False),
        sa.Column('notification_id', sa.Uuid(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dispatch_token', sa.Uuid(), nullable=False),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_messages_notification_id', 'webhook_messages', ['notification_id'])
    op.create_index('ix_webhook_messages_endpoint_created', 'webhook_messages',
                    ['endpoint_id', 'created_at', 'id'])
    op.create_index('ix_webhook_messages_pending_due', 'webhook_messages', ['next_attempt_at'],
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
    op.create_table(
        'webhook_attempts',
        sa.Column('id', BIGINT, autoincrement=True, nullable=False),
        sa.Column('message_id', sa.Uuid(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('response_excerpt', sa.Text(), nullable=True),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['webhook_messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_attempts_message_id', 'webhook_attempts', ['message_id'])
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.alter_column('notification_id', existing_type=sa.Uuid(), nullable=True)


def downgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.alter_column('notification_id', existing_type=sa.Uuid(), nullable=False)
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_messages')
    op.drop_table('webhook_endpoints')
