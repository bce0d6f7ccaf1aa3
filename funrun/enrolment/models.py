"""Contribution schedules (as data, with effective dates), enrolments and export batches."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.events.models import Event
from funrun.extensions import db
from funrun.people.models import Person
from funrun.registration.models import PrivacyNotice, Registration


class ContributionSchedule(db.Model):
    """One version of the contribution rules, in force from ``effective_from``.

    Loaded from ``funrun/enrolment/data/schedules.json`` and editable by admins; the
    version in force on the enrolment date prices the enrolment.
    """

    __tablename__ = "contribution_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable name in the data file, e.g. ``bpu-2015``; loading again updates it.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    effective_from: Mapped[date]
    #: Last day in force; None while no later version replaces it.
    effective_to: Mapped[date | None]
    #: The lowest declared income accepted (the lowest income basis), whole rupiah.
    min_income: Mapped[int]
    max_income: Mapped[int | None]
    #: False while the bracket table is provisional (not yet checked against the
    #: regulation): administrators see the mark.
    brackets_complete: Mapped[bool] = mapped_column(default=False)
    #: Where the bracket table comes from (and, while provisional, what it awaits).
    brackets_source: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    rates: Mapped[list[ContributionRate]] = relationship(
        cascade="all, delete-orphan", order_by="ContributionRate.programme", lazy="selectin"
    )
    brackets: Mapped[list[IncomeBracket]] = relationship(
        cascade="all, delete-orphan", order_by="IncomeBracket.income_from", lazy="selectin"
    )
    reliefs: Mapped[list[ContributionRelief]] = relationship(
        cascade="all, delete-orphan", order_by="ContributionRelief.id", lazy="selectin"
    )
    sectors: Mapped[list[ContributionSector]] = relationship(
        cascade="all, delete-orphan", order_by="ContributionSector.id", lazy="selectin"
    )

    def sector_of(self, occupation: str | None) -> str | None:
        """The sector an occupation belongs to in this schedule (None: in no sector)."""
        for sector in self.sectors:
            if occupation in sector.occupation_list:
                return sector.code
        return None


class ContributionRate(db.Model):
    """A programme's price in a schedule: a rate of the income basis or a flat amount."""

    __tablename__ = "contribution_rates"
    __table_args__ = (
        UniqueConstraint("schedule_id", "programme"),
        CheckConstraint("(rate_bp IS NULL) <> (flat_amount IS NULL)", name="rate_or_flat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    #: JKK, JKM or JHT.
    programme: Mapped[str] = mapped_column(String(8))
    #: Rate of the income basis in basis points (1% = 100): exact, no floats anywhere.
    rate_bp: Mapped[int | None]
    #: A flat monthly amount in whole rupiah (JKM).
    flat_amount: Mapped[int | None]
    #: The member may choose it (JHT for informal workers); otherwise always included.
    optional: Mapped[bool] = mapped_column(default=False)


class IncomeBracket(db.Model):
    """Declared incomes from ``income_from`` to ``income_to`` pay on ``basis``."""

    __tablename__ = "income_brackets"
    __table_args__ = (UniqueConstraint("schedule_id", "income_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    income_from: Mapped[int]
    #: None: no upper end.
    income_to: Mapped[int | None]
    #: The income basis the rates apply to; None: the declared income itself.
    basis: Mapped[int | None]


class ContributionSector(db.Model):
    """A group of occupations that reliefs name (e.g. transport: ojek and angkot drivers)."""

    __tablename__ = "contribution_sectors"
    __table_args__ = (UniqueConstraint("schedule_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    code: Mapped[str] = mapped_column(String(32))
    #: The name in Bahasa Indonesia and in English.
    name: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    #: Comma-separated occupation codes (funrun.enrolment.choices.OCCUPATIONS).
    occupations: Mapped[str] = mapped_column(Text)

    @property
    def occupation_list(self) -> list[str]:
        """The occupation codes as a list."""
        return self.occupations.split(",") if self.occupations else []


class ContributionRelief(db.Model):
    """A relief (e.g. PP 50/2025): programmes discounted by a share, in some months.

    Which contribution months it covers is said by its periods, each for one sector or
    for every sector.
    """

    __tablename__ = "contribution_reliefs"
    __table_args__ = (UniqueConstraint("schedule_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    code: Mapped[str] = mapped_column(String(32))
    #: The name in Bahasa Indonesia and in English.
    name: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160), default="")
    #: Discount in basis points of each programme's amount (99% = 9900).
    discount_bp: Mapped[int]
    #: Comma-separated programmes the relief applies to, e.g. ``JKK,JKM``.
    programmes: Mapped[str] = mapped_column(String(32))
    #: Not for members whose contributions a public budget (APBN/APBD) pays.
    excludes_public_budget: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(Text, default="")

    periods: Mapped[list[ReliefPeriod]] = relationship(
        cascade="all, delete-orphan", order_by="ReliefPeriod.id", lazy="selectin"
    )

    @property
    def programme_list(self) -> list[str]:
        """The programmes as a list, e.g. ``["JKK", "JKM"]``."""
        return self.programmes.split(",")


class ReliefPeriod(db.Model):
    """The contribution months a relief covers, for one sector (or every sector)."""

    __tablename__ = "relief_periods"
    __table_args__ = (CheckConstraint("first_month <= last_month", name="months_in_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    relief_id: Mapped[int] = mapped_column(ForeignKey("contribution_reliefs.id"), index=True)
    #: A sector code of the schedule; None: every member, whatever the sector.
    sector: Mapped[str | None] = mapped_column(String(32))
    #: The first and last contribution months covered (the first day of each month).
    first_month: Mapped[date]
    last_month: Mapped[date]


class Sponsor(db.Model):
    """Someone who pays members' contributions, e.g. a provincial budget (APBD DKI)."""

    __tablename__ = "sponsors"
    __table_args__ = (
        CheckConstraint(
            "budget_member_months IS NULL OR budget_member_months >= 0", name="budget_months"
        ),
        CheckConstraint("budget_rupiah IS NULL OR budget_rupiah >= 0", name="budget_rupiah"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    #: APBN/APBD money: some relief rules do not apply to it.
    public_budget: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: The budget: member-months it pays for, or rupiah; None for no limit of that kind.
    budget_member_months: Mapped[int | None]
    budget_rupiah: Mapped[int | None] = mapped_column(BigInteger)
    #: A partner (aggregator) that is also this sponsor, if any.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Counter(db.Model):
    """Named counters taken by a conditional UPDATE under the row lock (never max()+1)."""

    __tablename__ = "enrolment_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class ExportBatch(db.Model):
    """A numbered batch of enrolments for the scheme's core system, kept as first made."""

    __tablename__ = "export_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 1, 2, 3 ... from a counter, so numbers have no gaps.
    number: Mapped[int] = mapped_column(unique=True)
    count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The files exactly as first made (encrypted: they carry NIKs), so a re-download
    #: is byte for byte the same.
    csv_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    json_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    csv_sha256: Mapped[str] = mapped_column(String(64))
    json_sha256: Mapped[str] = mapped_column(String(64))


class ExportAccess(db.Model):
    """Who downloaded which batch file, and when (the files carry NIKs)."""

    __tablename__ = "export_access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("export_batches.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: "csv", "json", or "create" for the download that made the batch.
    action: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enrolment(db.Model):
    """A runner enrolled at the venue: one per person, whatever the city."""

    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint("months IN (1, 3, 6, 12)", name="months_known"),
        CheckConstraint("(sponsor_id IS NULL) <> (payment_channel IS NULL)", name="payer_known"),
        CheckConstraint("amount_due >= 0 AND sponsor_amount >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 11 digits: a counter and a Luhn check digit; unique and never handed out twice.
    participant_number: Mapped[str] = mapped_column(String(11), unique=True)
    #: One enrolment per person (NIK), in any city: the database's own guard.
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    #: The registration this enrolment marks as enrolled.
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(100))
    birth_place: Mapped[str] = mapped_column(String(60))
    mother_maiden_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    #: E.164, as on the registration.
    phone: Mapped[str] = mapped_column(String(20))
    #: A listed code (funrun.enrolment.choices.OCCUPATIONS).
    occupation: Mapped[str] = mapped_column(String(24))
    occupation_other: Mapped[str | None] = mapped_column(String(80))
    #: What the runner declared, and the basis the schedule's bracket gave it.
    declared_income: Mapped[int]
    income_basis: Mapped[int]
    #: Comma-separated, e.g. ``JKK,JKM,JHT``.
    programmes: Mapped[str] = mapped_column(String(32))
    months: Mapped[int]
    payment_channel: Mapped[str | None] = mapped_column(String(16))
    #: Indexed: a sponsor's budget used is summed over its enrolments under its row lock.
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("sponsors.id"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    #: Relief codes applied, comma-separated ("" for none).
    reliefs: Mapped[str] = mapped_column(String(100), default="")
    #: Monthly amounts per programme and in total, whole rupiah, as quoted and charged.
    jkk: Mapped[int]
    jkm: Mapped[int]
    jht: Mapped[int]
    monthly_total: Mapped[int]
    #: What the runner pays now (0 when a sponsor pays) and what the sponsor owes.
    amount_due: Mapped[int]
    sponsor_amount: Mapped[int]
    valid_from: Mapped[date]
    #: Last day of the last covered month (the first covered month is the month of
    #: ``valid_from``).
    paid_until: Mapped[date]
    #: The cash receipt's number (kuitansi), e.g. ``KW-2026-000001``; None when not paid
    #: in cash at the desk.
    receipt_number: Mapped[str | None] = mapped_column(String(24), unique=True)
    enrolment_notice_id: Mapped[int] = mapped_column(ForeignKey("privacy_notices.id"))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: "desk" or "api".
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The export batch that carried it; set once, by the batch that took it.
    export_batch_id: Mapped[int | None] = mapped_column(ForeignKey("export_batches.id"), index=True)
    #: When the personal fields were purged (funrun.privacy); None while held.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()
    registration: Mapped[Registration] = relationship()
    event: Mapped[Event] = relationship()
    sponsor: Mapped[Sponsor | None] = relationship()
    schedule: Mapped[ContributionSchedule] = relationship()
    enrolment_notice: Mapped[PrivacyNotice] = relationship()
    covered_months: Mapped[list[EnrolmentMonth]] = relationship(
        order_by="EnrolmentMonth.month", lazy="selectin", viewonly=True
    )

    @property
    def programme_list(self) -> list[str]:
        """The programmes as a list, e.g. ``["JKK", "JKM"]``."""
        return self.programmes.split(",")


class EnrolmentMonth(db.Model):
    """One covered month of an enrolment, priced on its own: what was charged for it."""

    __tablename__ = "enrolment_months"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "month"),
        CheckConstraint("total = jkk + jkm + jht", name="total_adds_up"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    #: The first day of the covered month.
    month: Mapped[date] = mapped_column(index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("contribution_schedules.id"))
    jkk: Mapped[int]
    jkm: Mapped[int]
    jht: Mapped[int]
    total: Mapped[int]
    #: The relief applied that month (its code), if any.
    relief: Mapped[str | None] = mapped_column(String(32))
