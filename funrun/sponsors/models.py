"""Who a sponsor pays for: eligible NIKs, kept only as keyed hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class SponsorEligible(db.Model):
    """One person a sponsor pays for, by the keyed hash of their NIK (never the NIK)."""

    __tablename__ = "sponsor_eligibles"

    sponsor_id: Mapped[int] = mapped_column(
        ForeignKey("sponsors.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``data_cipher().lookup_hash(nik)``, as ``people.nik_hash``.
    nik_hash: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
