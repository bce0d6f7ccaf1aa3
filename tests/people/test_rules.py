"""The shared rules (funrun/people/rules.py) and the request models built on them.

One function per rule is called by the forms and the API alike; the models report
every failure in the user's language and never pydantic's own English.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Annotated

import pytest
from flask import Flask
from flask_babel import force_locale
from pydantic import BaseModel

from funrun import contracts
from funrun.contracts import RequestModel, ValidationFailed, checked, validate
from funrun.people import rules
from funrun.people.rules import RuleBroken
from funrun.registration.schemas import RegistrationRequest
from tests.conftest import make_nik

RACE_DAY = date(2026, 12, 13)
EVENT = SimpleNamespace(date=RACE_DAY, min_age=10, max_age=None, shirt_sizes=("S", "M", "L"))


def messages(call) -> list[str]:
    with pytest.raises(RuleBroken) as broken:
        call()
    return broken.value.messages


def test_mobile_numbers_become_e164_and_others_are_refused():
    assert rules.mobile("0812-3456-7890") == "+6281234567890"
    assert rules.mobile("62 812 3456 7890") == "+6281234567890"
    assert rules.mobile("", required=False) is None
    assert messages(lambda: rules.mobile("021 555 1234")) == [
        "Enter an Indonesian mobile number, e.g. 0812 3456 7890."
    ]
    assert messages(lambda: rules.mobile(None)) == ["This field is required."]


def test_nik_agrees_with_birth_date_and_gender_and_reports_every_mismatch():
    born = date(1990, 8, 17)
    assert rules.nik("3174 0117 0890 0001", born, "M") == "3174011708900001"
    assert rules.nik(make_nik(born, "F"), born, "F") == make_nik(born, "F")
    both = messages(lambda: rules.nik(make_nik(date(1991, 8, 17), "F"), born, "M"))
    assert both == [
        "The birth date in the NIK does not match the birth date you gave.",
        "The NIK does not match the gender you gave (women add 40 to the day).",
    ]
    # Unknown birth date or gender (they failed their own rule): not compared.
    assert rules.nik(make_nik(born, "F"), None, None) == make_nik(born, "F")
    assert messages(lambda: rules.nik("12345", born, "M")) == ["NIK must be exactly 16 digits."]


def test_names_dates_and_ages():
    bad_name = "Write your full name."
    assert rules.person_name("  Siti   Nurhaliza ", max_length=100, message=bad_name) == (
        "Siti Nurhaliza"
    )
    assert messages(lambda: rules.person_name("R2D2", max_length=100, message=bad_name)) == [
        bad_name
    ]
    assert messages(lambda: rules.person_name("Ab\u200e", max_length=100, message=bad_name)) == [
        "Contains characters that are not allowed."
    ]
    assert rules.birth_date("17/08/1990") == date(1990, 8, 17)
    assert messages(lambda: rules.birth_date("1990-02-30")) == [
        "Enter a real date, e.g. 1990-08-17."
    ]
    assert messages(lambda: rules.check_age(date(2027, 1, 1), RACE_DAY, 10, None)) == [
        "The birth date cannot be after the race."
    ]
    assert messages(lambda: rules.check_age(date(2020, 1, 1), RACE_DAY, 10, None)) == [
        "Runners must be at least 10 years old on race day."
    ]
    rules.check_age(date(2016, 12, 13), RACE_DAY, 10, None)  # ten on the day


def test_yes_no_and_consent_take_json_and_form_values_only():
    assert rules.yes_no(True) is True and rules.yes_no("y") is True and rules.yes_no("0") is False
    assert messages(lambda: rules.yes_no(1)) == ["Must be yes or no."]
    assert rules.consented("on", "agree") is True
    assert messages(lambda: rules.consented(1, "agree")) == ["agree"]


def test_the_model_reports_every_field_in_the_users_language(app: Flask):
    with (
        app.test_request_context(),
        force_locale("id"),
        pytest.raises(ValidationFailed) as failed,
    ):
        validate(RegistrationRequest, {"gender": "X", "member": 2}, event=EVENT)
    errors = failed.value.errors
    assert set(errors) == {
        "full_name",
        "birth_date",
        "gender",
        "nik",
        "phone",
        "shirt_size",
        "member",
        "consent",
    }
    english = {"Field required", "Input should be", "Value error"}
    for field, texts in errors.items():
        for text in texts:
            assert not any(phrase in text for phrase in english), (field, text)
    assert errors["full_name"] == ["Kolom ini wajib diisi."], errors["full_name"]


def test_an_age_out_of_range_still_compares_the_nik_with_the_birth_date(app: Flask):
    body = {
        "full_name": "Budi Santoso",
        "birth_date": "2020-01-01",
        "gender": "M",
        "nik": make_nik(date(1990, 1, 1), "M"),
        "phone": "081234567890",
        "shirt_size": "M",
        "member": False,
        "consent": True,
    }
    with (
        app.test_request_context(),
        force_locale("en"),
        pytest.raises(ValidationFailed) as failed,
    ):
        validate(RegistrationRequest, body, event=EVENT)
    assert failed.value.errors == {
        "birth_date": ["Runners must be at least 10 years old on race day."],
        "nik": ["The birth date in the NIK does not match the birth date you gave."],
    }


def test_a_pydantic_error_without_a_rule_is_still_our_message(app: Flask):
    class Typed(BaseModel):
        count: int

    class Ruled(RequestModel):
        word: Annotated[str, checked(lambda v, _i: rules.single_line(v, max_length=3))]

    with app.test_request_context(), force_locale("id"):
        with pytest.raises(ValidationFailed) as failed:
            validate(Typed, {"count": "many"})
        assert failed.value.errors == {"count": [str(contracts.UNEXPECTED)]}
        assert failed.value.errors["count"] != ["This value is not accepted."]
        with pytest.raises(ValidationFailed) as failed:
            validate(Ruled, {"word": "four"})
        assert failed.value.errors == {"word": ["Maksimal 3 karakter."]}
