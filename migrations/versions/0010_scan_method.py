"""How a check-in code was entered and whether the ID card was checked (issue 15, point 3).

Reviewed by hand: two columns on scan_log. ``method`` is "scan" (a camera or a handheld
scanner read the code) or "typed" (a person typed a bib number), NULL for an undo; a
CHECK constraint keeps it to those. ``id_checked`` says the volunteer compared the ID
card (false for every earlier row). Earlier scans get their method from ``code_kind``:
a typed code was typed, a QR was scanned.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

METHOD_KNOWN = "method IN ('scan', 'typed')"


def upgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column('id_checked', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE scan_log SET method = CASE code_kind WHEN 'typed' THEN 'typed'"
        " WHEN 'qr' THEN 'scan' END"
    )
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_scan_log_method_known'), METHOD_KNOWN)


def downgrade():
    with op.batch_alter_table('scan_log', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_scan_log_method_known'), type_='check')
        batch_op.drop_column('id_checked')
        batch_op.drop_column('method')
