"""Check-ins (one active per runner and station) and the scan log.

Reviewed by hand: the two partial unique indexes carry the rules (one active check-in
per registration and station; one answer per client_ref).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:31:38.054088
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('station', sa.String(length=16), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scanned_by_id', sa.Integer(), nullable=True),
    sa.Column('device', sa.String(length=64), nullable=True),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_checkins_event_id_events')),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_checkins_registration_id_registrations')),
    sa.ForeignKeyConstraint(['scanned_by_id'], ['users.id'], name=op.f('fk_checkins_scanned_by_id_users')),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_checkins_undone_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('ix_checkins_event_station', ['event_id', 'station', 'checked_in_at'], unique=False)
        batch_op.create_index('uq_checkins_active', ['registration_id', 'station'], unique=True, sqlite_where=sa.text('undone_at IS NULL'), postgresql_where=sa.text('undone_at IS NULL'))

    op.create_table('scan_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('station', sa.String(length=16), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=True),
    sa.Column('client_ref', sa.String(length=64), nullable=True),
    sa.Column('result', sa.String(length=24), nullable=False),
    sa.Column('code_kind', sa.String(length=8), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.Column('bib_number', sa.Integer(), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkins.id'], name=op.f('fk_scan_log_checkin_id_checkins')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_scan_log_event_id_events')),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_scan_log_registration_id_registrations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scan_log_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_log'))
    )
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.create_index('ix_scan_log_event_received', ['event_id', 'received_at'], unique=False)
        batch_op.create_index('uq_scan_log_client_ref', ['client_ref'], unique=True, sqlite_where=sa.text('client_ref IS NOT NULL'), postgresql_where=sa.text('client_ref IS NOT NULL'))



def downgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.drop_index('uq_scan_log_client_ref', sqlite_where=sa.text('client_ref IS NOT NULL'), postgresql_where=sa.text('client_ref IS NOT NULL'))
        batch_op.drop_index('ix_scan_log_event_received')

    op.drop_table('scan_log')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('uq_checkins_active', sqlite_where=sa.text('undone_at IS NULL'), postgresql_where=sa.text('undone_at IS NULL'))
        batch_op.drop_index('ix_checkins_event_station')

    op.drop_table('checkins')
