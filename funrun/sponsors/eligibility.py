"""Who is eligible for a sponsor: the desk's and the API's choice of payer.

A runner whose NIK (by its keyed hash) is on an active sponsor's list, with budget left,
is eligible: the desk says so and pre-selects the sponsor as the payer, and an enrolment
that names no payer at all (neither a payment channel nor a sponsor, as the API may send
it) is charged to that sponsor. A payer chosen explicitly is kept: the runner may still
pay themselves. Whether the chosen sponsor may pay is checked by
:func:`funrun.sponsors.budget.check` (before the confirm step) and again, under the
sponsor's row lock, by :func:`funrun.sponsors.budget.charge` when the enrolment is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.people.crypto import data_cipher
from funrun.people.models import Person
from funrun.people.rules import is_blank
from funrun.sponsors.budget import ELIGIBLES, Budget, budget_of

if TYPE_CHECKING:
    from funrun.registration.models import Registration
    from funrun.registration.validation import RegistrationData


@dataclass(frozen=True)
class Offer:
    """An active sponsor that lists the runner and has budget left."""

    code: str
    name: str
    budget: Budget


def offers_for(nik_hash: str | None) -> list[Offer]:
    """The active sponsors listing this NIK with budget left, by name."""
    if not nik_hash:
        return []
    sponsors = db.session.execute(
        select(Sponsor.id, Sponsor.code, Sponsor.name, Sponsor.budget_member_months,
               Sponsor.budget_rupiah)
        .join(ELIGIBLES, ELIGIBLES.c.sponsor_id == Sponsor.id)
        .where(ELIGIBLES.c.nik_hash == nik_hash, Sponsor.active)
        .order_by(Sponsor.name, Sponsor.id)
    ).all()  # fmt: skip
    offers = []
    for row in sponsors:
        budget = budget_of(row.id, row.budget_member_months, row.budget_rupiah)
        if budget.has_left:
            offers.append(Offer(row.code, row.name, budget))
    return offers


def nik_hash_of(person: RegistrationData | None, registration: Registration | None) -> str | None:
    """The keyed hash of the NIK being enrolled: a walk-up's typed one, or the scanned
    runner's (None when neither is known)."""
    if person is not None:
        return data_cipher().lookup_hash(person.nik)
    if registration is None:
        return None
    return db.session.scalar(select(Person.nik_hash).where(Person.id == registration.person_id))


def with_eligible_sponsor(raw: Mapping[str, Any], nik_hash: str | None) -> Mapping[str, Any]:
    """``raw`` with the eligible sponsor as payer when it names none (no channel, no
    sponsor); otherwise ``raw`` as it is."""
    if not (is_blank(raw.get("payment_channel")) and is_blank(raw.get("sponsor"))):
        return raw
    offers = offers_for(nik_hash)
    if not offers:
        return raw
    return {**raw, "payment_channel": None, "sponsor": offers[0].code}


def desk_offers(
    registration: Registration | None, person: RegistrationData | None = None
) -> list[Offer]:
    """What the desk tells of the runner (scanned, or a walk-up once their NIK is typed)."""
    return offers_for(nik_hash_of(person, registration))


def preselect(form: Any, offers: list[Offer]) -> None:
    """The desk form, first shown: the eligible sponsor chosen as the payer."""
    if offers and not form.payment_channel.data:
        form.payment_channel.data = "sponsor"
        form.sponsor.data = offers[0].code
