"""Groups, sponsors and payments (issue 20).

Reviewed by hand:

* ``group_imports`` (a partner's batch of members for an event, unique per partner and
  import key) and ``group_import_refusals`` (the rows refused, with their errors);
* ``registrations``: status ``held`` (a group member's place, with a bib and
  ``hold_expires_at``, confirmed by the member alone), ``partner_id`` (the aggregator who
  brought the runner), ``group_import_id``; consent may wait for a group member's own
  confirmation (``consent_at`` and ``privacy_notice_id`` nullable only for a group's
  registrations: checked);
* ``events.group_hold_days`` (7, checked 1-60);
* ``sponsors``: budget in member-months and/or rupiah, and the partner that is the
  sponsor; ``sponsor_eligibles``: the keyed hashes of the NIKs a sponsor pays for;
* ``payment_files``, ``payment_refusals`` and ``payments`` (one per enrolment and month);
* ``users.organisation``: a partner's organisation name.

No data changes: every existing registration has its consent.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 01:02:42.472959
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'done', 'failed')", name=op.f('ck_payment_files_status_known')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_payment_files_imported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_files')),
    sa.UniqueConstraint('sha256', name=op.f('uq_payment_files_sha256'))
    )
    op.create_table('group_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('import_key', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('body_format', sa.String(length=8), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_path', sa.String(length=255), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("body_format IN ('json', 'csv')", name=op.f('ck_group_imports_format_known')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_group_imports_status_known')),
    sa.CheckConstraint('processed_rows >= 0 AND accepted >= 0 AND refused >= 0', name=op.f('ck_group_imports_counts_positive')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_group_imports_event_id_events')),
    sa.ForeignKeyConstraint(['partner_id'], ['users.id'], name=op.f('fk_group_imports_partner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_imports')),
    sa.UniqueConstraint('partner_id', 'import_key', name=op.f('uq_group_imports_partner_id_import_key'))
    )
    with op.batch_alter_table('group_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_imports_event_id'), ['event_id'], unique=False)

    op.create_table('payment_refusals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['payment_files.id'], name=op.f('fk_payment_refusals_file_id_payment_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refusals')),
    sa.UniqueConstraint('file_id', 'row', name=op.f('uq_payment_refusals_file_id_row'))
    )
    op.create_table('sponsor_eligibles',
    sa.Column('sponsor_id', sa.Integer(), nullable=False),
    sa.Column('nik_hash', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_sponsor_eligibles_sponsor_id_sponsors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sponsor_id', 'nik_hash', name=op.f('pk_sponsor_eligibles'))
    )
    with op.batch_alter_table('sponsor_eligibles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sponsor_eligibles_nik_hash'), ['nik_hash'], unique=False)

    op.create_table('group_import_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['group_imports.id'], name=op.f('fk_group_import_refusals_import_id_group_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_import_refusals')),
    sa.UniqueConstraint('import_id', 'row', name=op.f('uq_group_import_refusals_import_id_row'))
    )
    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_payments_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['file_id'], ['payment_files.id'], name=op.f('fk_payments_file_id_payment_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('enrolment_id', 'month', name=op.f('uq_payments_enrolment_id_month'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_file_id'), ['file_id'], unique=False)

    # --- payments-funnel: which covered month a payment is (1 = the month of enrolment),
    # set by the import, so the figures read the first three months by an index.
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('month_number', sa.Integer(), nullable=False))
        batch_op.create_check_constraint('month_number_positive', 'month_number >= 1')
        batch_op.create_index(
            'ix_payments_month_number', ['month_number', 'enrolment_id'], unique=False
        )
    # --- end payments-funnel

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_hold_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.create_check_constraint('group_hold_days_range', 'group_hold_days BETWEEN 1 AND 60')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('group_import_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('privacy_notice_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('consent_at',
               existing_type=postgresql.TIMESTAMP(timezone=True),
               nullable=True)
        # Partial: a runner who came alone (most) costs neither index on insert.
        batch_op.create_index(
            'ix_registrations_group_import_id', ['group_import_id'], unique=False,
            sqlite_where=sa.text('group_import_id IS NOT NULL'),
            postgresql_where=sa.text('group_import_id IS NOT NULL'),
        )
        batch_op.create_index(
            'ix_registrations_partner_id', ['partner_id'], unique=False,
            sqlite_where=sa.text('partner_id IS NOT NULL'),
            postgresql_where=sa.text('partner_id IS NOT NULL'),
        )
        batch_op.create_foreign_key(batch_op.f('fk_registrations_group_import_id_group_imports'), 'group_imports', ['group_import_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_registrations_partner_id_users'), 'users', ['partner_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_registrations_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('confirmed', 'waitlisted', 'cancelled', 'held')"
        )
        batch_op.create_check_constraint('held_bib', "status <> 'held' OR bib_number IS NOT NULL")
        batch_op.create_check_constraint(
            'held_until', "status <> 'held' OR hold_expires_at IS NOT NULL"
        )
        batch_op.create_check_constraint(
            'consent_given', 'consent_at IS NOT NULL OR group_import_id IS NOT NULL'
        )

    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('budget_member_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_rupiah', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sponsors_partner_id_users'), 'users', ['partner_id'], ['id'])
        batch_op.create_check_constraint(
            'budget_months', 'budget_member_months IS NULL OR budget_member_months >= 0'
        )
        batch_op.create_check_constraint(
            'budget_rupiah', 'budget_rupiah IS NULL OR budget_rupiah >= 0'
        )

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation', sa.String(length=160), nullable=True))

    # A sponsor's budget used is summed over its enrolments while its row is locked.
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolments_sponsor_id'), ['sponsor_id'], unique=False)

    # --- groups-import: a waitlisted row of an import is noted beside its refusals.
    with op.batch_alter_table('group_import_refusals', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('waitlisted', sa.Boolean(), server_default=sa.false(), nullable=False)
        )



def downgrade():
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolments_sponsor_id'))

    # --- groups-import
    with op.batch_alter_table('group_import_refusals', schema=None) as batch_op:
        batch_op.drop_column('waitlisted')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('organisation')

    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_sponsors_budget_rupiah'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_sponsors_budget_months'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_sponsors_partner_id_users'), type_='foreignkey')
        batch_op.drop_column('partner_id')
        batch_op.drop_column('budget_rupiah')
        batch_op.drop_column('budget_member_months')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_registrations_consent_given'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_registrations_held_until'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_registrations_held_bib'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_registrations_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('confirmed', 'waitlisted', 'cancelled')"
        )
        batch_op.drop_constraint(batch_op.f('fk_registrations_partner_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_registrations_group_import_id_group_imports'), type_='foreignkey')
        batch_op.drop_index('ix_registrations_partner_id')
        batch_op.drop_index('ix_registrations_group_import_id')
        batch_op.alter_column('consent_at',
               existing_type=postgresql.TIMESTAMP(timezone=True),
               nullable=False)
        batch_op.alter_column('privacy_notice_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('hold_expires_at')
        batch_op.drop_column('group_import_id')
        batch_op.drop_column('partner_id')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_events_group_hold_days_range'), type_='check')
        batch_op.drop_column('group_hold_days')

    # --- payments-funnel
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_month_number')
        batch_op.drop_constraint(batch_op.f('ck_payments_month_number_positive'), type_='check')
        batch_op.drop_column('month_number')
    # --- end payments-funnel

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_file_id'))

    op.drop_table('payments')
    op.drop_table('group_import_refusals')
    with op.batch_alter_table('sponsor_eligibles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sponsor_eligibles_nik_hash'))

    op.drop_table('sponsor_eligibles')
    op.drop_table('payment_refusals')
    with op.batch_alter_table('group_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_imports_event_id'))

    op.drop_table('group_imports')
    op.drop_table('payment_files')
