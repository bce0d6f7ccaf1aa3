"""Migration 0014 brings existing reliefs and enrolments along, and goes back, on SQLite and
PostgreSQL: a relief's ``starts_on``/``ends_on`` become one period for every sector (from
the month of one to the month of the other); each covered month of an existing enrolment
gets a row with the enrolment's monthly amounts and the first relief it recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

import funrun.models  # noqa: F401  (every table in the metadata)
from funrun.enrolment.models import (
    ContributionRelief,
    ContributionSchedule,
    Enrolment,
    EnrolmentMonth,
    ReliefPeriod,
)
from funrun.enrolment.quotes import price
from funrun.extensions import db
from tests.test_integrity_constraints import insert, insert_registration, seed

AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

#: The two tables 0014 changes, as they are at 0013 (the models already have 0014's columns).
SCHEDULES_0013 = sa.table(
    "contribution_schedules",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("effective_from", sa.Date),
    sa.column("effective_to", sa.Date),
    sa.column("min_income", sa.Integer),
    sa.column("max_income", sa.Integer),
    sa.column("brackets_complete", sa.Boolean),
    sa.column("source", sa.Text),
    sa.column("notes", sa.Text),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
RELIEFS_0013 = sa.table(
    "contribution_reliefs",
    sa.column("id", sa.Integer),
    sa.column("schedule_id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("starts_on", sa.Date),
    sa.column("ends_on", sa.Date),
    sa.column("discount_bp", sa.Integer),
    sa.column("programmes", sa.String),
    sa.column("excludes_public_budget", sa.Boolean),
    sa.column("source", sa.Text),
)


def columns(table_name: str) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table_name)}


def tables() -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _insert(table: sa.TableClause, **values: object) -> int:
    return db.session.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()


def enrolment(ids: dict[str, int], schedule: int, registration: int, person: int, **kw) -> int:  # type: ignore[no-untyped-def]
    """An enrolment row as 0013 stored it (one monthly price for every month)."""
    row = {
        "person_id": person,
        "registration_id": registration,
        "event_id": ids["event"],
        "full_name": "Budi",
        "birth_place": "Jakarta",
        "mother_maiden_name": "Sri",
        "address": "Jl. Kebon Sirih 10",
        "phone": "+6281234567890",
        "occupation": "trader",
        "declared_income": 1_000_000,
        "income_basis": 1_000_000,
        "programmes": "JKK,JKM",
        "payment_channel": "cash",
        "schedule_id": schedule,
        "enrolment_notice_id": ids["notice"],
        "consent_at": AT,
        "source": "desk",
        "created_at": AT,
    }
    return insert("enrolments", **(row | kw))


def build_0013() -> dict[str, int]:
    """At 0013: a schedule with rates and two reliefs, and three enrolments (1, 3, 1 months)."""
    upgrade(revision="0013")
    ids = seed()
    schedule = _insert(
        SCHEDULES_0013,
        code="bpu-2015",
        name="BPU 2015",
        effective_from=date(2015, 7, 1),
        effective_to=None,
        min_income=1_000_000,
        max_income=None,
        brackets_complete=False,
        source="PP 44/2015",
        notes="",
        updated_at=AT,
    )
    for programme, rate, flat in (("JKK", 100, None), ("JKM", None, 6_800), ("JHT", 200, None)):
        insert(
            "contribution_rates",
            schedule_id=schedule,
            programme=programme,
            rate_bp=rate,
            flat_amount=flat,
            optional=programme == "JHT",
        )
    relief = {"schedule_id": schedule, "programmes": "JKK,JKM", "source": ""}
    pp49 = _insert(
        RELIEFS_0013,
        code="pp-49-2020",
        name="Relaksasi iuran PP 49/2020",
        starts_on=date(2020, 8, 15),  # mid-month: the period starts with the month
        ends_on=date(2021, 1, 20),
        discount_bp=9_900,
        excludes_public_budget=False,
        **relief,
    )
    pp50 = _insert(
        RELIEFS_0013,
        code="pp-50-2025",
        name="Keringanan iuran PP 50/2025",
        starts_on=date(2026, 4, 1),
        ends_on=date(2026, 12, 31),
        discount_bp=5_000,
        excludes_public_budget=True,
        **relief,
    )
    sponsor = insert("sponsors", code="apbd-dki", name="APBD DKI", public_budget=True, active=True)
    second = insert_registration(
        ids["event"], ids["second_person"], ids["notice"], status="confirmed", bib=2
    )
    third_person = insert(
        "people", nik_hash="m" * 64, nik_encrypted=b"x", birth_date=date(1992, 1, 1), gender="M"
    )
    third = insert_registration(
        ids["event"], third_person, ids["notice"], status="confirmed", bib=3
    )
    one_month = enrolment(
        ids,
        schedule,
        ids["registration"],
        ids["person"],
        participant_number="00000000018",
        programmes="JKK,JKM,JHT",
        months=1,
        reliefs="pp-49-2020",
        jkk=100,
        jkm=68,
        jht=20_000,
        monthly_total=20_168,
        amount_due=20_168,
        sponsor_amount=0,
        valid_from=date(2020, 9, 17),
        paid_until=date(2020, 9, 30),
    )
    # Three months from 30 Nov 2026, across the year end; two relief codes recorded.
    three_months = enrolment(
        ids,
        schedule,
        second,
        ids["second_person"],
        participant_number="00000000026",
        months=3,
        reliefs="pp-50-2025,pp-49-2020",
        jkk=5_000,
        jkm=3_400,
        jht=0,
        monthly_total=8_400,
        amount_due=25_200,
        sponsor_amount=0,
        valid_from=date(2026, 11, 30),
        paid_until=date(2027, 2, 28),
    )
    sponsored = enrolment(
        ids,
        schedule,
        third,
        third_person,
        participant_number="00000000034",
        months=1,
        payment_channel=None,
        sponsor_id=sponsor,
        reliefs="",
        jkk=10_000,
        jkm=6_800,
        jht=0,
        monthly_total=16_800,
        amount_due=0,
        sponsor_amount=16_800,
        valid_from=date(2026, 5, 2),
        paid_until=date(2026, 5, 31),
    )
    db.session.commit()
    db.session.remove()
    return {
        "schedule": schedule,
        "pp49": pp49,
        "pp50": pp50,
        "one_month": one_month,
        "three_months": three_months,
        "sponsored": sponsored,
    }


def stored_months() -> list[tuple]:
    db.session.remove()
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                EnrolmentMonth.enrolment_id,
                EnrolmentMonth.month,
                EnrolmentMonth.schedule_id,
                EnrolmentMonth.jkk,
                EnrolmentMonth.jkm,
                EnrolmentMonth.jht,
                EnrolmentMonth.total,
                EnrolmentMonth.relief,
            ).order_by(EnrolmentMonth.enrolment_id, EnrolmentMonth.month)
        )
    ]


def expected_months(ids: dict[str, int]) -> list[tuple]:
    s = ids["schedule"]
    return [
        (ids["one_month"], date(2020, 9, 1), s, 100, 68, 20_000, 20_168, "pp-49-2020"),
        (ids["three_months"], date(2026, 11, 1), s, 5_000, 3_400, 0, 8_400, "pp-50-2025"),
        (ids["three_months"], date(2026, 12, 1), s, 5_000, 3_400, 0, 8_400, "pp-50-2025"),
        (ids["three_months"], date(2027, 1, 1), s, 5_000, 3_400, 0, 8_400, "pp-50-2025"),
        (ids["sponsored"], date(2026, 5, 1), s, 10_000, 6_800, 0, 16_800, None),
    ]


def test_upgrade_backfills_periods_and_months_and_downgrade_goes_back(fresh_app):
    ids = build_0013()
    assert {"starts_on", "ends_on"} <= columns("contribution_reliefs")

    upgrade(revision="0014")
    # Each relief's dates became one period for every sector, by month.
    periods = db.session.execute(
        select(
            ReliefPeriod.relief_id,
            ReliefPeriod.sector,
            ReliefPeriod.first_month,
            ReliefPeriod.last_month,
        ).order_by(ReliefPeriod.relief_id)
    ).all()
    assert [tuple(p) for p in periods] == [
        (ids["pp49"], None, date(2020, 8, 1), date(2021, 1, 1)),
        (ids["pp50"], None, date(2026, 4, 1), date(2026, 12, 1)),
    ]
    assert not {"starts_on", "ends_on"} & columns("contribution_reliefs")
    assert db.session.scalars(select(ContributionRelief.name_en)).all() == ["", ""]
    assert db.session.scalar(select(ContributionSchedule.brackets_source)) == ""
    # One row per covered month, with the enrolment's monthly amounts and first relief.
    assert stored_months() == expected_months(ids)
    for enrolment_row in db.session.scalars(select(Enrolment).order_by(Enrolment.id)):
        assert enrolment_row.receipt_number is None
        assert len(enrolment_row.covered_months) == enrolment_row.months
        assert sum(m.total for m in enrolment_row.covered_months) == (
            enrolment_row.amount_due + enrolment_row.sponsor_amount
        )
    # The migrated periods price: a month inside PP 49/2020 is cut by 99%, one after is not.
    inside = price(
        date(2021, 1, 31), declared_income=1_000_000, programmes=("JKK", "JKM"), months=1,
        occupation="trader",
    )  # fmt: skip
    assert (inside.jkk, inside.jkm, inside.relief_codes) == (100, 68, ("pp-49-2020",))
    after = price(
        date(2021, 2, 1), declared_income=1_000_000, programmes=("JKK", "JKM"), months=1,
        occupation="trader",
    )  # fmt: skip
    assert (after.jkk, after.jkm, after.relief_codes) == (10_000, 6_800, ())
    db.session.remove()

    downgrade(revision="0013")
    assert not {"enrolment_months", "relief_periods", "contribution_sectors"} & tables()
    assert {"starts_on", "ends_on"} <= columns("contribution_reliefs")
    assert "name_en" not in columns("contribution_reliefs")
    assert "brackets_source" not in columns("contribution_schedules")
    assert "receipt_number" not in columns("enrolments")
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0013"
        reliefs = conn.execute(
            text("SELECT id, starts_on, ends_on FROM contribution_reliefs ORDER BY id")
        ).all()
        enrolments = conn.execute(
            text("SELECT id, months, amount_due, sponsor_amount FROM enrolments ORDER BY id")
        ).all()

    def as_date(value: object) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])

    # Each relief spans its periods again: from the first month's first day to the last
    # month's last day (0013 compared the enrolment date with both), and NOT NULL again.
    spans = {r[0]: (as_date(r[1]), as_date(r[2])) for r in reliefs}
    assert spans[ids["pp49"]] == (date(2020, 8, 1), date(2021, 1, 31))
    assert spans[ids["pp50"]] == (date(2026, 4, 1), date(2026, 12, 31))
    nullable = {
        c["name"]: c["nullable"] for c in sa.inspect(db.engine).get_columns("contribution_reliefs")
    }
    assert nullable["starts_on"] is False and nullable["ends_on"] is False
    # The enrolments are kept as they were.
    assert [tuple(e) for e in enrolments] == [
        (ids["one_month"], 1, 20_168, 0),
        (ids["three_months"], 3, 25_200, 0),
        (ids["sponsored"], 1, 0, 16_800),
    ]

    # And up again: the same months, periods from the restored dates.
    upgrade(revision="0014")
    assert stored_months() == expected_months(ids)
    restored = db.session.execute(
        select(ReliefPeriod.relief_id, ReliefPeriod.first_month, ReliefPeriod.last_month)
        .order_by(ReliefPeriod.relief_id)
    ).all()  # fmt: skip
    assert [tuple(p) for p in restored] == [
        (ids["pp49"], date(2020, 8, 1), date(2021, 1, 1)),
        (ids["pp50"], date(2026, 4, 1), date(2026, 12, 1)),
    ]
