"""On-site enrolment: contribution schedules as data, enrolments, export batches.

Reviewed by hand: enrolments.person_id is unique (one enrolment per NIK, any city) and
so is registration_id (the registration it marks as enrolled); participant and batch
numbers come from enrolment_counters rows, which the services create on first use.
Integer columns hold whole rupiah (validation caps amounts well below 2**31).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:01:47.732182
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enrolment_counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_enrolment_counters'))
    )
    op.create_table('sponsors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('public_budget', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsors')),
    sa.UniqueConstraint('code', name=op.f('uq_sponsors_code'))
    )
    op.create_table('contribution_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('min_income', sa.Integer(), nullable=False),
    sa.Column('max_income', sa.Integer(), nullable=True),
    sa.Column('brackets_complete', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_contribution_schedules_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_schedules')),
    sa.UniqueConstraint('code', name=op.f('uq_contribution_schedules_code'))
    )
    op.create_table('export_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('csv_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('json_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('csv_sha256', sa.String(length=64), nullable=False),
    sa.Column('json_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_export_batches_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_batches')),
    sa.UniqueConstraint('number', name=op.f('uq_export_batches_number'))
    )
    op.create_table('contribution_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('programme', sa.String(length=8), nullable=False),
    sa.Column('rate_bp', sa.Integer(), nullable=True),
    sa.Column('flat_amount', sa.Integer(), nullable=True),
    sa.Column('optional', sa.Boolean(), nullable=False),
    sa.CheckConstraint('(rate_bp IS NULL) <> (flat_amount IS NULL)', name=op.f('ck_contribution_rates_rate_or_flat')),
    sa.ForeignKeyConstraint(['schedule_id'], ['contribution_schedules.id'], name=op.f('fk_contribution_rates_schedule_id_contribution_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_rates')),
    sa.UniqueConstraint('schedule_id', 'programme', name=op.f('uq_contribution_rates_schedule_id_programme'))
    )
    op.create_table('contribution_reliefs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('programmes', sa.String(length=32), nullable=False),
    sa.Column('excludes_public_budget', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['contribution_schedules.id'], name=op.f('fk_contribution_reliefs_schedule_id_contribution_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_reliefs')),
    sa.UniqueConstraint('schedule_id', 'code', name=op.f('uq_contribution_reliefs_schedule_id_code'))
    )
    op.create_table('export_access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['export_batches.id'], name=op.f('fk_export_access_log_batch_id_export_batches')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_access_log_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_access_log'))
    )
    with op.batch_alter_table('export_access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_access_log_batch_id'), ['batch_id'], unique=False)

    op.create_table('income_brackets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('income_from', sa.Integer(), nullable=False),
    sa.Column('income_to', sa.Integer(), nullable=True),
    sa.Column('basis', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['contribution_schedules.id'], name=op.f('fk_income_brackets_schedule_id_contribution_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_income_brackets')),
    sa.UniqueConstraint('schedule_id', 'income_from', name=op.f('uq_income_brackets_schedule_id_income_from'))
    )
    op.create_table('enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_number', sa.String(length=11), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=100), nullable=False),
    sa.Column('birth_place', sa.String(length=60), nullable=False),
    sa.Column('mother_maiden_name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('occupation', sa.String(length=24), nullable=False),
    sa.Column('occupation_other', sa.String(length=80), nullable=True),
    sa.Column('declared_income', sa.Integer(), nullable=False),
    sa.Column('income_basis', sa.Integer(), nullable=False),
    sa.Column('programmes', sa.String(length=32), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('payment_channel', sa.String(length=16), nullable=True),
    sa.Column('sponsor_id', sa.Integer(), nullable=True),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('reliefs', sa.String(length=100), nullable=False),
    sa.Column('jkk', sa.Integer(), nullable=False),
    sa.Column('jkm', sa.Integer(), nullable=False),
    sa.Column('jht', sa.Integer(), nullable=False),
    sa.Column('monthly_total', sa.Integer(), nullable=False),
    sa.Column('amount_due', sa.Integer(), nullable=False),
    sa.Column('sponsor_amount', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('paid_until', sa.Date(), nullable=False),
    sa.Column('enrolment_notice_id', sa.Integer(), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enrolled_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('export_batch_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(sponsor_id IS NULL) <> (payment_channel IS NULL)', name=op.f('ck_enrolments_payer_known')),
    sa.CheckConstraint('amount_due >= 0 AND sponsor_amount >= 0', name=op.f('ck_enrolments_amounts')),
    sa.CheckConstraint('months IN (1, 3, 6, 12)', name=op.f('ck_enrolments_months_known')),
    sa.ForeignKeyConstraint(['enrolled_by_id'], ['users.id'], name=op.f('fk_enrolments_enrolled_by_id_users')),
    sa.ForeignKeyConstraint(['enrolment_notice_id'], ['privacy_notices.id'], name=op.f('fk_enrolments_enrolment_notice_id_privacy_notices')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_enrolments_event_id_events')),
    sa.ForeignKeyConstraint(['export_batch_id'], ['export_batches.id'], name=op.f('fk_enrolments_export_batch_id_export_batches')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_enrolments_person_id_people')),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_enrolments_registration_id_registrations')),
    sa.ForeignKeyConstraint(['schedule_id'], ['contribution_schedules.id'], name=op.f('fk_enrolments_schedule_id_contribution_schedules')),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_enrolments_sponsor_id_sponsors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolments')),
    sa.UniqueConstraint('participant_number', name=op.f('uq_enrolments_participant_number')),
    sa.UniqueConstraint('person_id', name=op.f('uq_enrolments_person_id')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_enrolments_registration_id'))
    )
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolments_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_export_batch_id'), ['export_batch_id'], unique=False)



def downgrade():
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolments_export_batch_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_event_id'))

    op.drop_table('enrolments')
    op.drop_table('income_brackets')
    with op.batch_alter_table('export_access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_access_log_batch_id'))

    op.drop_table('export_access_log')
    op.drop_table('contribution_reliefs')
    op.drop_table('contribution_rates')
    op.drop_table('export_batches')
    op.drop_table('contribution_schedules')
    op.drop_table('sponsors')
    op.drop_table('enrolment_counters')
