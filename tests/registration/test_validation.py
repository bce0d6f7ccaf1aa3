"""clean_registration: what the form and the API accept, normalise and reject, field by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import delete

from funrun.events.models import DEFAULT_SHIRT_SIZES, Event, Tour
from funrun.extensions import db
from funrun.registration.validation import (
    ContactChange,
    RegistrationData,
    ValidationFailed,
    clean_contact_change,
    clean_registration,
)
from tests.conftest import make_nik, person_payload

REQUIRED = "This field is required."
NOT_TEXT = "Must be text."
NOT_ALLOWED = "Contains characters that are not allowed."
BAD_PHONE = "Enter an Indonesian mobile number, e.g. 0812 3456 7890."
MISSING = object()

#: The event date the make_event fixture uses by default.
RACE_DAY = date(2026, 12, 13)


@pytest.fixture(scope="module")
def event(_session_app: Flask) -> Iterator[Event]:
    """One event for the many checks that only read it, with English messages.

    It is inserted (so the database fills its defaults), read back, detached and its
    rows deleted at once: the checks need no per-test database clean-up.
    """
    with _session_app.app_context(), force_locale("en"):
        tour = Tour(slug="validation", name="Validation", organiser="Test")
        event = Event(
            tour=tour,
            slug="validation",
            city="Validation",
            name="Validation",
            date=RACE_DAY,
            start_time=time(6, 0),
            venue="Alun-alun",
            quota=10,
            bib_prefix="VAL",
        )
        db.session.add(event)
        db.session.commit()
        db.session.refresh(event)
        db.session.expunge(event)
        db.session.execute(delete(Event).where(Event.id == event.id))
        db.session.execute(delete(Tour).where(Tour.id == tour.id))
        db.session.commit()
        assert (event.min_age, event.max_age, event.shirt_sizes) == (17, None, DEFAULT_SHIRT_SIZES)
        yield event
        db.session.remove()


@pytest.fixture
def english(app: Flask) -> Iterator[None]:
    """English messages for tests that make their own events (the default is Indonesian)."""
    with force_locale("en"):
        yield


def body(**overrides: Any) -> dict[str, Any]:
    """A valid male runner born 1985-08-17; ``MISSING`` drops a field."""
    raw = person_payload(
        0,
        full_name="Budi Santoso",
        birth_date="1985-08-17",
        gender="M",
        nik="3174011708850001",
        phone="0812-3456-7890",
    )
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not MISSING}


def errors(event: Event, **overrides: Any) -> dict[str, list[str]]:
    """The field errors for a body with ``overrides``; fails if it is accepted."""
    with pytest.raises(ValidationFailed) as info:
        clean_registration(body(**overrides), event)
    return info.value.errors


def clean(event: Event, **overrides: Any) -> RegistrationData:
    return clean_registration(body(**overrides), event)


def test_valid_body_is_normalised(event):
    data = clean(event, nik="3174 0117.0885-0001", shirt_size=" m ")
    assert data == RegistrationData(
        full_name="Budi Santoso",
        nik="3174011708850001",
        birth_date=date(1985, 8, 17),
        gender="M",
        phone="+6281234567890",
        email=None,
        shirt_size="M",
        is_member=False,
        kpj_number=None,
        occupation=None,
        emergency_contact=None,
        emergency_phone=None,
    )


def test_empty_body_reports_every_required_field(event):
    with pytest.raises(ValidationFailed) as info:
        clean_registration({}, event)
    errs = info.value.errors
    for name in ("full_name", "birth_date", "gender", "nik", "phone", "shirt_size", "member"):
        assert errs[name] == [REQUIRED], name
    assert "consent" in errs
    assert "email" not in errs
    assert "kpj_number" not in errs


# --- text fields -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [MISSING, None, "", "   ", "\t\n"])
def test_full_name_required(event, value):
    assert errors(event, full_name=value) == {"full_name": [REQUIRED]}


@pytest.mark.parametrize("value", [123, 1.5, True, ["Budi"], {"first": "Budi"}])
def test_full_name_must_be_a_json_string(event, value):
    assert errors(event, full_name=value) == {"full_name": [NOT_TEXT]}


def test_full_name_length(event):
    assert clean(event, full_name="A" * 100).full_name == "A" * 100
    assert errors(event, full_name="A" * 101) == {"full_name": ["At most 100 characters."]}


@pytest.mark.parametrize("value", ["B", "Budi 2", "Budi_Santoso", "Budi @ Santoso", "12345"])
def test_full_name_letters_only(event, value):
    assert list(errors(event, full_name=value)) == ["full_name"]


@pytest.mark.parametrize(
    "value",
    ["Siti Nur'aini", "Muhammad Al-Fatih", "I Gede Made Wirawan", "R.A. Kartini", "Ñoño Pérez"],
)
def test_full_name_accepts_real_names(event, value):
    assert clean(event, full_name=value).full_name == value


def test_text_is_trimmed_collapsed_and_nfc(event):
    data = clean(event, full_name="  Jose\u0301 \n\t Rizal  ")
    assert data.full_name == "José Rizal"
    assert len(data.full_name) == 10


@pytest.mark.parametrize("field", ["full_name", "occupation", "emergency_contact"])
@pytest.mark.parametrize(
    "bad",
    ["\x00", "\x07", "\x1b[31m", "\x7f", "\u200b", "\u202e", "\ufeff", "\ufffd", "\ue000"],
    ids=["nul", "bell", "escape", "delete", "zwsp", "rtl-override", "bom", "fffd", "private"],
)
def test_control_and_replacement_characters_are_refused(event, field, bad):
    assert errors(event, **{field: f"Budi{bad}Santoso"}) == {field: [NOT_ALLOWED]}


def test_optional_text_fields(event):
    data = clean(event, occupation=" Petani ", emergency_contact="Ani (istri)")
    assert data.occupation == "Petani"
    assert data.emergency_contact == "Ani (istri)"
    blank = clean(event, occupation="", emergency_contact=None)
    assert blank.occupation is None
    assert blank.emergency_contact is None


@pytest.mark.parametrize(("field", "limit"), [("occupation", 80), ("emergency_contact", 100)])
def test_optional_text_length(event, field, limit):
    assert getattr(clean(event, **{field: "x" * limit}), field) == "x" * limit
    assert errors(event, **{field: "x" * (limit + 1)}) == {field: [f"At most {limit} characters."]}


def test_optional_text_wrong_type(event):
    assert errors(event, occupation=42) == {"occupation": [NOT_TEXT]}


# --- phone -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "081234567890",
        "0812 3456 7890",
        "0812-3456-7890",
        "(0812) 3456.7890",
        "6281234567890",
        "62 812 3456 7890",
        "+6281234567890",
        "+62 812-3456-7890",
    ],
)
def test_mobile_numbers_are_normalised_to_e164(event, raw):
    assert clean(event, phone=raw).phone == "+6281234567890"


@pytest.mark.parametrize(
    "raw",
    [
        "021 5551234",  # Jakarta landline
        "+62 21 5551 2345",  # the same, international
        "0361 234567",  # Denpasar landline
        "+65 9123 4567",  # Singapore mobile
        "+1 202 555 0123",  # United States
        "0812",
        "08123456789012345",
        "telepon saya",
    ],
)
def test_landlines_foreign_and_junk_numbers_are_refused(event, raw):
    assert errors(event, phone=raw) == {"phone": [BAD_PHONE]}


def test_phone_required_and_typed(event):
    assert errors(event, phone=MISSING) == {"phone": [REQUIRED]}
    assert errors(event, phone=81234567890) == {"phone": [NOT_TEXT]}
    assert errors(event, phone="0" * 33) == {"phone": ["At most 32 characters."]}


def test_emergency_phone_is_optional_but_checked(event):
    assert clean(event, emergency_phone=None).emergency_phone is None
    assert clean(event, emergency_phone="0857 1234 5678").emergency_phone == "+6285712345678"
    assert errors(event, emergency_phone="021 5551234") == {"emergency_phone": [BAD_PHONE]}


# --- email -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [MISSING, None, "", "  "])
def test_email_is_optional(event, value):
    assert clean(event, email=value).email is None


def test_email_is_normalised(event):
    assert clean(event, email=" budi@Example.COM ").email == "budi@example.com"


@pytest.mark.parametrize(
    "value", ["budi", "budi@", "@example.com", "budi@@example.com", "a b@c.id"]
)
def test_invalid_email(event, value):
    assert errors(event, email=value) == {"email": ["Enter a valid email address."]}


def test_email_length(event):
    assert errors(event, email="a" * 245 + "@example.com") == {"email": ["At most 254 characters."]}


# --- member and KPJ --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("y", True),
        ("n", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
    ],
)
def test_member_accepts_json_booleans_and_form_values(event, value, expected):
    kpj = "12345678901" if expected else MISSING
    assert clean(event, member=value, kpj_number=kpj).is_member is expected


@pytest.mark.parametrize("value", ["maybe", 1, 0, 2.0, ["y"], {}])
def test_member_rejects_other_values(event, value):
    assert errors(event, member=value) == {"member": ["Must be yes or no."]}


@pytest.mark.parametrize("value", [MISSING, None, ""])
def test_member_required(event, value):
    assert errors(event, member=value) == {"member": [REQUIRED]}


def test_kpj_required_only_for_members(event):
    assert errors(event, member=True, kpj_number=MISSING) == {"kpj_number": [REQUIRED]}
    # Non-members' KPJ is ignored, not stored, whatever it holds.
    assert clean(event, member=False, kpj_number="nonsense").kpj_number is None


@pytest.mark.parametrize("raw", ["12345678901", "123 4567 8901", "123.4567-8901"])
def test_kpj_normalised(event, raw):
    data = clean(event, member=True, kpj_number=raw)
    assert data.is_member is True
    assert data.kpj_number == "12345678901"


@pytest.mark.parametrize(
    "raw",
    [
        "1234567890",
        "123456789012",
        "1234567890A",
        "KPJ12345678",
        "".join(chr(0xFF10 + int(d)) for d in "12345678901"),  # fullwidth digits
    ],
)
def test_kpj_must_be_11_ascii_digits(event, raw):
    assert errors(event, member=True, kpj_number=raw) == {
        "kpj_number": ["The KPJ number has 11 digits."]
    }


# --- shirt size ------------------------------------------------------------------------


def test_shirt_size_must_be_one_of_the_events(make_event, english):
    event = make_event(shirt_sizes=["S", "M", "L"])
    assert clean(event, shirt_size="l").shirt_size == "L"
    for size in ("XL", "XXXL", "medium"):
        assert errors(event, shirt_size=size) == {
            "shirt_size": ["Choose one of the listed shirt sizes."]
        }, size
    assert errors(event, shirt_size=MISSING) == {"shirt_size": [REQUIRED]}
    assert list(errors(event, shirt_size="M" * 9)) == ["shirt_size"]


# --- gender and NIK --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["X", "L", "P"])
def test_gender_must_be_m_or_f(event, value):
    errs = errors(event, gender=value)
    assert errs["gender"] == ["Choose male or female."]


def test_gender_required(event):
    assert errors(event, gender=MISSING) == {"gender": [REQUIRED]}


def test_female_runner(event):
    data = clean(event, gender="F", nik="3174015708850001", full_name="Siti Rahmawati")
    assert data.gender == "F"
    assert data.nik == "3174015708850001"


def test_nik_errors_are_reported_on_the_nik_field(event):
    assert errors(event, nik="3174011708850000") == {
        "nik": ["The NIK's serial number cannot be 0000."]
    }
    assert errors(event, nik="31740117088500") == {"nik": ["NIK must be exactly 16 digits."]}
    assert errors(event, nik=MISSING) == {"nik": [REQUIRED]}
    assert errors(event, nik=3174011708850001) == {"nik": [NOT_TEXT]}
    assert errors(event, gender="F") == {
        "nik": ["The NIK does not match the gender you gave (women add 40 to the day)."]
    }
    assert errors(event, birth_date="1985-08-18") == {
        "nik": ["The birth date in the NIK does not match the birth date you gave."]
    }


def test_unknown_region_is_accepted(event):
    assert clean(event, nik="9974011708850001").nik == "9974011708850001"


# --- birth date and age ----------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1985-08-17", "17/08/1985", "17-08-1985"])
def test_birth_date_formats(event, raw):
    assert clean(event, birth_date=raw).birth_date == date(1985, 8, 17)


@pytest.mark.parametrize(
    "raw", ["1985/08/17", "08/17/1985", "17.08.1985", "31/02/1985", "1985-13-01", "kemarin"]
)
def test_birth_date_must_be_a_real_date_in_a_known_format(event, raw):
    assert errors(event, birth_date=raw)["birth_date"] == ["Enter a real date, e.g. 1990-08-17."]


def test_birth_date_required_and_typed(event):
    assert errors(event, birth_date=MISSING)["birth_date"] == [REQUIRED]
    assert errors(event, birth_date=19850817)["birth_date"] == [NOT_TEXT]


def test_birth_date_after_the_race(event):
    errs = errors(event, birth_date="2027-01-01", nik=make_nik(date(2027, 1, 1), "M"))
    assert errs == {"birth_date": ["The birth date cannot be after the race."]}


def runner_born(event: Event, birth: date) -> dict[str, list[str]] | RegistrationData:
    try:
        return clean(event, birth_date=birth.isoformat(), nik=make_nik(birth, "M"))
    except ValidationFailed as failed:
        return failed.errors


def test_minimum_age_on_race_day(make_event, english):
    event = make_event(min_age=17)
    assert isinstance(runner_born(event, date(2009, 12, 13)), RegistrationData)  # 17 that day
    assert runner_born(event, date(2009, 12, 14)) == {
        "birth_date": ["Runners must be at least 17 years old on race day."]
    }


def test_maximum_age_on_race_day(make_event, english):
    event = make_event(min_age=17, max_age=60)
    assert isinstance(runner_born(event, date(1966, 12, 13)), RegistrationData)  # 60 that day
    assert isinstance(runner_born(event, date(1965, 12, 14)), RegistrationData)  # 61 next day
    assert runner_born(event, date(1965, 12, 13)) == {
        "birth_date": ["Runners must be at most 60 years old on race day."]
    }


def test_age_rule_follows_the_event_date(make_event, english):
    earlier = make_event(date=date(2026, 6, 1), min_age=17)
    later = make_event(date=date(2027, 6, 1), min_age=17)
    birth = date(2009, 12, 13)
    assert isinstance(runner_born(earlier, birth), dict)
    assert isinstance(runner_born(later, birth), RegistrationData)


def test_implausible_age_is_refused(event):
    assert runner_born(event, date(1900, 1, 1)) == {
        "birth_date": ["Enter a real date, e.g. 1990-08-17."]
    }


# --- consent ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [MISSING, None, False, "", "n", "no", "false", "0", "nope", 1, 1.0, [True], {}]
)
def test_consent_required(event, value):
    assert errors(event, consent=value) == {
        "consent": ["You must agree to the privacy notice to register."]
    }


@pytest.mark.parametrize("value", [True, "y", "yes", "true", "on", "1"])
def test_consent_given(event, value):
    assert isinstance(clean(event, consent=value), RegistrationData)


# --- after registering -----------------------------------------------------------------


def test_contact_change_uses_the_same_rules(event):
    change = clean_contact_change(
        {"phone": "62 857 1234 5678", "shirt_size": "xl", "email": "Ani@Example.com"}, event
    )
    assert change == ContactChange(
        phone="+6285712345678",
        email="Ani@example.com",
        shirt_size="XL",
        occupation=None,
        emergency_contact=None,
        emergency_phone=None,
    )
    with pytest.raises(ValidationFailed) as info:
        clean_contact_change({"phone": "021 5551234", "shirt_size": "XXXL"}, event)
    assert set(info.value.errors) == {"phone", "shirt_size"}
