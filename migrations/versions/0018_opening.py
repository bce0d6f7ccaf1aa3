"""A fair opening (issue 21): ballots, place pools and the orderly queue.

Reviewed by hand:

* ``events.opening`` (``first_come`` or ``ballot``); a ballot's entries are counted on the
  event row (``ballot_entries``, numbering them), its seed is committed to by its SHA-256
  before the window opens (``ballot_seed_sha256``), kept encrypted until the draw
  (``ballot_seed_encrypted``) and published after it (``ballot_seed``, ``ballot_drawn_at``);
* place pools on the event row, so that a place is still taken by one conditional UPDATE
  of one row: ``pool_non_member`` and ``pool_partner`` places (with what each has
  taken), flowing to the general pool at ``pools_flow_at`` (``pools_flowed_at``: when
  the worker promoted the waitlist into what flowed);
* ``events.admit_rate``: the orderly queue's admissions a second (None: no queue);
* ``registrations``: status ``entered`` (a ballot entry, with its ``entry_number``),
  ``ballot_rank`` (its place in the draw) and ``pool`` (the pool its place came from).

No data changes: every existing event is first come, without pools or a queue.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('opening', sa.String(length=12), server_default='first_come', nullable=False)
        )
        batch_op.add_column(sa.Column('ballot_entries', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ballot_seed_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ballot_seed_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('ballot_seed', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ballot_drawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pool_non_member', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(
            sa.Column('pool_non_member_taken', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('pool_partner', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(
            sa.Column('pool_partner_taken', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('pools_flow_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pools_flowed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('admit_rate', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('opening_known', "opening IN ('first_come', 'ballot')")
        batch_op.create_check_constraint(
            'ballot_committed', "opening <> 'ballot' OR ballot_seed_sha256 IS NOT NULL"
        )
        batch_op.create_check_constraint('ballot_entries_positive', 'ballot_entries >= 0')
        batch_op.create_check_constraint(
            'pools_within_quota',
            'pool_non_member >= 0 AND pool_partner >= 0 AND pool_non_member + pool_partner <= quota',
        )
        batch_op.create_check_constraint(
            'pools_taken',
            'pool_non_member_taken BETWEEN 0 AND pool_non_member'
            ' AND pool_partner_taken BETWEEN 0 AND pool_partner',
        )
        batch_op.create_check_constraint(
            'admit_rate_range', 'admit_rate IS NULL OR admit_rate BETWEEN 1 AND 10000'
        )

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ballot_rank', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pool', sa.String(length=12), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_registrations_event_id_entry_number'), ['event_id', 'entry_number']
        )
        batch_op.drop_constraint(batch_op.f('ck_registrations_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('confirmed', 'waitlisted', 'cancelled', 'held', 'entered')"
        )
        batch_op.create_check_constraint(
            'entered_number', "status <> 'entered' OR entry_number IS NOT NULL"
        )
        batch_op.create_check_constraint(
            'pool_known', "pool IS NULL OR pool IN ('non_member', 'partner')"
        )


def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_registrations_pool_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_registrations_entered_number'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_registrations_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('confirmed', 'waitlisted', 'cancelled', 'held')"
        )
        batch_op.drop_constraint(
            batch_op.f('uq_registrations_event_id_entry_number'), type_='unique'
        )
        batch_op.drop_column('pool')
        batch_op.drop_column('ballot_rank')
        batch_op.drop_column('entry_number')

    with op.batch_alter_table('events', schema=None) as batch_op:
        for name in (
            'admit_rate_range', 'pools_taken', 'pools_within_quota', 'ballot_entries_positive',
            'ballot_committed', 'opening_known',
        ):
            batch_op.drop_constraint(batch_op.f(f'ck_events_{name}'), type_='check')
        for name in (
            'admit_rate', 'pools_flowed_at', 'pools_flow_at', 'pool_partner_taken', 'pool_partner',
            'pool_non_member_taken', 'pool_non_member', 'ballot_drawn_at', 'ballot_seed',
            'ballot_seed_encrypted', 'ballot_seed_sha256', 'ballot_entries', 'opening',
        ):
            batch_op.drop_column(name)
