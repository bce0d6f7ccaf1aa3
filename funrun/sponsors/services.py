"""Managing sponsors: the overview with budgets used and left, creating and editing one.

A sponsor's code is fixed once made (export batches and statements name it). An edit runs
under the sponsor's row lock, like a charge (:mod:`funrun.sponsors.budget`), so a budget
is never set below what enrolments have already used of it. Every change is audited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from funrun.accounts.models import Role, User
from funrun.audit.services import record
from funrun.contracts import ValidationFailed
from funrun.dbtx import begin_write
from funrun.enrolment.models import Sponsor
from funrun.extensions import db
from funrun.people.rules import RuleBroken, is_blank, single_line
from funrun.sponsors.budget import ELIGIBLES, SPONSORS, Budget, rupiah_text, used

CODE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
MAX_NAME = 160
#: Digits with optional thousands separators: 250000000, 250.000.000, 250,000,000.
_AMOUNT = re.compile(r"(?:Rp\.?\s*)?([0-9]{1,3}(?:[.,\s][0-9]{3})+|[0-9]{1,15})")
#: Far below 2**63 (BIGINT); member-months fit an INTEGER.
MAX_RUPIAH = 10**15
MAX_MONTHS = 10**9


@dataclass(frozen=True)
class SponsorRow:
    """A sponsor as the overview and its page show it."""

    id: int
    code: str
    name: str
    public_budget: bool
    active: bool
    partner_id: int | None
    partner: str | None
    listed: int
    budget: Budget


def overview(code: str | None = None) -> list[SponsorRow]:
    """Every sponsor (or the one with ``code``) with its list's size and its budget."""
    counts = (
        select(ELIGIBLES.c.sponsor_id, func.count().label("n"))
        .group_by(ELIGIBLES.c.sponsor_id)
        .subquery()
    )
    query = (
        select(Sponsor, counts.c.n, User.email, User.organisation)
        .outerjoin(counts, counts.c.sponsor_id == Sponsor.id)
        .outerjoin(User, User.id == Sponsor.partner_id)
        .order_by(Sponsor.active.desc(), Sponsor.name)
    )
    if code is not None:
        query = query.where(Sponsor.code == code)
    rows = db.session.execute(query).all()
    spent = used([row[0].id for row in rows])
    out = []
    for sponsor, listed, email, organisation in rows:
        count, months, rupiah = spent.get(sponsor.id, (0, 0, 0))
        out.append(
            SponsorRow(
                id=sponsor.id,
                code=sponsor.code,
                name=sponsor.name,
                public_budget=sponsor.public_budget,
                active=sponsor.active,
                partner_id=sponsor.partner_id,
                partner=(f"{organisation} ({email})" if organisation else email) if email else None,
                listed=int(listed or 0),
                budget=Budget(
                    sponsor.budget_member_months, sponsor.budget_rupiah, months, rupiah, count
                ),
            )
        )
    return out


def partners() -> list[tuple[int, str]]:
    """Partner accounts a sponsor may be linked to: (id, label)."""
    rows = db.session.execute(
        select(User.id, User.email, User.organisation)
        .where(User.role == Role.PARTNER, User.active)
        .order_by(User.organisation, User.email)
    )
    return [(r.id, f"{r.organisation} ({r.email})" if r.organisation else r.email) for r in rows]


# --- checking the form ------------------------------------------------------------------


def _code(value: Any) -> str:
    text = single_line(value, max_length=32)
    if text is None or not CODE.fullmatch(text):
        raise RuleBroken(
            _l("Lower-case letters, digits and dashes, e.g. apbd-dki (at most 32 characters).")
        )
    return text


def _amount(value: Any, high: int) -> int | None:
    """An optional whole number typed with or without thousands separators."""
    if is_blank(value) or (isinstance(value, str) and not value.strip()):
        return None
    bad = _l("Enter a whole number, e.g. 250000000, or leave it empty for no limit.")
    if not isinstance(value, str):
        raise RuleBroken(bad)
    match = _AMOUNT.fullmatch(value.strip())
    if match is None:
        raise RuleBroken(bad)
    number = int(re.sub(r"[^0-9]", "", match.group(1)))
    if number > high:
        raise RuleBroken(bad)
    return number


def _partner(value: Any) -> int | None:
    if is_blank(value):
        return None
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) < 10
        and int(value) in {pid for pid, _label in partners()}
    ):
        return int(value)
    raise RuleBroken(_l("Choose one of the listed partner accounts."))


def clean(raw: Mapping[str, Any], *, new: bool) -> dict[str, Any]:
    """The sponsor's fields, checked (ValidationFailed with every field's messages)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    checks = {
        "name": lambda v: single_line(v, max_length=MAX_NAME),
        "budget_member_months": lambda v: _amount(v, MAX_MONTHS),
        "budget_rupiah": lambda v: _amount(v, MAX_RUPIAH),
        "partner_id": _partner,
    }
    if new:
        checks["code"] = _code
    for name, rule in checks.items():
        try:
            values[name] = rule(raw.get(name))
        except RuleBroken as broken:
            errors[name] = broken.messages
    if errors:
        raise ValidationFailed(errors)
    values["public_budget"] = bool(raw.get("public_budget"))
    values["active"] = bool(raw.get("active"))
    return values


def _describe(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {old.get(k)} -> {v}" for k, v in new.items() if old.get(k) != v)


def create(raw: Mapping[str, Any], *, user_id: int | None) -> str:
    """Store a new sponsor; its code."""
    values = clean(raw, new=True)
    begin_write()
    try:
        if db.session.scalar(select(Sponsor.id).where(Sponsor.code == values["code"])):
            raise ValidationFailed({"code": [_("A sponsor with this code exists already.")]})
        db.session.execute(SPONSORS.insert().values(**values))
        record("sponsor_edit", user_id=user_id, target=values["code"], detail="new sponsor")
        db.session.commit()
    except IntegrityError:  # the same code stored in the same instant
        db.session.rollback()
        raise ValidationFailed({"code": [_("A sponsor with this code exists already.")]}) from None
    except BaseException:
        db.session.rollback()
        raise
    return values["code"]


def update(code: str, raw: Mapping[str, Any], *, user_id: int | None) -> None:
    """Save a sponsor's fields under its row lock; a budget below what is used is refused."""
    values = clean(raw, new=False)
    begin_write()
    try:
        row = db.session.execute(
            select(SPONSORS).where(SPONSORS.c.code == code).with_for_update()
        ).one()
        _count, months, rupiah = used([row.id]).get(row.id, (0, 0, 0))
        errors: dict[str, list[str]] = {}
        if values["budget_member_months"] is not None and values["budget_member_months"] < months:
            errors["budget_member_months"] = [
                _("Enrolments have already used %(n)d member-months of it.", n=months)
            ]
        if values["budget_rupiah"] is not None and values["budget_rupiah"] < rupiah:
            errors["budget_rupiah"] = [
                _("Enrolments have already used %(amount)s of it.", amount=rupiah_text(rupiah))
            ]
        if errors:
            raise ValidationFailed(errors)
        db.session.execute(SPONSORS.update().where(SPONSORS.c.id == row.id).values(**values))
        changes = _describe(row._mapping, values)
        if changes:
            record("sponsor_edit", user_id=user_id, target=code, detail=changes)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
