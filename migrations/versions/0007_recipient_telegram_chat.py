"""Recipients' Telegram chat

Revision ID: 0007
Revises: 0006
A stored recipient's Telegram chat (a chat id, or a public channel's @username), for the telegram
channel's sends by recipient_id.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('telegram_chat_id', sa.String(length=33), nullable=True))


def downgrade():
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_column('telegram_chat_id')
