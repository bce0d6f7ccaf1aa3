"""Events' bib prefixes in capitals, enforced, and indexed: a typed bib's is looked up.

The check-in statement tells a typed bib of another event (``wrong_event``, with that
event's city) from one whose prefix no event has (``invalid``) in the same round trip as
the scan. The event form already stored prefixes in capitals (events.editing); the check
makes it a rule of the data, so the lookup compares the column as it is and the plan the
fast path's connections keep reads the index, not the table
(tests/checkin/test_fastpath.py).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text('UPDATE events SET bib_prefix = upper(bib_prefix)'))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_check_constraint('bib_prefix_upper', 'bib_prefix = upper(bib_prefix)')
        batch_op.create_index('ix_events_bib_prefix', ['bib_prefix'], unique=False)


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_bib_prefix')
        batch_op.drop_constraint(batch_op.f('ck_events_bib_prefix_upper'), type_='check')
