"""Background jobs in a real worker and batch PDFs on disk (issue 16, point 4).

Reviewed by hand: the ``jobs`` outbox table (claimed by ``flask worker``) and, on
``print_jobs``, the PDF bytes (``pdf``, bytea) replaced by the size of the file the worker
writes to the file store (``pdf_size``). PDFs held in the database are not carried over:
a finished job's row says it has no file, and its bibs can be printed again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"], unique=False)
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf_size", sa.Integer(), nullable=True))
        batch_op.drop_column("pdf")


def downgrade():
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("pdf_size")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_table("jobs")
