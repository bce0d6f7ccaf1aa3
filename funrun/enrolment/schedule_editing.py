"""Admins' schedule edits: save one schedule or a whole document, audited in words; preview.

Every save goes through :func:`funrun.enrolment.schedule.apply_document` (upsert by code)
and writes one audit row per schedule or sponsor that changed, in the same transaction:
the code as target and what changed in words as detail (``JKK 1.00% -> 1.50%; brackets:
1 added``). The preview prices an example with the edited schedule, unsaved: its rows as
transient ORM objects, never added to the session.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import ValidationInfo

from funrun.audit.services import record
from funrun.contracts import RequestModel, checked
from funrun.enrolment.choices import MONTHS, OCCUPATIONS
from funrun.enrolment.contribution import Quote, month_end, month_start
from funrun.enrolment.models import (
    ContributionRate,
    ContributionRelief,
    ContributionSchedule,
    ContributionSector,
    IncomeBracket,
    ReliefPeriod,
)
from funrun.enrolment.quotes import price
from funrun.enrolment.schedule import apply_document, dump_document, schedules_between
from funrun.enrolment.schedule_document import Problem, ScheduleDataError, parse_document
from funrun.enrolment.schedule_values import MONTH_PATTERN
from funrun.enrolment.schemas import rupiah
from funrun.people.rules import RuleBroken, is_blank

AUDIT_ACTION = "schedule_edit"
CODE_TAKEN = _l("%(where)s: a schedule with this code already exists.")
CHILDREN = ("rates", "brackets", "sectors", "reliefs")
#: Long texts: the audit says they changed, not what they say.
LONG = ("source", "notes", "brackets_source")


def stored_schedule(code: str) -> dict[str, Any] | None:
    """A stored schedule as the document writes it, or None."""
    return next((s for s in dump_document()["schedules"] if s["code"] == code), None)


def _stored_rows() -> tuple[dict[str, dict], dict[str, dict]]:
    schedules, sponsors = parse_document(dump_document())
    return {s["code"]: s for s in schedules}, {s["code"]: s for s in sponsors}


def check_schedule(document: dict[str, Any]) -> dict[str, Any]:
    """The form's one-schedule document checked (typed values); its row."""
    schedules, _sponsors = parse_document(document, typed=True)
    return schedules[0]


def save_schedule(document: dict[str, Any], *, new: bool, user_id: int | None) -> bool:
    """Store the form's schedule (raises ScheduleDataError); whether anything changed."""
    row = check_schedule(document)
    old, _sponsors = _stored_rows()
    if new and row["code"] in old:
        raise ScheduleDataError.of([Problem(("schedules", 0, "code"), str(CODE_TAKEN))])
    words = describe_schedule(old.get(row["code"]), row)
    if not words:
        return False
    record(AUDIT_ACTION, user_id=user_id, target=row["code"], detail=words)
    apply_document(document, user_id=user_id, typed=True)  # commits the audit row with it
    return True


def import_document(document: Any, *, user_id: int | None) -> int:
    """Store a whole JSON document (raises ScheduleDataError); the audit rows written
    (one per schedule or sponsor that changed)."""
    schedules, sponsors = parse_document(document)
    old_schedules, old_sponsors = _stored_rows()
    entries = [(s["code"], describe_schedule(old_schedules.get(s["code"]), s)) for s in schedules]
    entries += [
        (f"sponsor {s['code']}", describe_sponsor(old_sponsors.get(s["code"]), s)) for s in sponsors
    ]
    written = 0
    for target, words in entries:
        if words:
            record(AUDIT_ACTION, user_id=user_id, target=target, detail=words)
            written += 1
    if written:  # the same document again changes nothing, not even updated_at
        apply_document(document, user_id=user_id)
    return written


# --- what changed, in words -------------------------------------------------------------


def _money(value: int | None) -> str:
    return "none" if value is None else f"Rp {value:,}".replace(",", ".")


def _percent(points: int) -> str:
    return f"{points // 100}.{points % 100:02d}%"


def _rate(rate: dict | None) -> str:
    if rate is None:
        return "none"
    price_words = (
        _percent(rate["rate_bp"]) if rate["rate_bp"] is not None else _money(rate["flat_amount"])
    )
    return price_words + (" optional" if rate["optional"] else "")


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def _periods(relief: dict) -> str:
    return ", ".join(
        f"{p['sector'] or 'all'} {_month(p['first_month'])}..{_month(p['last_month'])}"
        for p in relief["periods"]
    )


def _by_code(rows: list[dict]) -> dict[str, dict]:
    return {row["code"]: row for row in rows}


def _added_removed(what: str, old: dict, new: dict, parts: list[str]) -> None:
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    if added:
        parts.append(f"{what} added: {', '.join(map(str, added))}")
    if removed:
        parts.append(f"{what} removed: {', '.join(map(str, removed))}")


def describe_schedule(old: dict | None, new: dict) -> str:
    """What saving ``new`` over ``old`` (rows, None: a new schedule) changes, in words."""
    if old is None:
        return (
            f"new schedule from {new['effective_from']}: {len(new['rates'])} rates, "
            f"{len(new['brackets'])} brackets, {len(new['sectors'])} sectors, "
            f"{len(new['reliefs'])} reliefs"
        )
    parts: list[str] = []
    for key, value in new.items():
        if key in CHILDREN or old.get(key) == value:
            continue
        if key in LONG:
            parts.append(f"{key} changed")
        elif key.endswith("income"):
            parts.append(f"{key} {_money(old.get(key))} -> {_money(value)}")
        else:
            parts.append(f"{key} {old.get(key)} -> {value}")
    old_rates = {r["programme"]: r for r in old["rates"]}
    new_rates = {r["programme"]: r for r in new["rates"]}
    for programme in sorted(old_rates.keys() | new_rates.keys()):
        before, after = old_rates.get(programme), new_rates.get(programme)
        if before != after:
            parts.append(f"{programme} {_rate(before)} -> {_rate(after)}")
    _brackets(old["brackets"], new["brackets"], parts)
    old_sectors, new_sectors = _by_code(old["sectors"]), _by_code(new["sectors"])
    _added_removed("sector", old_sectors, new_sectors, parts)
    for code in sorted(old_sectors.keys() & new_sectors.keys()):
        if old_sectors[code] != new_sectors[code]:
            parts.append(f"sector {code} changed: {new_sectors[code]['occupations']}")
    old_reliefs, new_reliefs = _by_code(old["reliefs"]), _by_code(new["reliefs"])
    _added_removed("relief", old_reliefs, new_reliefs, parts)
    for code in sorted(old_reliefs.keys() & new_reliefs.keys()):
        _relief(code, old_reliefs[code], new_reliefs[code], parts)
    return "; ".join(parts)


def _brackets(old: list[dict], new: list[dict], parts: list[str]) -> None:
    before = {b["income_from"]: b for b in old}
    after = {b["income_from"]: b for b in new}
    _added_removed("bracket", before, after, parts)
    changed = [f for f in sorted(before.keys() & after.keys()) if before[f] != after[f]]
    if changed:
        parts.append(f"brackets changed from: {', '.join(_money(f) for f in changed)}")


def _relief(code: str, old: dict, new: dict, parts: list[str]) -> None:
    if old["periods"] != new["periods"]:
        parts.append(f"relief {code} periods {_periods(old)} -> {_periods(new)}")
    if old["discount_bp"] != new["discount_bp"]:
        before, after = _percent(old["discount_bp"]), _percent(new["discount_bp"])
        parts.append(f"relief {code} discount {before} -> {after}")
    others = [k for k in new if k not in ("periods", "discount_bp") and old.get(k) != new[k]]
    if others:
        parts.append(f"relief {code} {', '.join(others)} changed")


def describe_sponsor(old: dict | None, new: dict) -> str:
    """What saving a sponsor changes, in words."""
    if old is None:
        return f"new sponsor: {new['name']}"
    return "; ".join(f"{k} {old[k]} -> {v}" for k, v in new.items() if old.get(k) != v)


# --- the preview -------------------------------------------------------------------------


def _income(value: Any, _info: ValidationInfo) -> int:
    return rupiah(value, typed=True)


def _occupation(value: Any, _info: ValidationInfo) -> str:
    if not isinstance(value, str) or value not in OCCUPATIONS:
        raise RuleBroken(_l("Choose one of the listed occupations."))
    return value


def _months(value: Any, _info: ValidationInfo) -> int:
    if not isinstance(value, str) or value not in {str(m) for m in MONTHS}:
        raise RuleBroken(_l("Choose 1, 3, 6 or 12 months."))
    return int(value)


def _start(value: Any, _info: ValidationInfo) -> date:
    match = MONTH_PATTERN.fullmatch(value.strip()) if isinstance(value, str) else None
    if is_blank(value) or match is None or not 2000 <= int(match[1]) <= 2100:
        raise RuleBroken(_l("Write the month as YYYY-MM, e.g. 2026-12."))
    return date(int(match[1]), int(match[2]), 1)


class PreviewExample(RequestModel):
    """The example the preview prices: no personal data, only what the price depends on."""

    example_income: Annotated[int, checked(_income)]
    example_occupation: Annotated[str, checked(_occupation)]
    example_months: Annotated[int, checked(_months)]
    example_jht: bool = False
    example_start: Annotated[date, checked(_start)]


def transient_schedule(row: dict[str, Any]) -> ContributionSchedule:
    """A schedule's rows as ORM objects that are never added to the session."""
    scalars = {key: value for key, value in row.items() if key not in CHILDREN}
    return ContributionSchedule(
        **scalars,
        rates=[ContributionRate(**rate) for rate in row["rates"]],
        brackets=[IncomeBracket(**bracket) for bracket in row["brackets"]],
        sectors=[ContributionSector(**sector) for sector in row["sectors"]],
        reliefs=[
            ContributionRelief(
                **{k: v for k, v in relief.items() if k != "periods"},
                periods=[ReliefPeriod(**period) for period in relief["periods"]],
            )
            for relief in row["reliefs"]
        ],
    )


def preview(row: dict[str, Any], example: PreviewExample) -> Quote:
    """Price ``example`` with the edited schedule in place of its stored version (raises
    NoSchedule, IncomeOutOfRange); nothing is stored."""
    first = example.example_start
    last = month_end(month_start(first, example.example_months - 1))
    others = [s for s in schedules_between(first, last) if s.code != row["code"]]
    return price(
        first,
        declared_income=example.example_income,
        programmes=["JKK", "JKM", *(["JHT"] if example.example_jht else [])],
        months=example.example_months,
        occupation=example.example_occupation,
        schedules=[transient_schedule(row), *others],
    )
