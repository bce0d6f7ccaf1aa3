"""Disputed registrations voided at the desk (issue 15, point 2).

Reviewed by hand.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
