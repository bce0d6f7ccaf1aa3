"""A waitlist position is read from the numbers that left the waitlist (partial index).

A position was the waitlisted ahead, counted: every waitlisted registration's answer read
the whole waitlist before it, a registration rush's waitlist growing by thousands. The
numbers have no gaps, so a position is its number less those that left the waitlist
(promoted, held or cancelled): this index holds only those, and a registration's insert
maintains no entry in it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 13:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

WHERE = sa.text("waitlist_seq IS NOT NULL AND status <> 'waitlisted'")


def upgrade():
    op.create_index(
        'ix_registrations_left_waitlist',
        'registrations',
        ['event_id', 'waitlist_seq'],
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade():
    op.drop_index('ix_registrations_left_waitlist', table_name='registrations')
