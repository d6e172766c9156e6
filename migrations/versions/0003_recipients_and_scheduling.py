"""Recipients and scheduling

Revision ID: 0003
Revises: 0002
Recipients with their preferences, notification groups (device fan-out, reminders), quiet hours on each notification.

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('notification_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offsets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('template', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('recipients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('push_tokens', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('quiet_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('opted_out', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('service', 'external_id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_ref', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('group_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('reminder_offset', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quiet_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('schedule_detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_group_id'), ['group_id'], unique=False)
        batch_op.create_foreign_key('fk_notifications_group_id', 'notification_groups', ['group_id'], ['id'])




def downgrade():

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_notifications_group_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notifications_group_id'))
        batch_op.drop_column('schedule_detail')
        batch_op.drop_column('quiet_hours')
        batch_op.drop_column('reminder_offset')
        batch_op.drop_column('group_id')
        batch_op.drop_column('recipient_ref')

    op.drop_table('recipients')
    op.drop_table('notification_groups')

