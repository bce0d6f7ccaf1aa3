"""Bib colour per event, bib numbers capped at 5 digits, batch print jobs.

Reviewed by hand: the new NOT NULL column gets a server default for existing events,
and the bib range check (not seen by autogenerate) is replaced to cap bib_last.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:01:40.814270
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('print_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_print_jobs_event_id_events')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_print_jobs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_jobs'))
    )
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_jobs_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('bib_colour', sa.String(length=7), nullable=False, server_default='#0A7A3D')
        )
        batch_op.drop_constraint(op.f('ck_events_bib_range'), type_='check')
        batch_op.create_check_constraint(
            'bib_range', 'bib_first >= 0 AND bib_first <= bib_last AND bib_last <= 99999'
        )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('bib_colour', server_default=None)



def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_events_bib_range'), type_='check')
        batch_op.create_check_constraint('bib_range', 'bib_first >= 0 AND bib_first <= bib_last')
        batch_op.drop_column('bib_colour')

    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_jobs_event_id'))

    op.drop_table('print_jobs')
