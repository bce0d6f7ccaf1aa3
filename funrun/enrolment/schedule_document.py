"""The schedules document, declared once as pydantic models: every problem, named by where it is.

A staff data file (``data/schedules.json``, the JSON import on the admins' schedule page) or
the admins' schedule form, not a request: each problem names its place in the document
(``schedules[0].rates[1].rate_percent``), and :func:`parse_document` returns the plain rows
:mod:`funrun.enrolment.schedule` stores. The form builds a one-schedule document from what
was typed and validates it here with ``typed=True``: amounts may then be typed as text
("1.000.000"), percentages with a decimal comma, and a blank optional box means none. The
rules on single values are in :mod:`funrun.enrolment.schedule_values`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from funrun.contracts import RULE_ERROR, checked
from funrun.enrolment.choices import MANDATORY_PROGRAMMES
from funrun.enrolment.schedule_values import (
    BRACKETS,
    ENDS_EARLY,
    FORMAT,
    INVALID,
    MANDATORY,
    NOT_OPTIONAL,
    ONE_SECTOR,
    OVERLAP,
    RATE_OR_FLAT,
    SCHEDULE_RULES,
    UNKNOWN_SECTOR,
    Code,
    Flag,
    Loc,
    LongText,
    Month,
    Name,
    OptionalRupiah,
    Percent,
    Problem,
    Rupiah,
    after,
    basis_points,
    broken,
    codes_once,
    day_rule,
    none_is_empty,
    not_empty,
    occupations_rule,
    programme_rule,
    programmes_rule,
    rupiah_rule,
    sector_rule,
    text_rule,
)

__all__ = ["FORMAT", "Problem", "ScheduleDataError", "ScheduleDocument", "parse_document"]


class ScheduleDataError(Exception):
    """The schedule document is not valid; ``problems`` says where and why, ``issues``
    the same as :class:`Problem` objects (for a form to show each beside its field)."""

    def __init__(self, problems: list[str], issues: list[Problem] | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.issues = issues or []

    @classmethod
    def of(cls, issues: list[Problem]) -> ScheduleDataError:
        """The error for ``issues``, messages naming their paths."""
        return cls([issue.text() for issue in issues], issues)


class _Part(BaseModel):
    """A part of the document: unknown keys are ignored, every value is checked by a rule."""

    model_config = ConfigDict(extra="ignore")


class Rate(_Part):
    """A programme's price: ``rate_percent`` (held as basis points) or ``flat_amount``."""

    programme: Annotated[str, checked(programme_rule)]
    rate_percent: Annotated[int | None, checked(basis_points)] = None
    flat_amount: OptionalRupiah = None
    optional: Flag = False

    @model_validator(mode="after")
    def _one_price(self) -> Rate:
        if len({"rate_percent", "flat_amount"} & self.model_fields_set) != 1:
            raise broken(((), RATE_OR_FLAT))
        if self.rate_percent is None and self.flat_amount is None:
            raise broken(((), RATE_OR_FLAT))
        return self

    def row(self) -> dict[str, Any]:
        """As stored (ContributionRate)."""
        return {
            "programme": self.programme,
            "rate_bp": self.rate_percent,
            "flat_amount": self.flat_amount,
            "optional": self.optional,
        }


def _rates_rule(rates: list[Rate], _info: ValidationInfo) -> list[Rate]:
    names = [rate.programme for rate in rates]
    problems: list[tuple[Loc, Any]] = []
    if len(set(names)) != len(names) or not set(MANDATORY_PROGRAMMES) <= set(names):
        problems.append(((), MANDATORY))
    if any(rate.optional for rate in rates if rate.programme in MANDATORY_PROGRAMMES):
        problems.append(((), NOT_OPTIONAL))
    if problems:
        raise broken(*problems)
    return rates


class Bracket(_Part):
    """Declared incomes from ``income_from`` to ``income_to`` (none: no end) pay on
    ``basis`` (none: the income itself)."""

    income_from: Rupiah
    income_to: OptionalRupiah = None
    basis: OptionalRupiah = None

    def row(self) -> dict[str, Any]:
        """As stored (IncomeBracket)."""
        return {"income_from": self.income_from, "income_to": self.income_to, "basis": self.basis}


class Sector(_Part):
    """A group of occupations that relief periods name."""

    code: Code
    name: Name
    name_en: Name
    occupations: Annotated[list[str], checked(occupations_rule)]

    def row(self) -> dict[str, Any]:
        """As stored (ContributionSector)."""
        return {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "occupations": ",".join(self.occupations),
        }


def _sectors_rule(sectors: list[Sector], info: ValidationInfo) -> list[Sector]:
    seen: set[str] = set()
    problems: list[tuple[Loc, Any]] = []
    for i, sector in enumerate(sectors):
        if seen & set(sector.occupations):
            problems.append(((i, "occupations"), ONE_SECTOR))
        seen.update(sector.occupations)
    if problems:
        raise broken(*problems)
    return codes_once(sectors, info)


class Period(_Part):
    """Contribution months a relief covers, for one sector (none: every sector)."""

    sector: Annotated[str | None, checked(sector_rule)] = None
    first_month: Month
    last_month: Month

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.last_month < self.first_month:
            raise broken(((), ENDS_EARLY))
        return self

    def row(self) -> dict[str, Any]:
        """As stored (ReliefPeriod)."""
        return {
            "sector": self.sector,
            "first_month": self.first_month,
            "last_month": self.last_month,
        }


def _periods_apart(periods: list[Period], _info: ValidationInfo) -> list[Period]:
    """A sector's months are covered by one period of a relief, not two."""
    problems: list[tuple[Loc, Any]] = []
    for j, period in enumerate(periods):
        if any(
            other.sector == period.sector
            and other.first_month <= period.last_month
            and period.first_month <= other.last_month
            for other in periods[:j]
        ):
            problems.append(((j,), OVERLAP))
    if problems:
        raise broken(*problems)
    return periods


class Relief(_Part):
    """A discount on some programmes in the months of its periods."""

    code: Code
    name: Name
    name_en: Name
    discount_percent: Percent
    programmes: Annotated[list[str], checked(programmes_rule)]
    excludes_public_budget: Flag = False
    source: LongText = ""
    periods: Annotated[list[Period], after(not_empty), after(_periods_apart)]

    def row(self) -> dict[str, Any]:
        """As stored (ContributionRelief, with its periods)."""
        return {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "periods": [period.row() for period in self.periods],
            "discount_bp": self.discount_percent,
            "programmes": ",".join(self.programmes),
            "excludes_public_budget": self.excludes_public_budget,
            "source": self.source,
        }


class Schedule(_Part):
    """One version of the contribution rules, in force from ``effective_from``."""

    code: Code
    name: Name
    effective_from: Annotated[date, checked(day_rule())]
    effective_to: Annotated[date | None, checked(day_rule(nullable=True))] = None
    min_income: Annotated[int, checked(rupiah_rule(minimum=1))]
    max_income: OptionalRupiah = None
    brackets_complete: Flag = False
    brackets_source: LongText = ""
    source: LongText = ""
    notes: Annotated[str, checked(text_rule(4000, required=False))] = ""
    rates: Annotated[list[Rate], after(_rates_rule)]
    brackets: Annotated[list[Bracket], after(not_empty)]
    sectors: Annotated[list[Sector], BeforeValidator(none_is_empty), after(_sectors_rule)] = []
    reliefs: Annotated[list[Relief], BeforeValidator(none_is_empty), after(codes_once)] = []

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        problems: list[tuple[Loc, Any]] = []
        if self.effective_to is not None and self.effective_to < self.effective_from:
            problems.append(((), ENDS_EARLY))
        if self.max_income is not None and self.max_income < self.min_income:
            problems.append((("max_income",), INVALID))
        if not self._brackets_follow():
            problems.append((("brackets",), BRACKETS))
        codes = {sector.code for sector in self.sectors}
        for i, relief in enumerate(self.reliefs):
            for j, period in enumerate(relief.periods):
                if period.sector is not None and period.sector not in codes:
                    problems.append((("reliefs", i, "periods", j, "sector"), UNKNOWN_SECTOR))
        if problems:
            raise broken(*problems)
        return self

    def _brackets_follow(self) -> bool:
        ordered = sorted(self.brackets, key=lambda b: b.income_from)
        if ordered[0].income_from != self.min_income:
            return False
        for row, following in zip(ordered, [*ordered[1:], None], strict=True):
            if row.income_to is not None and row.income_to < row.income_from:
                return False
            if following is not None and (
                row.income_to is None or following.income_from != row.income_to + 1
            ):
                return False
        return True

    def row(self) -> dict[str, Any]:
        """As :func:`funrun.enrolment.schedule.apply_document` stores it."""
        scalars = self.model_dump(exclude={"rates", "brackets", "sectors", "reliefs"})
        brackets = sorted(self.brackets, key=lambda b: b.income_from)
        return {
            **scalars,
            "rates": [rate.row() for rate in self.rates],
            "brackets": [bracket.row() for bracket in brackets],
            "sectors": [sector.row() for sector in self.sectors],
            "reliefs": [relief.row() for relief in self.reliefs],
        }


class SponsorEntry(_Part):
    """Someone who pays members' contributions."""

    code: Code
    name: Name
    public_budget: Flag = False
    active: Flag = True

    def row(self) -> dict[str, Any]:
        """As stored (Sponsor)."""
        return self.model_dump()


class ScheduleDocument(_Part):
    """The whole document: ``{"format": 2, "schedules": [...], "sponsors": [...]}``."""

    format: int = FORMAT
    schedules: Annotated[list[Schedule], after(codes_once)] = []
    sponsors: Annotated[list[SponsorEntry], after(codes_once)] = []

    @model_validator(mode="before")
    @classmethod
    def _format_first(cls, data: Any) -> Any:
        # Exactly the integer 2: in Python, true == 1 and 2.0 == 2 as well. Another
        # format is read no further (its other problems would only be noise).
        if not isinstance(data, dict) or type(data.get("format")) is not int:
            raise broken((("format",), INVALID))
        if data["format"] != FORMAT:
            raise broken((("format",), INVALID))
        return data


def issues_of(failure: ValidationError) -> list[Problem]:
    """pydantic's errors as problems at their places, in the user's language."""
    issues: list[Problem] = []
    for error in failure.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == RULE_ERROR:
            at = (*loc, ctx["field"]) if ctx.get("field") else loc
            issues += [Problem(at, message) for message in ctx["messages"]]
        elif error["type"] == SCHEDULE_RULES:
            issues += [Problem((*loc, *inner), message) for inner, message in ctx["problems"]]
        else:  # pydantic's own: missing, not a list, not an object
            issues.append(Problem(loc, str(INVALID)))
    return issues


def validate_document(document: Any, *, typed: bool = False) -> ScheduleDocument:
    """The document checked (raises ScheduleDataError with every problem)."""
    try:
        return ScheduleDocument.model_validate(document, context={"typed": typed})
    except ValidationError as failure:
        raise ScheduleDataError.of(issues_of(failure)) from None


def parse_document(document: Any, *, typed: bool = False) -> tuple[list[dict], list[dict]]:
    """Check a whole schedules document; the schedules and sponsors as plain rows."""
    checked_document = validate_document(document, typed=typed)
    return (
        [schedule.row() for schedule in checked_document.schedules],
        [sponsor.row() for sponsor in checked_document.sponsors],
    )
