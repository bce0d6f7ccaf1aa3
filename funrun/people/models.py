"""A person, known by NIK, who may register for several cities."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from funrun.dbtypes import UTCDateTime, utcnow
from funrun.extensions import db


class Person(db.Model):
    """The identity behind registrations: NIK (encrypted), birth date and gender.

    Contact details live on each registration, as given for that event; the identity
    fields here are the ones the NIK itself encodes.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: HMAC of the NIK under FUNRUN_DATA_KEY: finds a person without decrypting.
    nik_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: AES-GCM ciphertext of the NIK; only roles that need it ever decrypt it.
    nik_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    birth_date: Mapped[date]
    #: "M" or "F", as the NIK encodes it (women's birth day + 40).
    gender: Mapped[str] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the NIK and birth day were purged (funrun.privacy); None while held.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
