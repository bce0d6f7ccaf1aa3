"""Queued offline scans say what the device answered, so conflicts can be found.

Reviewed by hand: a nullable column (no rewrite of existing rows) and a partial index
that holds only the conflicts (an offline "checked in" the server found already
checked in).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CONFLICT_WHERE = "offline_answer = 'checked_in' AND result = 'already_checked_in'"


def upgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_answer', sa.String(length=24), nullable=True))
        batch_op.create_index('ix_scan_log_event_conflicts', ['event_id'], unique=False, sqlite_where=sa.text(CONFLICT_WHERE), postgresql_where=sa.text(CONFLICT_WHERE))


def downgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_log_event_conflicts', sqlite_where=sa.text(CONFLICT_WHERE), postgresql_where=sa.text(CONFLICT_WHERE))
        batch_op.drop_column('offline_answer')
