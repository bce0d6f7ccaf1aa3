"""Runners hear from us (issue 18): the message outbox and organisers' broadcasts.

Reviewed by hand:

* ``messages``: one row per message to a runner on one channel, queued in the
  transaction of the change that causes it and claimed by the worker; ``key`` is its
  idempotency key (unique);
* ``broadcasts``: an organiser's message to an event's confirmed runners;
* ``events.reminder_days_before`` (existing events: 3, checked 1-30) and
  ``events.pickup_hours``, for the race-week reminder;
* ``registrations.manage_token_encrypted`` (messages carry the runner's link; earlier
  registrations have none) and ``registrations.reminders_off``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 21:55:37.400154
"""

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.String(length=150), nullable=False),
    sa.Column('body_id', sa.String(length=2000), nullable=False),
    sa.Column('subject_en', sa.String(length=150), nullable=True),
    sa.Column('body_en', sa.String(length=2000), nullable=True),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_broadcasts_author_id_users')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_broadcasts_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_event_id'), ['event_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('broadcast_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_to', sa.String(length=120), nullable=True),
    sa.Column('provider_ref', sa.String(length=200), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'whatsapp', 'sms')", name=op.f('ck_messages_channel_known')),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'held', 'failed', 'bounced', 'skipped')", name=op.f('ck_messages_status_known')),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_messages_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_messages_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_messages_registration_id_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_messages_key'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_broadcast_id'), ['broadcast_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('ix_messages_status_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('reminder_days_before', sa.Integer(), server_default='3', nullable=True)
        )
        batch_op.add_column(sa.Column('pickup_hours', sa.String(length=300), nullable=True))
    op.execute("UPDATE events SET reminder_days_before = 3")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_check_constraint(
            'reminder_days_before_range', 'reminder_days_before BETWEEN 1 AND 30'
        )

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manage_token_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('reminders_off', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('reminders_off')
        batch_op.drop_column('manage_token_encrypted')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint('reminder_days_before_range', type_='check')
        batch_op.drop_column('pickup_hours')
        batch_op.drop_column('reminder_days_before')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status_due')
        batch_op.drop_index(batch_op.f('ix_messages_registration_id'))
        batch_op.drop_index(batch_op.f('ix_messages_event_id'))
        batch_op.drop_index(batch_op.f('ix_messages_broadcast_id'))

    op.drop_table('messages')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcasts_event_id'))

    op.drop_table('broadcasts')
