"""The schedules document's pydantic models: the rows they give, and every check, each
problem named by its path in the reader's language (JSON import, data file, the form)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from funrun.enrolment.schedule import SHIPPED, dump_document
from funrun.enrolment.schedule_document import ScheduleDataError, parse_document


@pytest.fixture
def shipped(app: Flask) -> dict[str, Any]:
    """The shipped document, fresh for each test."""
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


def problems_of(document: Any, *, typed: bool = False, locale: str = "en") -> list[str]:
    """What parse_document says about ``document`` (the test fails if it is accepted)."""
    with force_locale(locale), pytest.raises(ScheduleDataError) as refused:
        parse_document(document, typed=typed)
    return refused.value.problems


def test_the_shipped_document_gives_the_rows_the_store_takes(shipped: dict) -> None:
    [schedule], [sponsor] = parse_document(shipped)
    assert set(schedule) == {
        "code", "name", "effective_from", "effective_to", "min_income", "max_income",
        "brackets_complete", "brackets_source", "source", "notes",
        "rates", "brackets", "sectors", "reliefs",
    }  # fmt: skip
    assert schedule["effective_from"] == date(2015, 7, 1) and schedule["effective_to"] is None
    assert schedule["rates"] == [
        {"programme": "JKK", "rate_bp": 100, "flat_amount": None, "optional": False},
        {"programme": "JKM", "rate_bp": None, "flat_amount": 6800, "optional": False},
        {"programme": "JHT", "rate_bp": 200, "flat_amount": None, "optional": True},
    ]
    assert len(schedule["brackets"]) == 33
    assert schedule["brackets"][-1] == {
        "income_from": 20_200_000,
        "income_to": None,
        "basis": 20_700_000,
    }
    assert (
        schedule["sectors"][0]["occupations"] == "angkot_driver,ojek_driver,online_driver,courier"
    )
    pp50 = schedule["reliefs"][1]
    assert pp50["discount_bp"] == 5000 and pp50["programmes"] == "JKK,JKM"
    assert pp50["periods"][1] == {
        "sector": "general",
        "first_month": date(2026, 4, 1),
        "last_month": date(2026, 12, 1),
    }
    assert sponsor == {
        "code": "apbd-dki",
        "name": "APBD Provinsi DKI Jakarta (PPSU)",
        "public_budget": True,
        "active": True,
    }


def test_brackets_are_stored_in_order_whatever_order_they_come_in(shipped: dict) -> None:
    shipped["schedules"][0]["brackets"].reverse()
    [schedule], _sponsors = parse_document(shipped)
    froms = [b["income_from"] for b in schedule["brackets"]]
    assert froms == sorted(froms)


def test_what_is_stored_reads_back_the_same(shipped: dict) -> None:
    def rows(document: dict) -> tuple[list[dict], list[dict]]:
        schedules, sponsors = parse_document(document)
        for schedule in schedules:  # stored rates come back by programme
            schedule["rates"].sort(key=lambda rate: rate["programme"])
        return schedules, sponsors

    assert rows(dump_document()) == rows(shipped)


def _at(path: str) -> Callable[[dict, Any], None]:
    """A mutation setting the value at ``path`` (dots and [i]) in the document."""

    def mutate(document: dict, value: Any) -> None:
        keys: list[Any] = []
        for part in path.replace("]", "").replace("[", ".").split("."):
            keys.append(int(part) if part.isdigit() else part)
        node = document
        for key in keys[:-1]:
            node = node[key]
        if isinstance(node, list) and keys[-1] == len(node):
            node.append(value)  # one more item
        else:
            node[keys[-1]] = value

    return mutate


S, R = "schedules[0]", "schedules[0].reliefs[1]"
#: (where, value, the message): each check the reader makes, with the path it names.
CASES = [
    ("format", 1, "format is missing or not valid."),
    ("format", True, "format is missing or not valid."),  # true == 1 in Python
    ("format", 2.0, "format is missing or not valid."),  # 2.0 == 2 in Python
    ("format", "2", "format is missing or not valid."),
    ("schedules", None, "schedules is missing or not valid."),
    ("sponsors", {"code": "x"}, "sponsors is missing or not valid."),
    (f"{S}.code", "Not A Code", f"{S}.code is missing or not valid."),
    (f"{S}.code", "x" * 33, f"{S}.code is missing or not valid."),
    (f"{S}.name", "", f"{S}.name is missing or not valid."),
    (f"{S}.name", "BPU\x002015", f"{S}.name is missing or not valid."),  # NUL
    (f"{S}.name", "BPU\u202e2015", f"{S}.name is missing or not valid."),  # RTL override
    (f"{S}.notes", "a\ud800", f"{S}.notes is missing or not valid."),  # lone surrogate
    (f"{S}.notes", "x" * 4001, f"{S}.notes is missing or not valid."),
    (f"{S}.name", 2015, f"{S}.name is missing or not valid."),
    (f"{S}.effective_from", "13/12/2015", f"{S}.effective_from must be a date (YYYY-MM-DD)."),
    (f"{S}.effective_from", "20150701", f"{S}.effective_from must be a date (YYYY-MM-DD)."),
    (f"{S}.effective_from", "2015-02-30", f"{S}.effective_from must be a date (YYYY-MM-DD)."),
    (
        f"{S}.effective_from",
        "1999-12-31",
        f"{S}.effective_from must be between the years 2000 and 2100.",
    ),
    (f"{S}.effective_to", "2015-06-30", f"{S} ends before it starts."),
    (f"{S}.min_income", "1000000", f"{S}.min_income must be a whole number of rupiah."),
    (f"{S}.min_income", True, f"{S}.min_income must be a whole number of rupiah."),  # bool
    (f"{S}.min_income", 1_000_000.0, f"{S}.min_income must be a whole number of rupiah."),
    (f"{S}.min_income", 0, f"{S}.min_income must be a whole number of rupiah."),
    (f"{S}.max_income", 10**10, f"{S}.max_income must be a whole number of rupiah."),
    (f"{S}.max_income", 999_999, f"{S}.max_income is missing or not valid."),
    (f"{S}.brackets_complete", "yes", f"{S}.brackets_complete is missing or not valid."),
    (f"{S}.brackets_complete", 1, f"{S}.brackets_complete is missing or not valid."),
    (f"{S}.rates[0].programme", "JP", f"{S}.rates[0].programme: unknown programme."),
    (f"{S}.rates[0].programme", [], f"{S}.rates[0].programme: unknown programme."),
    (
        f"{S}.rates[0].rate_percent",
        1,
        f'{S}.rates[0].rate_percent must be a percentage with at most two decimals, e.g. "1.00".',
    ),
    (
        f"{S}.rates[0].rate_percent",
        "1.005",
        f'{S}.rates[0].rate_percent must be a percentage with at most two decimals, e.g. "1.00".',
    ),
    (f"{S}.rates[0].rate_percent", "100.01", f"{S}.rates[0].rate_percent is missing or not valid."),
    (f"{S}.rates[0].flat_amount", 5, f"{S}.rates[0] needs either rate_percent or flat_amount."),
    (
        f"{S}.rates[1].flat_amount",
        -1,
        f"{S}.rates[1].flat_amount must be a whole number of rupiah.",
    ),
    (f"{S}.rates[0].optional", True, f"{S}.rates: JKK and JKM cannot be optional."),
    (f"{S}.rates[2].programme", "JKK", f"{S}.rates must list JKK and JKM, each programme once."),
    (f"{S}.rates[1]", "JKM", f"{S}.rates[1] is missing or not valid."),
    (f"{S}.brackets", [], f"{S}.brackets is missing or not valid."),
    (
        f"{S}.brackets[1].income_from",
        1_100_001,  # a gap after the first bracket
        f"{S}.brackets must start at min_income and follow each other without gaps or overlaps.",
    ),
    (
        f"{S}.brackets[1].income_from",
        1_099_999,  # an overlap
        f"{S}.brackets must start at min_income and follow each other without gaps or overlaps.",
    ),
    (
        f"{S}.brackets[0].income_from",
        900_000,
        f"{S}.brackets must start at min_income and follow each other without gaps or overlaps.",
    ),
    (
        f"{S}.brackets[0].income_to",
        None,  # an open end before the last bracket
        f"{S}.brackets must start at min_income and follow each other without gaps or overlaps.",
    ),
    (f"{S}.sectors", 5, f"{S}.sectors is missing or not valid."),
    (f"{S}.sectors[1].code", "transport", f"{S}.sectors: each code only once."),
    (
        f"{S}.sectors[1].occupations",
        ["trader", "courier"],
        f"{S}.sectors[1].occupations: each listed occupation in one sector only.",
    ),
    (
        f"{S}.sectors[0].occupations",
        ["courier", "courier"],
        f"{S}.sectors[0].occupations: each listed occupation in one sector only.",
    ),
    (
        f"{S}.sectors[0].occupations",
        ["pilot"],
        f"{S}.sectors[0].occupations: each listed occupation in one sector only.",
    ),
    (f"{R}.code", "pp-49-2020", f"{S}.reliefs: each code only once."),
    (
        f"{R}.discount_percent",
        "101",
        f'{R}.discount_percent must be a percentage with at most two decimals, e.g. "1.00".',
    ),
    (f"{R}.programmes", ["JKK", "JKK"], f"{R}.programmes is missing or not valid."),
    (f"{R}.programmes", [], f"{R}.programmes: unknown programme."),
    (f"{R}.programmes", ["JP"], f"{R}.programmes: unknown programme."),
    (f"{R}.excludes_public_budget", None, f"{R}.excludes_public_budget is missing or not valid."),
    (f"{R}.periods", [], f"{R}.periods is missing or not valid."),
    (f"{R}.periods[0].sector", "fishing", f"{R}.periods[0].sector: unknown sector."),
    (
        f"{R}.periods[0].first_month",
        "2026-13",
        f"{R}.periods[0].first_month must be a month (YYYY-MM).",
    ),
    (
        f"{R}.periods[0].first_month",
        "2026-1",
        f"{R}.periods[0].first_month must be a month (YYYY-MM).",
    ),
    (
        f"{R}.periods[0].first_month",
        "0000-01",  # was a ValueError from date(0, 1, 1)
        f"{R}.periods[0].first_month must be between the years 2000 and 2100.",
    ),
    (f"{R}.periods[0].last_month", "2025-12", f"{R}.periods[0] ends before it starts."),
    (
        f"{R}.periods[1]",
        {"sector": "transport", "first_month": "2027-03", "last_month": "2027-06"},
        f"{R}.periods[1] overlaps another period of the same sector.",
    ),
    (
        "schedules[0].reliefs[0].periods[1]",  # the same period twice
        {"sector": None, "first_month": "2020-08", "last_month": "2021-01"},
        "schedules[0].reliefs[0].periods[1] overlaps another period of the same sector.",
    ),
    ("sponsors[0].public_budget", "yes", "sponsors[0].public_budget is missing or not valid."),
    ("sponsors[0].name", "APBD\u202eDKI", "sponsors[0].name is missing or not valid."),
]


@pytest.mark.parametrize(("where", "value", "message"), CASES)
def test_each_check_names_where_the_problem_is(
    shipped: dict, where: str, value: Any, message: str
) -> None:
    _at(where)(shipped, value)
    assert message in problems_of(shipped)


def test_repeated_codes_and_missing_keys(shipped: dict) -> None:
    twice = copy.deepcopy(shipped)
    twice["schedules"].append(copy.deepcopy(twice["schedules"][0]))
    assert problems_of(twice) == ["schedules: each code only once."]
    twice = copy.deepcopy(shipped)
    twice["sponsors"].append(copy.deepcopy(twice["sponsors"][0]))
    assert problems_of(twice) == ["sponsors: each code only once."]
    del shipped["schedules"][0]["rates"]
    del shipped["schedules"][0]["reliefs"][0]["name_en"]
    assert problems_of(shipped) == [
        "schedules[0].rates is missing or not valid.",
        "schedules[0].reliefs[0].name_en is missing or not valid.",
    ]
    assert problems_of([]) == problems_of(None) == ["format is missing or not valid."]


def test_every_problem_is_reported_at_once_in_the_readers_language(shipped: dict) -> None:
    schedule = shipped["schedules"][0]
    schedule.update(name="", min_income=-5)
    schedule["rates"][0]["rate_percent"] = "1,5"  # a comma is for the form only
    schedule["reliefs"][0]["periods"][0]["last_month"] = "2020-13"
    assert problems_of(shipped, locale="id") == [
        "schedules[0].name tidak ada atau tidak sah.",
        "schedules[0].min_income harus berupa jumlah rupiah bulat.",
        "schedules[0].rates[0].rate_percent harus berupa persentase dengan paling banyak dua "
        'desimal, mis. "1.00".',
        "schedules[0].reliefs[0].periods[0].last_month harus berupa bulan (TTTT-BB).",
    ]


def test_optional_parts_may_be_left_out_or_null(shipped: dict) -> None:
    schedule = shipped["schedules"][0]
    for key in ("source", "notes", "brackets_source", "max_income", "effective_to"):
        schedule[key] = None
    del schedule["brackets_complete"]
    schedule["sectors"] = None
    schedule["reliefs"] = None
    del shipped["sponsors"]
    [row], sponsors = parse_document(shipped)
    assert (row["source"], row["notes"], row["max_income"]) == ("", "", None)
    assert row["brackets_complete"] is False and row["sectors"] == row["reliefs"] == []
    assert sponsors == []


def test_typed_in_the_form_amounts_may_be_text(shipped: dict) -> None:
    """The form's document: thousands separators, a decimal comma, blank optional boxes."""
    schedule = shipped["schedules"][0]
    schedule.update(min_income="1.000.000", max_income=" ", effective_to="")
    schedule["rates"][0]["rate_percent"] = "1,5"
    schedule["brackets"][0].update(income_to="1.099.999", basis="Rp 1.000.000")
    schedule["reliefs"][1]["periods"][0]["sector"] = ""
    [row], _sponsors = parse_document(shipped, typed=True)
    assert row["min_income"] == 1_000_000 and row["max_income"] is None
    assert row["effective_to"] is None
    assert row["rates"][0]["rate_bp"] == 150
    assert row["brackets"][0] == {
        "income_from": 1_000_000,
        "income_to": 1_099_999,
        "basis": 1_000_000,
    }
    assert row["reliefs"][1]["periods"][0]["sector"] is None  # every sector
    # The same document as JSON: text is not a number there, and "" is no date.
    assert problems_of(shipped) == [
        "schedules[0].effective_to must be a date (YYYY-MM-DD).",
        "schedules[0].min_income must be a whole number of rupiah.",
        "schedules[0].max_income must be a whole number of rupiah.",
        "schedules[0].rates[0].rate_percent must be a percentage with at most two decimals, "
        'e.g. "1.00".',
        "schedules[0].brackets[0].income_to must be a whole number of rupiah.",
        "schedules[0].brackets[0].basis must be a whole number of rupiah.",
        "schedules[0].reliefs[1].periods[0].sector: unknown sector.",
    ]


def test_a_problem_can_name_a_form_label_instead_of_the_path(shipped: dict) -> None:
    shipped["schedules"][0]["rates"][0]["rate_percent"] = "1.005"
    with force_locale("id"), pytest.raises(ScheduleDataError) as refused:
        parse_document(shipped)
    [issue] = refused.value.issues
    assert issue.loc == ("schedules", 0, "rates", 0, "rate_percent")
    assert issue.path == "schedules[0].rates[0].rate_percent"
    assert issue.text("JKK") == (
        'JKK harus berupa persentase dengan paling banyak dua desimal, mis. "1.00".'
    )
