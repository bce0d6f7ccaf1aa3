"""Money right in every month (issue 17): covered months priced one by one.

Reviewed by hand:

* ``contribution_sectors``: occupations grouped into the sectors reliefs name;
* ``relief_periods``: the contribution months a relief covers, per sector; a relief's own
  ``starts_on``/``ends_on`` move there (as a period for every sector, from the month of
  ``starts_on`` to the month of ``ends_on``) and are dropped;
* ``contribution_reliefs.name_en`` and ``contribution_schedules.brackets_source``;
* ``enrolment_months``: one row per covered month of an enrolment. Existing enrolments
  were priced as one monthly total: each of their months gets that total, and the first
  relief they recorded;
* ``enrolments.receipt_number``: the cash receipt (kuitansi).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 23:30:00
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _month(day, add=0):
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    index = day.year * 12 + day.month - 1 + add
    return date(index // 12, index % 12 + 1, 1)


def _move_relief_dates():
    bind = op.get_bind()
    periods = sa.table(
        "relief_periods",
        sa.column("relief_id", sa.Integer),
        sa.column("sector", sa.String),
        sa.column("first_month", sa.Date),
        sa.column("last_month", sa.Date),
    )
    rows = bind.execute(sa.text("SELECT id, starts_on, ends_on FROM contribution_reliefs")).all()
    values = [
        {"relief_id": r[0], "sector": None, "first_month": _month(r[1]), "last_month": _month(r[2])}
        for r in rows
    ]
    if values:
        bind.execute(periods.insert(), values)


def _backfill_months():
    bind = op.get_bind()
    months = sa.table(
        "enrolment_months",
        sa.column("enrolment_id", sa.Integer),
        sa.column("month", sa.Date),
        sa.column("schedule_id", sa.Integer),
        sa.column("jkk", sa.Integer),
        sa.column("jkm", sa.Integer),
        sa.column("jht", sa.Integer),
        sa.column("total", sa.Integer),
        sa.column("relief", sa.String),
    )
    rows = bind.execute(
        sa.text(
            "SELECT id, valid_from, months, schedule_id, jkk, jkm, jht, reliefs FROM enrolments"
        )
    ).all()
    values = [
        {
            "enrolment_id": r[0],
            "month": _month(r[1], i),
            "schedule_id": r[3],
            "jkk": r[4],
            "jkm": r[5],
            "jht": r[6],
            "total": r[4] + r[5] + r[6],
            "relief": (r[7] or "").split(",")[0] or None,
        }
        for r in rows
        for i in range(r[2])
    ]
    for start in range(0, len(values), 1000):
        bind.execute(months.insert(), values[start : start + 1000])


def upgrade():
    op.create_table(
        "contribution_sectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("name_en", sa.String(length=160), nullable=False),
        sa.Column("occupations", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["contribution_schedules.id"],
            name=op.f("fk_contribution_sectors_schedule_id_contribution_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_sectors")),
        sa.UniqueConstraint(
            "schedule_id", "code", name=op.f("uq_contribution_sectors_schedule_id_code")
        ),
    )
    op.create_table(
        "relief_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("relief_id", sa.Integer(), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=True),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "first_month <= last_month", name=op.f("ck_relief_periods_months_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["relief_id"],
            ["contribution_reliefs.id"],
            name=op.f("fk_relief_periods_relief_id_contribution_reliefs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relief_periods")),
    )
    with op.batch_alter_table("relief_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_relief_periods_relief_id"), ["relief_id"], unique=False
        )

    op.create_table(
        "enrolment_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("jkk", sa.Integer(), nullable=False),
        sa.Column("jkm", sa.Integer(), nullable=False),
        sa.Column("jht", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("relief", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "total = jkk + jkm + jht", name=op.f("ck_enrolment_months_total_adds_up")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolments.id"],
            name=op.f("fk_enrolment_months_enrolment_id_enrolments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["contribution_schedules.id"],
            name=op.f("fk_enrolment_months_schedule_id_contribution_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_months")),
        sa.UniqueConstraint(
            "enrolment_id", "month", name=op.f("uq_enrolment_months_enrolment_id_month")
        ),
    )
    with op.batch_alter_table("enrolment_months", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_months_month"), ["month"], unique=False)

    _move_relief_dates()
    _backfill_months()
    with op.batch_alter_table("contribution_reliefs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_en", sa.String(length=160), nullable=False, server_default="")
        )
        batch_op.drop_column("starts_on")
        batch_op.drop_column("ends_on")

    with op.batch_alter_table("contribution_schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("brackets_source", sa.Text(), nullable=False, server_default="")
        )

    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_number", sa.String(length=24), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_enrolments_receipt_number"), ["receipt_number"]
        )


def downgrade():
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_enrolments_receipt_number"), type_="unique")
        batch_op.drop_column("receipt_number")

    with op.batch_alter_table("contribution_schedules", schema=None) as batch_op:
        batch_op.drop_column("brackets_source")

    with op.batch_alter_table("contribution_reliefs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_on", sa.DATE(), nullable=True))
        batch_op.add_column(sa.Column("starts_on", sa.DATE(), nullable=True))
        batch_op.drop_column("name_en")
    # A relief spans its periods again: from the first day of its first month to the last
    # day of its last month; a relief without periods gets an empty span of its own.
    bind = op.get_bind()
    spans = bind.execute(
        sa.text(
            "SELECT r.id, MIN(p.first_month), MAX(p.last_month) FROM contribution_reliefs r "
            "LEFT JOIN relief_periods p ON p.relief_id = r.id GROUP BY r.id"
        )
    ).all()
    reliefs = sa.table(
        "contribution_reliefs",
        sa.column("id", sa.Integer),
        sa.column("starts_on", sa.Date),
        sa.column("ends_on", sa.Date),
    )
    for relief_id, first, last in spans:
        first = _month(first) if first is not None else date(1970, 1, 1)
        last = _month(last, 1) - timedelta(days=1) if last is not None else first
        bind.execute(
            reliefs.update().where(reliefs.c.id == relief_id).values(starts_on=first, ends_on=last)
        )
    with op.batch_alter_table("contribution_reliefs", schema=None) as batch_op:
        batch_op.alter_column("starts_on", existing_type=sa.DATE(), nullable=False)
        batch_op.alter_column("ends_on", existing_type=sa.DATE(), nullable=False)

    with op.batch_alter_table("enrolment_months", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_months_month"))

    op.drop_table("enrolment_months")
    with op.batch_alter_table("relief_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relief_periods_relief_id"))

    op.drop_table("relief_periods")
    op.drop_table("contribution_sectors")
