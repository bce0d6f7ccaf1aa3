"""Disputed registrations voided at the desk (issue 15, point 2).

Reviewed by hand: three nullable columns on registrations (when, by whom, why a
registration holding someone else's NIK was voided) and a check that a disputed
registration is cancelled; no data changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disputed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dispute_reason", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_registrations_disputed_by_id_users"), "users", ["disputed_by_id"], ["id"]
        )
        batch_op.create_check_constraint(
            "disputed_cancelled", "disputed_at IS NULL OR status = 'cancelled'"
        )


def downgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_disputed_cancelled"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_registrations_disputed_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("dispute_reason")
        batch_op.drop_column("disputed_by_id")
        batch_op.drop_column("disputed_at")
