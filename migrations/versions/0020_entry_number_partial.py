"""A ballot entry's number is unique in its event through a partial index.

Only ballot entries carry a number; as a unique constraint every registration's insert
(the registration rush's one statement) still wrote a (event_id, NULL) entry into its
index. The partial index keeps the same rule (numbers unique in an event) and leaves
the others out.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

WHERE = sa.text('entry_number IS NOT NULL')


def upgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_registrations_event_id_entry_number', type_='unique')
    op.create_index(
        'uq_registrations_event_id_entry_number',
        'registrations',
        ['event_id', 'entry_number'],
        unique=True,
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade():
    op.drop_index('uq_registrations_event_id_entry_number', table_name='registrations')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            'uq_registrations_event_id_entry_number', ['event_id', 'entry_number']
        )
