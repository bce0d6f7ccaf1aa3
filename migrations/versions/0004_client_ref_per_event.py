"""A client_ref is unique per event, not across every event.

Reviewed by hand: devices number their scans; two events must not share answers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:57:35.744715
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.drop_index('uq_scan_log_client_ref')
        batch_op.create_index('uq_scan_log_event_client_ref', ['event_id', 'client_ref'], unique=True, sqlite_where=sa.text('client_ref IS NOT NULL'), postgresql_where=sa.text('client_ref IS NOT NULL'))



def downgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.drop_index('uq_scan_log_event_client_ref', sqlite_where=sa.text('client_ref IS NOT NULL'), postgresql_where=sa.text('client_ref IS NOT NULL'))
        batch_op.create_index('uq_scan_log_client_ref', ['client_ref'], unique=True, sqlite_where=sa.text('client_ref IS NOT NULL'), postgresql_where=sa.text('client_ref IS NOT NULL'))

