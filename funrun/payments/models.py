"""Payment files imported from the scheme, and the monthly payments they recorded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class PaymentFile(db.Model):
    """One file as imported (``flask payments import``): counts and who loaded it."""

    __tablename__ = "payment_files"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    #: The file's SHA-256: the same file loaded twice is answered with the first import.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentRefusal(db.Model):
    """A row of a payment file that was not recorded, and why."""

    __tablename__ = "payment_refusals"
    __table_args__ = (UniqueConstraint("file_id", "row"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("payment_files.id", ondelete="CASCADE"))
    #: 1 for the first line after the header.
    row: Mapped[int]
    errors: Mapped[dict[str, Any]] = mapped_column(JSON)


class Payment(db.Model):
    """An enrolled member's contribution received for one month (from a payment file)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "month"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("month_number >= 1", name="month_number_positive"),
        # The figures and the funnel read the first three covered months only.
        Index("ix_payments_month_number", "month_number", "enrolment_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    #: The first day of the month paid for.
    month: Mapped[date]
    #: Which of the member's covered months it is: 1 for the month of enrolment (the
    #: month of ``enrolments.valid_from``), 2 for the next... Set by the import.
    month_number: Mapped[int]
    amount: Mapped[int]
    file_id: Mapped[int] = mapped_column(ForeignKey("payment_files.id"), index=True)
