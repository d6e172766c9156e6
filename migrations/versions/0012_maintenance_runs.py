"""Maintenance runs

Revision ID: 0012
Revises: 0011
When each periodic job (relay, sweeper) last started: a run claims its period here, so two beats
never run a job twice in one period.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'maintenance_runs',
        sa.Column('job', sa.String(length=40), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('worker', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('job'),
    )


def downgrade():
    op.drop_table('maintenance_runs')
