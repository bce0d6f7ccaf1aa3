"""Hostile input on every HTML form: a 4xx page, never a 500, and the database unchanged.

Issue 8 point 2. Hypothesis builds bad submissions from a valid one: at least one field
gets a value that must be refused (10k+ characters, control characters and NUL bytes,
lone surrogates and invalid UTF-8 sent as raw bytes, a required field missing or sent as
a file, a value repeated with the bad one first, text where a number, date or choice is
expected, huge and negative numbers), other fields get harmless noise (repeats, extra
fields), the body goes urlencoded or multipart, and the CSRF token is mostly valid (so
the input reaches validation) and sometimes missing, forged or another session's. Each
example compares a snapshot of every table (row count and a digest of the contents)
before and after; the only writes allowed are the intended ones, named per form (a failed
sign-in is audited, every scan is logged). No table is skipped: the notices a page stores
the first time it shows them in a language are shown once before the examples.

The other side is checked too: unusual but valid registrations (long, accented, spaced
out, emoji) are taken and stored exactly as normalised, on both databases. Each bug the
fuzzing found has a focused regression test at the end of this file.

Examples per form: ``FUNRUN_FUZZ_EXAMPLES`` (default 12, derandomized, so CI is
repeatable); hunt for bugs with e.g. ``FUNRUN_FUZZ_EXAMPLES=300``.

``FORMS`` below is the coverage table: every route of the app that takes a POST outside
/api/ must be in it (a test compares it with the URL map), plus the GET forms.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote_from_bytes, unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from funrun.accounts.models import ApiToken, EventAssignment, User
from funrun.checkin.services import scan
from funrun.enrolment import services as enrolment_services
from funrun.enrolment.schedule import SHIPPED, dump_document, load_file
from funrun.enrolment.schedule_forms import form_fields
from funrun.events.models import Event
from funrun.extensions import db
from funrun.registration.models import Registration
from funrun.registration.services import current_privacy_notice, register
from funrun.registration.validation import clean_registration
from tests.checkin.conftest import (  # noqa: F401  (fixtures reused here)
    PASSWORD,
    Staff,
    _fast_password_hashes,
    browser,
    login,
    make_staff,
)
from tests.conftest import csrf_from, person_payload
from tests.enrolment.conftest import FINALE

EXAMPLES = int(os.environ.get("FUNRUN_FUZZ_EXAMPLES", "12"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


# --- the coverage table ----------------------------------------------------------------


@dataclass(frozen=True)
class FormRoute:
    """One HTML form: the endpoint that takes it, who may send it, and what it does."""

    endpoint: str
    method: str
    role: str | None
    what: str
    fuzzed_by: str


FIELDS = "test_bad_field_values_are_refused"
BUTTON = "test_button_forms_refuse_a_bad_csrf_token"
SCHEDULES = "test_schedule_documents_never_half_apply"
SEARCH = "test_search_forms_never_fail"
LANG = "test_language_switch_stays_on_site"

FR = FormRoute
# fmt: off
FORMS: tuple[FormRoute, ...] = (
    #  endpoint                        method  role         what                     test
    FR("registration.register_page",   "POST", None,        "runner registers",      FIELDS),
    FR("registration.manage",          "POST", None,        "runner edits contact",  FIELDS),
    FR("registration.cancel_page",     "POST", None,        "runner cancels",        BUTTON),
    FR("registration.recover_page",    "POST", None,        "runner's lost link",    FIELDS),
    FR("registration.reminders_switch", "POST", None,       "runner's reminders",    BUTTON),
    FR("registration.representative",  "POST", None,        "runner names collector", FIELDS),
    # A group member's held place: confirm (consent) or let go; fields in tests/groups.
    FR("registration.confirm_hold",    "POST", None,        "member confirms hold",  BUTTON),
    # A partner's group as a CSV file; bad files and keys in tests/groups/test_partner_pages.py.
    FR("partner.upload_group",         "POST", "partner",   "partner sends a group", BUTTON),
    FR("partner.change_password",      "POST", "partner",   "partner's own password", FIELDS),
    FR("i18n.switch_language",         "GET",  None,        "language switch",       LANG),
    FR("accounts.login",               "POST", None,        "staff sign-in",         FIELDS),
    FR("accounts.logout",              "POST", "volunteer", "staff sign-out",        BUTTON),
    FR("checkin.scan_page",            "POST", "volunteer", "no-JS scan form",       FIELDS),
    FR("checkin.undo_page",            "POST", "organiser", "undo a check-in",       BUTTON),
    FR("checkin.desk_search",          "POST", "volunteer", "desk: find a runner",   FIELDS),
    FR("checkin.walkup",               "POST", "volunteer", "walk-up, no enrolment", FIELDS),
    FR("registration.dispute_page",    "POST", "volunteer", "void a squatted NIK",   FIELDS),
    FR("enrolment.desk",               "POST", "volunteer", "desk: scanned runner",  FIELDS),
    FR("enrolment.desk",               "POST", "volunteer", "desk: walk-up",         FIELDS),
    FR("enrolment.exports",            "POST", "organiser", "make an export batch",  BUTTON),
    FR("enrolment.schedules",          "POST", "admin",     "schedules (JSON)",      SCHEDULES),
    FR("enrolment.schedule_edit",      "POST", "admin",     "a schedule's form",     FIELDS),
    FR("messages.broadcast",           "POST", "organiser", "write to runners",      FIELDS),
    FR("messages.retry",               "POST", "organiser", "retry a message",       BUTTON),
    FR("messages.retry_event",         "POST", "organiser", "retry failed messages", BUTTON),
    FR("events.create",                "POST", "organiser", "create an event",       FIELDS),
    FR("events.edit",                  "POST", "organiser", "edit an event",         FIELDS),
    FR("events.shirt_stock",           "POST", "organiser", "shirt stock per size",  FIELDS),
    FR("events.switch_registration",   "POST", "organiser", "open/close register",  BUTTON),
    FR("events.tour_identity",         "POST", "organiser", "tour names, colours",   FIELDS),
    FR("bibs.print_bibs",              "POST", "organiser", "start a bib print job", BUTTON),
    FR("ballot.manage",                "POST", "organiser", "draw the ballot",       BUTTON),
    FR("accounts.create_account",      "POST", "admin",     "create an account",     FIELDS),
    FR("accounts.assign",              "POST", "admin",     "assign to an event",    FIELDS),
    FR("accounts.unassign",            "POST", "admin",     "remove an assignment",  BUTTON),
    FR("accounts.issue_token",         "POST", "admin",     "issue an API token",    BUTTON),
    FR("accounts.revoke_token",        "POST", "admin",     "revoke an API token",   BUTTON),
    FR("accounts.set_active",          "POST", "admin",     "(de)activate account",  BUTTON),
    FR("accounts.end_sessions",        "POST", "admin",     "end all sessions",      BUTTON),
    FR("accounts.change_password",     "POST", "volunteer", "change own password",   FIELDS),
    FR("privacy.person_page",          "POST", "admin",     "find a person by NIK",  FIELDS),
    FR("privacy.person_export_file",   "POST", "admin",     "export person data",    BUTTON),
    FR("privacy.person_delete",        "POST", "admin",     "delete person data",    FIELDS),
    FR("sponsors.sponsor_new",         "POST", "organiser", "create a sponsor",      FIELDS),
    FR("sponsors.sponsor_page",        "POST", "organiser", "edit a sponsor",        FIELDS),
    FR("sponsors.upload_list",         "POST", "organiser", "sponsor's NIK list",    FIELDS),
    # The scheme's payment file; bad files in tests/payments/test_upload_page.py.
    FR("reports.payments_page",        "POST", "organiser", "payment file upload",   BUTTON),
    FR("reports.roster",               "GET",  "organiser", "roster search",         SEARCH),
    FR("audit.audit_page",             "GET",  "admin",     "audit log filters",     SEARCH),
)
# fmt: on


def test_every_form_route_is_in_the_table(app: Flask) -> None:
    """A new POST route outside /api/ fails here until it is fuzzed and listed."""
    posting = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
    }
    listed = {f.endpoint for f in FORMS if f.method == "POST"}
    assert posting == listed, f"not in FORMS: {posting - listed}; gone: {listed - posting}"
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {f.endpoint for f in FORMS} <= endpoints
    assert {f.fuzzed_by for f in FORMS} <= set(globals()), "every form names a test here"


# --- database snapshots ----------------------------------------------------------------


def snapshot() -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of all its rows, read on a fresh connection."""
    db.session.remove()
    out = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            # A staff session's last_seen_at is bookkeeping (written at most once a minute).
            columns = [c for c in table.columns if c.name != "last_seen_at"]
            query = select(*columns).order_by(*table.primary_key.columns)
            rows = conn.execute(query).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def changed(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> dict:
    """The tables whose rows differ: name -> rows added (may be 0 for an update)."""
    return {
        name: after[name][0] - before[name][0] for name in before if before[name] != after[name]
    }


def newest(table: str, column: str) -> Any:
    """The ``column`` of the newest row of ``table``."""
    with db.engine.connect() as conn:
        t = db.metadata.tables[table]
        return conn.execute(select(t.c[column]).order_by(t.c.id.desc()).limit(1)).scalar()


# --- the world the forms act on --------------------------------------------------------


@dataclass
class World:
    """An event with a runner, a check-in, staff signed in, and a second volunteer."""

    event_slug: str
    other_slug: str
    other_event_id: int
    runner_token: str
    registration_id: int
    person_id: int
    checkin_id: int
    target: Staff
    assignment_id: int
    token_id: int
    clients: dict[str | None, FlaskClient] = field(default_factory=dict)

    def csrf(self, role: str | None) -> str:
        """A valid CSRF token for ``role``'s session."""
        page = "/login" if role is None else "/staff/people/new" if role == "admin" else "/staff"
        page = "/partner/" if role == "partner" else page
        return csrf_from(self.clients[role].get(page).get_data(as_text=True))


@pytest.fixture
def world(
    app: Flask,
    make_event: Callable[..., Event],
    make_staff: Callable[..., Staff],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    """Everything the forms need, made once per test (the examples must not change it)."""
    load_file()
    # The shipped 2015 schedule prices enrolments made on the Jakarta finale.
    monkeypatch.setattr(enrolment_services, "utcnow", lambda: FINALE)
    event = make_event(quota=10)
    other = make_event(quota=10)
    data = clean_registration(person_payload(1), event)
    new = register(event, data, notice=current_privacy_notice("id"))
    volunteer = make_staff("volunteer", events=(event.slug,), password=PASSWORD)
    organiser = make_staff("organiser", password=PASSWORD)
    admin = make_staff("admin", password=PASSWORD)
    target = make_staff("volunteer", events=(event.slug,))
    partner = make_staff("partner", password=PASSWORD)
    outcome = scan(
        event,
        f"TST{new.snapshot.bib_number:04d}",
        user=db.session.get(User, organiser.id),
        method="typed",  # the runner's ID card checked (issue 15)
        id_checked=True,
    )
    assert outcome.http_status == 201
    world = World(
        event_slug=event.slug,
        other_slug=other.slug,
        other_event_id=other.id,
        runner_token=new.manage_token,
        registration_id=new.snapshot.id,
        person_id=new.registration.person_id,
        checkin_id=outcome.as_json()["checkin_id"],
        target=target,
        assignment_id=db.session.scalar(
            select(EventAssignment.id).where(EventAssignment.user_id == target.id)
        ),
        token_id=db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == target.id)),
    )
    world.clients[None] = browser(app)
    signed_in = (("volunteer", volunteer), ("organiser", organiser), ("admin", admin))
    for role, staff in (*signed_in, ("partner", partner)):
        client = browser(app)
        assert login(client, staff.email).status_code == 302
        world.clients[role] = client
    # The notices shown are stored once per distinct text when first shown (an intended,
    # idempotent write): show each page in both languages first.
    for lang in ("id", "en"):
        for role, url in (
            (None, f"/events/{event.slug}/register"),
            ("volunteer", f"/staff/events/{event.slug}/enrol"),
        ):
            world.clients[role].set_cookie("lang", lang)
            assert world.clients[role].get(url).status_code == 200
    db.session.commit()
    return world


# --- bad values ------------------------------------------------------------------------

#: Control characters that are not whitespace (str.split() turns \t, \n, \x1c-\x1f and \x85
#: into spaces, which the validation then collapses: harmless), format and private-use ones.
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F, *range(0x80, 0x85))]
CONTROLS += ["\x86", "\x9f", "\u200b", "\u202e", "\u2066", "\ufeff", "\ue000", "\U000f0000"]
#: Bytes that are not UTF-8: a stray continuation, an overlong "/", a CESU surrogate, 0xFF.
INVALID_UTF8 = [b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff\xfe", b"\xf4\x90\x80\x80", b"\xc3"]
NOT_NUMBERS = ["abc", "1.5", "1e3", "1e309", "NaN", "inf", "-inf", "0x10", "--1", "1,5", "½", "[]"]
NOT_DATES = [
    "2015-02-30", "1990-13-01", "0000-01-01", "99999-01-01", "tomorrow", "1990/08/17",
    "17.08.1990", "1990-08-17T00:00", "-1", "0001-01-01", "9999-12-31",
    "\u0661\u0669\u0669\u0660-\u0660\u0668-\u0661\u0667",
]  # fmt: skip


#: Well-formed but out of range: year 1 at the venue is before year 1 in UTC.
FAR_TIMES = ["0001-01-01T00:00", "9999-12-31T23:59", "1999-12-31T23:59"]


class Missing:
    """The field is left out."""


class AsFile:
    """The field is sent as a file part (multipart) instead of a text field."""

    def __init__(self, content: bytes) -> None:
        self.content = content


Value = str | bytes | Missing | AsFile


@dataclass(frozen=True)
class Field:
    """How a form field may be spoiled: ``kind`` picks the bad values."""

    kind: str  # text, int, date, time, datetime, choice, password, confirm, json, code
    required: bool = True
    ok: tuple[str, ...] = ()  # choice: values accepted (case-insensitively, trimmed)
    low: int = 0
    high: int = 99999
    #: Left out, the field keeps its stored value (a form filled from a record): not bad.
    missing_ok: bool = False


def _spliced(base: str) -> st.SearchStrategy[str]:
    """``base`` with control characters (or a NUL) put inside it."""
    return st.builds(
        lambda at, bad: base[: at % (len(base) + 1)] + bad + base[at % (len(base) + 1) :],
        st.integers(0, 200),
        st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=3).map("".join),
    )


def _overlong(base: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda n, unit: (base + " " + unit * n)[: n * len(unit)],
        st.integers(10_001, 12_000),
        st.sampled_from(["a", "9", "é", "x ", "ß", "😀"]),
    )


def _text_bad(base: str) -> st.SearchStrategy[Value]:
    """Values no text field may take: too long, control characters, broken encodings."""
    return st.one_of(
        _overlong(base),
        _spliced(base or "x"),
        st.sampled_from(["\ud800", "\udfff", "a\udc80b"]).map(lambda s: (base or "x") + s),
        st.sampled_from(INVALID_UTF8).map(lambda b: (base or "x").encode() + b),
    )


def bad_values(spec: Field, base: str, how: str = "multipart") -> st.SearchStrategy[list[Value]]:
    """What a poisoned field is sent as: one or more values, the bad one first.

    A file part exists in multipart only: urlencoded, it is left out (missing).
    """
    kind = spec.kind
    singles: list[st.SearchStrategy[Value]] = []
    if kind in ("text", "code"):
        singles.append(_text_bad(base))
    elif kind == "int":
        singles += [
            st.sampled_from(NOT_NUMBERS),
            st.one_of(
                st.integers(max_value=spec.low - 1), st.integers(min_value=spec.high + 1)
            ).map(str),
            st.sampled_from(["9" * 40, "-" + "9" * 40, "99999999999999999999"]),
            _spliced(base),
        ]
    elif kind in ("date", "time", "datetime"):
        singles += [
            st.sampled_from([*NOT_DATES, "25:61", "12:00:99", "2015-12-13T25:00", "T", *FAR_TIMES]),
            _spliced(base),
            _overlong(base),
            st.sampled_from(INVALID_UTF8).map(lambda b: base.encode() + b),
        ]
    elif kind == "choice":
        accepted = {v.upper() for v in spec.ok}
        singles += [
            st.sampled_from(["XXL9", "-1", "99999999999", "null", "[]", "M,F", "ǅ", "ﬀ"]).filter(
                lambda v: v.strip().upper() not in accepted
            ),
            _spliced(base or "x"),
            _overlong(base or "x"),
            st.sampled_from(INVALID_UTF8).map(lambda b: (base or "x").encode() + b),
        ]
    elif kind == "password":
        singles.append(_overlong(base))
    elif kind == "confirm":  # anything but the password is refused
        singles += [_overlong(base), _spliced(base)]
    elif kind == "json":
        singles += [
            st.sampled_from(["", "{", "[]", "null", "1", '"x"', '{"schedules": 1}', "[" * 5000]),
            _overlong("{"),
            st.sampled_from(INVALID_UTF8).map(lambda b: b"{" + b + b"}"),
            _spliced("{}"),
        ]
    one = st.one_of(*singles)
    shapes: list[st.SearchStrategy[list[Value]]] = [
        one.map(lambda v: [v]),
        # Repeated: WTForms and request.form read the first value, so the bad one goes first.
        st.tuples(one, st.just(base)).map(list),
    ]
    if spec.required:
        empty: list[Value] = [""] if kind != "json" else []
        shapes.append(st.just(empty))
        if how == "multipart":
            shapes.append(st.just([AsFile(base.encode("utf-8", "surrogatepass"))]))
        if not spec.missing_ok:
            shapes.append(st.just([Missing()]))
    return st.one_of(*shapes)


# --- sending ---------------------------------------------------------------------------


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode(pairs: list[tuple[str, Value]], how: str) -> tuple[bytes, str]:
    """The raw body and its content type; lone surrogates go as (invalid) UTF-8 bytes."""
    if how == "urlencoded":
        body = "&".join(
            f"{quote_from_bytes(_bytes(k))}={quote_from_bytes(_bytes(v))}"
            for k, v in pairs
            if not isinstance(v, Missing | AsFile)
        )
        return body.encode("ascii"), "application/x-www-form-urlencoded"
    boundary = "fuzz" + secrets.token_hex(8)
    parts = []
    for k, v in pairs:
        if isinstance(v, Missing):
            continue
        head = f'Content-Disposition: form-data; name="{k}"'.encode()
        if isinstance(v, AsFile):
            head += b'; filename="x.txt"\r\nContent-Type: application/octet-stream'
            content = v.content
        else:
            content = _bytes(v)
        parts.append(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


CSRF_MODES = ["valid"] * 6 + ["missing", "forged", "other", "empty", "nul"]


def csrf_value(world: World, role: str | None, mode: str) -> str | None:
    """The token to send: valid for this session, or one of the ways it can be wrong."""
    if mode == "valid":
        return world.csrf(role)
    if mode == "other":  # a real token, of another session
        return world.csrf("organiser" if role != "organiser" else "admin")
    return {"missing": None, "forged": "IjEyMyI.Zm9yZ2Vk.c2ln", "empty": "", "nul": "\x00"}[mode]


def send(client: FlaskClient, url: str, pairs: list[tuple[str, Value]], how: str) -> Any:
    """POST the raw body."""
    body, content_type = encode(pairs, how)
    return client.post(url, data=body, content_type=content_type)


# --- the field forms -------------------------------------------------------------------

SIZES = ("XS", "S", "M", "L", "XL", "XXL")
TEXT = Field("text")
OPTIONAL_TEXT = Field("text", required=False)


def _person(index: int) -> dict[str, str]:
    p = person_payload(index)
    return {k: str(p[k]) for k in ("full_name", "nik", "birth_date", "gender", "phone")}


CONTACT = {
    "phone": "0812 3456 7890",
    "email": "siti@example.org",
    "shirt_size": "L",
    "occupation": "pedagang pasar",
    "emergency_contact": "Ahmad Santoso",
    "emergency_phone": "0813 1111 2222",
}
CONTACT_FIELDS = {
    "phone": TEXT,
    "email": OPTIONAL_TEXT,
    "shirt_size": Field("choice", ok=SIZES),
    "occupation": OPTIONAL_TEXT,
    "emergency_contact": OPTIONAL_TEXT,
    "emergency_phone": OPTIONAL_TEXT,
}
ENROL = {
    "birth_place": "Makassar",
    "mother_maiden_name": "Hajjah Nurhayati",
    "address": "Jl. Somba Opu 12, Makassar",
    "occupation": "angkot_driver",
    "occupation_other": "",
    "declared_income": "1.000.000",
    "months": "3",
    "payment_channel": "cash",
    "consent": "y",
}
ENROL_FIELDS = {
    "birth_place": TEXT,
    "mother_maiden_name": TEXT,
    "address": TEXT,
    "occupation": Field("choice", ok=("angkot_driver", "trader", "ojek_driver", "street_sweeper",
                                       "fisher", "farmer", "day_labourer", "other")),
    "declared_income": Field("int", low=1_000_000, high=10**12),
    "months": Field("choice", ok=("1", "3", "6", "12")),
    "payment_channel": Field("choice", ok=("cash", "bank", "epayment", "sponsor")),
    "consent": Field("flag"),
}  # fmt: skip
EVENT = {
    "city": "Kota Fuzz",
    "name": "Fun Run Kota Fuzz",
    "date": "2026-12-20",
    "start_time": "06:00",
    "timezone": "Asia/Makassar",
    "venue": "Lapangan Karebosi",
    "quota": "500",
    "registration_open": "y",
    "registration_opens_at": "2026-11-01T08:00",
    "registration_closes_at": "2026-12-18T20:00",
    "bib_prefix": "FUZ",
    "bib_first": "1",
    "bib_last": "2000",
    "bib_colour": "#0A7A3D",
    "shirt_sizes": "S, M, L",
    "min_age": "10",
    "max_age": "80",
    "reminder_days_before": "3",
    "pickup_hours": "Sabtu 19 Des, 10.00-18.00, Lobby Mal Karebosi",
    "proxy_limit": "3",
}
EVENT_FIELDS = {
    "city": TEXT,
    "name": TEXT,
    "date": Field("date"),
    "start_time": Field("time"),
    "timezone": Field("choice", ok=("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")),
    "venue": TEXT,
    "quota": Field("int", low=1, high=99999),
    "registration_opens_at": Field("datetime", required=False),
    "registration_closes_at": Field("datetime", required=False),
    "bib_prefix": TEXT,
    "bib_first": Field("int", low=0, high=2000),
    "bib_last": Field("int", low=1, high=99999),
    "bib_colour": TEXT,
    "shirt_sizes": TEXT,
    "min_age": Field("int", low=0, high=80),
    "max_age": Field("int", required=False, low=10, high=120),
    "reminder_days_before": Field("int", required=False, low=1, high=30),
    "pickup_hours": Field("text", required=False),
    "proxy_limit": Field("int", required=False, low=0, high=50),
}


@dataclass(frozen=True)
class FieldForm:
    """A form with fields: where it is, who sends it, a valid body, the fields to spoil."""

    role: str | None
    url: Callable[[World], str]
    valid: Callable[[World], dict[str, str]]
    fields: dict[str, Field]
    #: Tables a refused submission may still write to, checked by ``intended``.
    intended: Callable[[int, dict[str, int]], None] | None = None
    #: The enrolment desk: its buttons send action=review|confirm and the quote shown.
    desk: bool = False


def _login_intended(status: int, diff: dict[str, int]) -> None:
    """A refused sign-in that got past the form is audited (one login_failed row) and
    counted against the typed email (sign_in_failures: one row per email); failing
    again and again locks the email (429, and a login_locked row when the lock begins)."""
    if status in (401, 429):
        assert set(diff) <= {"audit_log", "sign_in_failures"}, diff
        assert diff.get("sign_in_failures", 0) in (0, 1), diff
        assert diff.get("audit_log") in ((1,) if status == 401 else (1, 2)), diff
        assert newest("audit_log", "action") in ("login_failed", "login_locked")
    else:
        assert diff == {}, diff


def _password_intended(status: int, diff: dict[str, int]) -> None:
    """The current password sent is always wrong: once the form is valid it counts as a
    failed sign-in (a 422 saying so, or the lock's 429), and the password never changes."""
    if diff:
        _login_intended(401 if status == 422 else status, diff)


def _scan_intended(status: int, diff: dict[str, int]) -> None:
    """A scan that names no runner is logged (one scan_log row); a malformed one is not."""
    if diff:
        assert diff == {"scan_log": 1}, diff
        assert newest("scan_log", "result") in ("unknown", "invalid"), newest("scan_log", "result")
        assert status in (404, 422)


FIELD_FORMS: dict[str, FieldForm] = {
    "register": FieldForm(
        None,
        lambda w: f"/events/{w.event_slug}/register",
        lambda w: {**CONTACT, **_person(2), "member": "n", "kpj_number": "", "consent": "y"},
        {
            **CONTACT_FIELDS,
            "full_name": TEXT,
            "nik": TEXT,
            "birth_date": Field("date"),
            "gender": Field("choice", ok=("M", "F")),
            "member": Field("choice", ok=("y", "n", "yes", "no", "true", "false", "1", "0", "on")),
            "consent": Field("flag"),
        },
    ),
    # Nobody holds this NIK in the world: even a well-formed dispute is refused (409).
    "dispute": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/disputes",
        lambda w: {
            **CONTACT, **_person(5), "member": "n", "kpj_number": "", "consent": "y",
            "reason": "KTP milik orang lain", "id_seen": "y", "action": "void",
        },
        {
            **CONTACT_FIELDS,
            "full_name": TEXT,
            "nik": TEXT,
            "birth_date": Field("date"),
            "gender": Field("choice", ok=("M", "F")),
            "consent": Field("flag"),
            "reason": TEXT,
            "id_seen": Field("flag"),
        },
    ),
    # The manage form is filled from the registration: a field left out keeps its value.
    "manage": FieldForm(
        None,
        lambda w: f"/r/{w.runner_token}",
        lambda w: dict(CONTACT),
        {name: replace(f, missing_ok=True) for name, f in CONTACT_FIELDS.items()},
    ),
    # A lost link: a spoiled NIK or contact is refused before anything is looked up.
    "recover": FieldForm(
        None,
        lambda w: "/r/recover",
        lambda w: {"nik": _person(1)["nik"], "contact": "0812 9999 0000"},
        {"nik": TEXT, "contact": TEXT},
    ),

    # An organiser's broadcast, previewed: a spoiled subject or body is refused, nothing sent.
    "broadcast": FieldForm(
        "organiser",
        lambda w: f"/staff/events/{w.event_slug}/broadcast",
        lambda w: {
            "subject_id": "Perubahan lokasi start",
            "body_id": "Start dipindah ke gerbang selatan.",
            "subject_en": "",
            "body_en": "",
            "action": "preview",
        },
        {"subject_id": TEXT, "body_id": TEXT},
    ),
    "login": FieldForm(
        None,
        lambda w: "/login",
        # A wrong password: no example may sign in, whatever it repeats.
        lambda w: {"email": w.target.email, "password": "wrong " + PASSWORD},
        {"email": TEXT, "password": Field("password")},
        _login_intended,
    ),
    "password_change": FieldForm(
        "volunteer",
        lambda w: "/staff/password",
        # A wrong current password: no example may change it, whatever it repeats.
        lambda w: {
            "current": "wrong " + PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
        {"current": Field("password"), "password": Field("password"), "confirm": Field("confirm")},
        _password_intended,
    ),
    "partner_password": FieldForm(
        "partner",
        lambda w: "/partner/password",
        # A wrong current password: no example may change it, whatever it repeats.
        lambda w: {
            "current": "wrong " + PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
        {"current": Field("password"), "password": Field("password"), "confirm": Field("confirm")},
        _password_intended,
    ),
    "scan": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/scan",
        # A bib nobody has, "ID card checked" (the confirm step): refused whatever the noise.
        lambda w: {"code": "TST9999", "id_checked": "1"},
        {"code": Field("code"), "id_checked": Field("text", required=False)},
        _scan_intended,
    ),
    # A desk card's pickup by a representative (a bib nobody has): the representative's
    # name, NIK and the shirt size spoiled are refused (422) before anything is logged.
    "scan_pickup": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/scan?station=pickup",
        lambda w: {
            "code": "TST9999", "id_checked": "1", "proxy_name": "Agus Wijaya",
            "proxy_nik": _person(7)["nik"], "shirt_given": "M",
        },
        {"proxy_name": OPTIONAL_TEXT, "proxy_nik": OPTIONAL_TEXT, "shirt_given": OPTIONAL_TEXT},
        _scan_intended,
    ),
    # Who collects the race pack: a spoiled name or phone is refused, nothing saved.
    "representative": FieldForm(
        None,
        lambda w: f"/r/{w.runner_token}/representative",
        lambda w: {"proxy_name": "Agus Wijaya", "proxy_phone": "0812 1111 2222"},
        {"proxy_name": TEXT, "proxy_phone": TEXT},
    ),
    # Shirts per size: a quantity that is no whole number from 0 to 99999 is refused.
    "shirt_stock": FieldForm(
        "organiser",
        lambda w: f"/staff/events/{w.event_slug}/shirt-stock",
        lambda w: {"size-S": "10", "size-M": "20"},
        {"size-S": Field("int", required=False), "size-M": Field("int", required=False)},
    ),
    "desk": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/enrol?registration={w.registration_id}",
        lambda w: dict(ENROL),
        ENROL_FIELDS,
        desk=True,
    ),
    "walkup": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/enrol",
        lambda w: {**ENROL, **_person(3), "shirt_size": "M", "email": ""},
        {
            **ENROL_FIELDS,
            "full_name": TEXT,
            "nik": TEXT,
            "birth_date": Field("date"),
            "gender": Field("choice", ok=("M", "F")),
            "phone": TEXT,
            "email": OPTIONAL_TEXT,
            "shirt_size": Field("choice", ok=SIZES),
        },
        desk=True,
    ),
    # What is typed may be a NIK: posted, and never a write.
    "desk_search": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/scan/search",
        lambda w: {"q": "Budi"},
        {"q": TEXT},
    ),
    "walkup_member": FieldForm(
        "volunteer",
        lambda w: f"/staff/events/{w.event_slug}/walkup",
        lambda w: {
            **_person(4), "shirt_size": "M", "email": "", "member": "", "kpj_number": "",
            "id_checked": "y", "consent": "y",
        },
        {
            "full_name": TEXT,
            "nik": TEXT,
            "birth_date": Field("date"),
            "gender": Field("choice", ok=("M", "F")),
            "phone": TEXT,
            "email": OPTIONAL_TEXT,
            "shirt_size": Field("choice", ok=SIZES),
            "id_checked": Field("flag"),
            "consent": Field("flag"),
        },
    ),
    "event_create": FieldForm(
        "organiser",
        lambda w: "/staff/events/new",
        lambda w: {**EVENT, "slug": "kota-fuzz-2026"},
        {**EVENT_FIELDS, "slug": TEXT},
    ),
    "event_edit": FieldForm(
        "organiser", lambda w: f"/staff/events/{w.event_slug}/edit", lambda w: dict(EVENT),
        EVENT_FIELDS,
    ),
    "tour_identity": FieldForm(
        "organiser",
        lambda w: "/staff/tours/test-tour/identity",
        lambda w: {"organiser": "BPJS Ketenagakerjaan", "scheme_name": "BPJS Ketenagakerjaan",
                   "colour": "#1D4E89", "accent_colour": "#F2A900"},
        {"organiser": TEXT, "scheme_name": OPTIONAL_TEXT, "colour": TEXT, "accent_colour": TEXT},
    ),
    "account": FieldForm(
        "admin",
        lambda w: "/staff/people/new",
        lambda w: {
            "email": "baru@example.org", "role": "volunteer",
            "password": PASSWORD, "confirm": PASSWORD,
        },
        {
            "email": TEXT,
            "role": Field("choice", ok=("admin", "organiser", "volunteer", "partner")),
            "password": Field("password"),
            "confirm": Field("confirm"),
        },
    ),
    "assign": FieldForm(
        "admin",
        lambda w: f"/staff/people/{w.target.id}/assignments",
        lambda w: {"event_id": str(w.other_event_id), "station": "finish"},
        {
            "event_id": Field("int", low=1, high=2**31 - 1),
            "station": Field("choice", required=False, ok=("", "pickup", "start", "finish")),
        },
    ),
    # The shipped schedule as its form sends it: a spoiled field is a 422 and saves nothing.
    "schedule_edit": FieldForm(
        "admin",
        lambda w: "/staff/enrolment/schedules/bpu-2015/edit",
        lambda w: dict(form_fields(json.loads(SHIPPED.read_text("utf-8"))["schedules"][0])),
        {
            "name": TEXT,
            "effective_from": Field("date"),
            # Any other lowest basis leaves the first bracket starting elsewhere.
            "min_income": Field("int", low=1_000_000, high=1_000_000),
            "rates-0-amount": TEXT,
            "reliefs-1-periods-0-first_month": Field("date"),
        },
    ),
    "privacy_find": FieldForm(
        "admin",
        lambda w: "/staff/privacy",
        lambda w: {"nik": person_payload(1)["nik"]},
        {"nik": TEXT},
    ),
    # A sponsor: a spoiled code, name or budget is refused (422), nothing saved.
    "sponsor_new": FieldForm(
        "organiser",
        lambda w: "/staff/sponsors/new",
        lambda w: {
            "code": "csr-fuzz", "name": "CSR Fuzz", "budget_member_months": "120",
            "budget_rupiah": "2.000.000", "partner_id": "", "active": "y",
        },
        {
            "code": TEXT,
            "name": TEXT,
            "budget_member_months": Field("int", required=False, low=0, high=10**9),
            "budget_rupiah": Field("int", required=False, low=0, high=10**15),
            "partner_id": Field("choice", required=False, ok=("",)),
        },
    ),
    "sponsor_edit": FieldForm(
        "organiser",
        lambda w: "/staff/sponsors/apbd-dki",
        lambda w: {
            "name": "APBD DKI", "budget_member_months": "", "budget_rupiah": "",
            "partner_id": "", "public_budget": "y", "active": "y",
        },
        {
            "name": TEXT,
            "budget_member_months": Field("int", required=False, low=0, high=10**9),
            "budget_rupiah": Field("int", required=False, low=0, high=10**15),
            "partner_id": Field("choice", required=False, ok=("",)),
        },
    ),
    # A sponsor's list with a spoiled choice (add or replace): nothing is listed.
    "sponsor_list": FieldForm(
        "organiser",
        lambda w: "/staff/sponsors/apbd-dki/list",
        lambda w: {"mode": "add", "file": AsFile(f"nik\n{_person(8)['nik']}\n".encode())},  # type: ignore[dict-item]
        {"mode": Field("choice", ok=("add", "replace"))},
    ),
    "privacy_delete": FieldForm(
        "admin",
        lambda w: f"/staff/privacy/{w.person_id}/delete",
        lambda w: {"confirm": "yes"},
        {"confirm": Field("choice", ok=("yes",))},
    ),
}  # fmt: skip


@st.composite
def field_submission(draw: st.DrawFn, form: FieldForm, valid: dict[str, str]) -> dict:
    """A submission with at least one spoiled field, noise elsewhere, and a CSRF mode."""
    spoilable = sorted(n for n, f in form.fields.items() if f.kind != "flag" or f.required)
    how = draw(st.sampled_from(["urlencoded", "multipart"]))
    poisoned = draw(st.lists(st.sampled_from(spoilable), min_size=1, max_size=3, unique=True))
    pairs: list[tuple[str, Value]] = []
    for name, value in valid.items():
        spec = form.fields.get(name)
        if name in poisoned and spec is not None:
            if spec.kind == "flag":  # a checkbox: any value means yes, so leave it out
                continue
            pairs += [(name, v) for v in draw(bad_values(spec, value, how))]
        else:
            pairs.append((name, value))
            if draw(st.booleans()) and draw(st.booleans()):
                # A repeat after the real value is ignored: noise that must not matter.
                pairs.append((name, draw(st.sampled_from(["", "\x00", "9" * 30, "ǅ"]))))
    if draw(st.booleans()):
        pairs.append(("unexpected", draw(st.sampled_from(["1", "\x00", "x" * 5000]))))
    if form.desk:
        # The desk's buttons: review, confirm (with any quote); "edit" only goes back.
        pairs.append(("action", draw(st.sampled_from(["review", "confirm", "\x00", "x"]))))
        pairs.append(("quoted", draw(st.sampled_from(["33600", "1", "", "\x00"]))))
    return {
        "pairs": pairs,
        "how": how,
        "csrf": draw(st.sampled_from(CSRF_MODES)),
        "lang": draw(st.sampled_from(["id", "id", "en"])),
        "poisoned": poisoned,
    }


#: WTForms' own messages (it ships no Indonesian catalogue).
WTFORMS_ENGLISH = (
    "This field is required",
    "Field must be",
    "Field cannot be longer",
    "Not a valid",
    "Number must be",
    "Invalid value",
    "Invalid Choice",
    "Invalid email",
)


def assert_refused(response: Any, csrf: str, lang: str) -> None:
    """A 4xx page in the user's language; a bad CSRF token is a 400 before anything else."""
    status = response.status_code
    assert 400 <= status < 500, (status, response.get_data(as_text=True)[:2000])
    if csrf != "valid":
        assert status in (400, 413), status
    if response.mimetype == "text/html":
        html = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in html
        if lang == "id":  # WTForms has no Indonesian: its English defaults must not show
            assert not [m for m in WTFORMS_ENGLISH if m in html], html


@pytest.mark.parametrize("name", sorted(FIELD_FORMS))
@FUZZ
@given(data=st.data())
def test_bad_field_values_are_refused(world: World, name: str, data: st.DataObject) -> None:
    """At least one field spoiled: a 4xx, never a 500, and no write but the intended ones."""
    form = FIELD_FORMS[name]
    sub = data.draw(field_submission(form, form.valid(world)), label="submission")
    client = world.clients[form.role]
    client.set_cookie("lang", sub["lang"])
    token = csrf_value(world, form.role, sub["csrf"])
    pairs = sub["pairs"] + ([] if token is None else [("csrf_token", token)])
    before = snapshot()
    response = send(client, form.url(world), pairs, sub["how"])
    diff = changed(before, snapshot())
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert_refused(response, sub["csrf"], sub["lang"])
    if form.intended is not None and sub["csrf"] == "valid":
        form.intended(response.status_code, diff)
    else:
        assert diff == {}, diff


# --- the buttons: forms whose only field is the CSRF token -----------------------------

BUTTONS: dict[str, tuple[str | None, Callable[[World], str]]] = {
    "cancel": (None, lambda w: f"/r/{w.runner_token}/cancel"),
    "reminders": (None, lambda w: f"/r/{w.runner_token}/reminders"),
    "confirm_hold": (None, lambda w: f"/r/{w.runner_token}/confirm"),
    "group_upload": ("partner", lambda w: f"/partner/events/{w.event_slug}/imports"),
    "logout": ("volunteer", lambda w: "/logout"),
    "undo": ("organiser", lambda w: f"/staff/checkins/{w.checkin_id}/undo"),
    "exports": ("organiser", lambda w: "/staff/enrolment/exports"),
    "close": ("organiser", lambda w: f"/staff/events/{w.event_slug}/registration/close"),
    "open": ("organiser", lambda w: f"/staff/events/{w.other_slug}/registration/open"),
    "print": ("organiser", lambda w: f"/staff/events/{w.event_slug}/bibs"),
    "draw": ("organiser", lambda w: f"/staff/events/{w.event_slug}/ballot"),
    "unassign": (
        "admin",
        lambda w: f"/staff/people/{w.target.id}/assignments/{w.assignment_id}/remove",
    ),
    "issue_token": ("admin", lambda w: f"/staff/people/{w.target.id}/tokens"),
    "revoke_token": (
        "admin",
        lambda w: f"/staff/people/{w.target.id}/tokens/{w.token_id}/revoke",
    ),
    "deactivate": ("admin", lambda w: f"/staff/people/{w.target.id}/deactivate"),
    "end_sessions": ("admin", lambda w: f"/staff/people/{w.target.id}/sessions/end"),
    "person_export": ("admin", lambda w: f"/staff/privacy/{w.person_id}/export"),
    "retry": ("organiser", lambda w: "/staff/messages/1/retry"),
    "retry_event": ("organiser", lambda w: f"/staff/events/{w.event_slug}/messages/retry"),
    "payments_upload": ("organiser", lambda w: "/staff/payments"),
}


@st.composite
def bad_token(draw: st.DrawFn, world: World, role: str | None) -> list[tuple[str, Value]]:
    """The csrf_token field, wrong in one of many ways, with junk fields around it."""
    mode = draw(
        st.sampled_from(
            ["missing", "forged", "other", "empty", "nul", "long", "bytes", "file", "repeat"]
        )
    )
    valid = world.csrf(role)
    token: list[Value] = {
        "missing": [Missing()],
        "forged": [valid[:-4] + "AAAA"],
        "other": [csrf_value(world, role, "other") or ""],
        "empty": [""],
        "nul": [valid + "\x00"],
        "long": [valid * 300],
        # Cut short, then bytes that are not UTF-8. (Appended junk alone does not spoil a
        # token: itsdangerous drops non-ASCII characters before decoding, harmlessly.)
        "bytes": [valid[:-6].encode() + draw(st.sampled_from(INVALID_UTF8))],
        "file": [AsFile(valid.encode())],
        "repeat": ["forged", valid],  # the first one counts
    }[mode]
    pairs: list[tuple[str, Value]] = [("csrf_token", t) for t in token]
    junk = draw(st.lists(st.sampled_from(["\x00", "1", "-1", "x" * 20_000, "\ud800"]), max_size=3))
    for i, value in enumerate(junk):  # anywhere, but the tokens keep their order
        pairs.insert(draw(st.integers(0, len(pairs))), (f"f{i}", value))
    return pairs


@pytest.mark.parametrize("name", sorted(BUTTONS))
@FUZZ
@given(data=st.data())
def test_button_forms_refuse_a_bad_csrf_token(world: World, name: str, data: st.DataObject) -> None:
    """Cancel, sign out, undo, export, open/close, print, people actions: 400, nothing done."""
    role, url = BUTTONS[name]
    pairs = data.draw(bad_token(world, role), label="pairs")
    how = data.draw(st.sampled_from(["urlencoded", "multipart"]), label="how")
    lang = data.draw(st.sampled_from(["id", "en"]), label="lang")
    world.clients[role].set_cookie("lang", lang)
    before = snapshot()
    response = send(world.clients[role], url(world), pairs, how)
    assert changed(before, snapshot()) == {}
    assert_refused(response, "bad", lang)
    if name == "logout":  # still signed in
        assert world.clients[role].get("/staff").status_code == 200


# --- the schedules document (admins edit JSON) ----------------------------------------


def _leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _lists(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, list):
        if node:
            yield path
        for i, value in enumerate(node):
            yield from _lists(value, (*path, i))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _lists(value, (*path, key))


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


#: Values a leaf of the schedules document must refuse, by what the leaf holds: text
#: with NUL, control or invisible characters, a lone surrogate, far too long, or not text;
#: numbers as text, negative, huge, fractional, booleans; flags that are not booleans.
WRONG_TYPES: list[Any] = [[], {}, [None], {"x": 1}]
BAD_TEXT = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "x\u202e", "\ud800", "a\x1fb", 1, 1.5, *WRONG_TYPES]),
    st.integers(10_001, 12_000).map(lambda n: "a" * n),
)
BAD_NUMBER = st.sampled_from(
    ["9" * 40, "-1", "1e309", "1", -1, -(10**20), 10**20, 1e308, 1.5, True, None, *WRONG_TYPES]
)
BAD_FLAG = st.sampled_from(["true", "yes", 1, 0, None, *WRONG_TYPES])


#: Amounts that may be null: no upper end, or the declared income as the basis.
NULLABLE_NUMBERS = ("income_to", "basis", "max_income")


def must_refuse(leaf: Any, key: Any = None) -> st.SearchStrategy[Any]:
    """What the leaf holding ``leaf`` (at ``key``) must refuse."""
    if isinstance(leaf, bool):
        return BAD_FLAG
    if isinstance(leaf, int):
        return BAD_NUMBER.filter(lambda v: v is not None or key not in NULLABLE_NUMBERS)
    if isinstance(leaf, str):
        return BAD_TEXT
    return st.one_of(BAD_TEXT, BAD_NUMBER.filter(lambda v: v is not None))


@FUZZ
@given(data=st.data())
def test_schedule_documents_never_half_apply(world: World, data: st.DataObject) -> None:
    """A spoiled leaf of the stored document, or a broken document: 4xx and nothing stored."""
    client = world.clients["admin"]
    client.set_cookie("lang", "id")
    # The shipped file (what the world loaded), not a dump of the database: the examples
    # must not depend on state, or a write would make them unreplayable.
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    how_spoiled = data.draw(st.sampled_from(["whole", "leaf", "leaf", "repeat"]), label="spoil")
    if how_spoiled == "whole":
        raw: Value = data.draw(
            bad_values(Field("json"), json.dumps(document)).map(lambda v: v[0] if v else ""),
            label="raw",
        )
    elif how_spoiled == "repeat":
        # Every list holds distinct things (codes, programmes, brackets): repeat one.
        path = data.draw(st.sampled_from(list(_lists(document))), label="path")
        items: Any = document
        for key in path:
            items = items[key]
        times = data.draw(st.integers(2, 12), label="times")
        raw = json.dumps(_replace(document, path, [items[0]] * times), ensure_ascii=False)
    else:
        paths = list(_leaves(document))
        path = data.draw(st.sampled_from(paths), label="path")
        leaf: Any = document
        for key in path:
            leaf = leaf[key]
        value = data.draw(must_refuse(leaf, path[-1]), label="value")
        raw = json.dumps(_replace(document, path, value), ensure_ascii=False)
    pairs: list[tuple[str, Value]] = [("document", raw), ("csrf_token", world.csrf("admin"))]
    how = data.draw(st.sampled_from(["urlencoded", "multipart"]), label="how")
    before = snapshot()
    response = send(client, "/staff/enrolment/schedules", pairs, how)
    assert changed(before, snapshot()) == {}
    assert_refused(response, "valid", "id")


# --- GET forms: roster search, audit filters, the language switch ---------------------

SEARCH_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\x00", "a\x00", "%", "_", "\\", "'", "' OR 1=1 --", "\ud800", "9" * 40]),
    st.integers(101, 3000).map(lambda n: "q" * n),
)


#: What a search box must survive: NUL (PostgreSQL cannot compare it), LIKE wildcards,
#: a lone surrogate, numbers and dates out of range, far too much.
HOSTILE = ["\x00", "a\x00b", "\ud800", "%", "_", "\\", "9" * 40, "-1", "0", "1e309",
           "2015-02-30", "x" * 300, "\u202e", "\x1f"]  # fmt: skip


@FUZZ
@given(data=st.data())
def test_search_forms_never_fail(world: World, data: st.DataObject) -> None:
    """Any query string on the roster and audit pages: 200, 400 or 404, and no write."""
    which = data.draw(st.sampled_from(["roster", "audit"]), label="which")
    if which == "roster":
        role, url = "organiser", f"/staff/events/{world.event_slug}/roster"
        names = ["q", "page"]
    else:
        role, url = "admin", "/staff/audit"
        names = ["action", "email", "event", "from", "to", "page"]
    values = st.one_of(
        st.sampled_from(HOSTILE),
        SEARCH_TEXT,
        st.sampled_from(NOT_NUMBERS + NOT_DATES),
        st.integers().map(str),
    )
    # One parameter hostile for sure, the others anything.
    params = data.draw(st.dictionaries(st.sampled_from(names), values), label="params")
    params[data.draw(st.sampled_from(names), label="hostile")] = data.draw(
        st.sampled_from(HOSTILE), label="value"
    )
    query = "&".join(f"{k}={quote_from_bytes(_bytes(v))}" for k, v in params.items())
    before = snapshot()
    response = world.clients[role].get(f"{url}?{query}")
    assert changed(before, snapshot()) == {}
    assert response.status_code in (200, 400, 404), response.status_code


@FUZZ
@given(
    code=st.one_of(st.sampled_from(["id", "en", "fr", "ID", "\x00", "x" * 5000]), st.text()),
    target=st.one_of(
        st.sampled_from(
            [
                "//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
                "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "/%2F/evil.example",
                " //evil.example", "/r/x", "/\x00", "", "x" * 5000,
            ]
        ),
        st.text(),
    ),
)  # fmt: skip
def test_language_switch_stays_on_site(world: World, code: str, target: str) -> None:
    """Any language code and next: a redirect within the site, the cookie only for id/en."""
    client = world.clients[None]
    client.delete_cookie("lang")
    path = quote_from_bytes(_bytes(code), safe="")
    before = snapshot()
    response = client.get(f"/lang/{path}?next={quote_from_bytes(_bytes(target), safe='')}")
    assert changed(before, snapshot()) == {}
    if response.status_code == 404:  # a code with "/" in it names no route
        return
    if response.status_code == 400:
        # Only for a control character in next (a newline would split the Location header).
        sent = unquote(quote_from_bytes(_bytes(target), safe=""), errors="replace")
        assert any(ord(ch) < 32 or ord(ch) == 127 for ch in sent), repr(sent)
        assert "Location" not in response.headers
        return
    location = response.headers["Location"]
    if response.status_code == 308:
        # The router's own redirect to the canonical URL ("0/" to "0"): this host, this
        # route, the next parameter untouched (the switch itself checks it).
        parts = urlsplit(location)
        assert parts.netloc == "localhost" and parts.path.startswith("/lang/"), location
        return
    assert response.status_code == 302
    # Browsers drop tabs and newlines and read "\" as "/": none of them may be in it.
    assert not any(ch in location for ch in "\\\t\n\r\x00"), location
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/"), location
    assert not location.startswith("//"), location
    cookie = client.get_cookie("lang")
    assert (cookie.value if cookie else None) == (code if code in ("id", "en") else None)


# --- regressions: what the fuzzing found ----------------------------------------------

REFUSED_ID = "Permintaan tidak dapat dipahami. Periksa kembali data yang Anda kirim."
REFUSED_EN = "The request could not be understood. Please check what you sent."


def _event_body(world: World, **change: Value) -> list[tuple[str, Value]]:
    body: dict[str, Value] = {**EVENT, "slug": "kota-fuzz-2026", **change}
    return [*body.items(), ("csrf_token", world.csrf("organiser"))]


def test_a_file_sent_for_a_text_field_is_a_400(world: World) -> None:
    """Flask-WTF gave the schedules field the file object: json.loads raised (a 500)."""
    before = snapshot()
    pairs: list[tuple[str, Value]] = [
        ("document", AsFile(json.dumps(dump_document()).encode())),
        ("csrf_token", world.csrf("admin")),
    ]
    world.clients["admin"].set_cookie("lang", "id")
    response = send(world.clients["admin"], "/staff/enrolment/schedules", pairs, "multipart")
    assert response.status_code == 400
    assert REFUSED_ID in response.get_data(as_text=True)
    # An event's city as a file (its .strip() failed) and the same in English.
    world.clients["organiser"].set_cookie("lang", "en")
    body = _event_body(world, city=AsFile(b"Kota Fuzz"))
    response = send(world.clients["organiser"], "/staff/events/new", body, "multipart")
    assert response.status_code == 400
    assert REFUSED_EN in response.get_data(as_text=True)
    assert changed(before, snapshot()) == {}


def test_control_characters_and_broken_utf8_in_a_form_are_a_400(world: World) -> None:
    """A NUL in an event's city reached PostgreSQL (a 500) and other controls were stored."""
    client = world.clients["organiser"]
    client.set_cookie("lang", "id")
    before = snapshot()
    for how in ("urlencoded", "multipart"):
        for city in ("Kota\x00Fuzz", "Kota\x01Fuzz", "Kota\x7f", b"Kota\xffFuzz", "Kota\ud800"):
            response = send(client, "/staff/events/new", _event_body(world, city=city), how)
            assert response.status_code == 400, (how, city)
            assert REFUSED_ID in response.get_data(as_text=True)
    assert changed(before, snapshot()) == {}
    # The same event with a clean city is made: the refusal was for the city alone.
    response = send(client, "/staff/events/new", _event_body(world), "multipart")
    assert response.status_code == 302


def test_tabs_and_line_breaks_are_still_typed_into_forms(world: World) -> None:
    """Text areas send CR LF and people paste tabs: the guard lets them through."""
    body = _event_body(world, venue="Lapangan\tKarebosi\r\nMakassar")
    response = send(world.clients["organiser"], "/staff/events/new", body, "urlencoded")
    assert response.status_code == 302
    venue = db.session.scalar(select(Event.venue).where(Event.slug == "kota-fuzz-2026"))
    assert venue is not None and "\x00" not in venue


def test_a_stale_quote_on_confirm_is_a_409_not_a_200(world: World) -> None:
    """The confirm step with a quote that is no longer the price: the review again, 409."""
    client = world.clients["volunteer"]
    client.set_cookie("lang", "en")
    url = f"/staff/events/{world.event_slug}/enrol?registration={world.registration_id}"
    pairs = [*ENROL.items(), ("action", "confirm"), ("quoted", "1")]
    before = snapshot()
    response = send(client, url, [*pairs, ("csrf_token", world.csrf("volunteer"))], "urlencoded")
    assert response.status_code == 409
    assert "The contribution changed since it was shown." in response.get_data(as_text=True)
    assert changed(before, snapshot()) == {}


def test_an_event_name_with_invisible_characters_is_refused(world: World) -> None:
    """C1 controls, a right-to-left override, zero-width and private-use characters, U+FFFD:
    accepted into an event's city, name and venue (printed on bibs) before; now a 422."""
    client = world.clients["organiser"]
    client.set_cookie("lang", "id")
    before = snapshot()
    for name in ("city", "name", "venue"):
        for bad in ("Kota\x85Fuzz", "Kota\u202eFuzz", "Kota\u200b", "\ue000", "\ufffd"):
            body = _event_body(world, **{name: bad})
            response = send(client, "/staff/events/new", body, "urlencoded")
            assert response.status_code == 422, (name, bad)
            html = response.get_data(as_text=True)
            assert f'id="{name}-error"' in html
            assert "Berisi karakter yang tidak diizinkan." in html
    assert changed(before, snapshot()) == {}


SPOILED_DOCUMENTS = [
    (("schedules", 0, "rates", 0, "programme"), []),  # unhashable: TypeError, a 500
    (("schedules", 0, "rates", 0, "programme"), {"JKK": 1}),
    (("schedules", 0, "name"), "BPU\x002015"),  # NUL: a 500 on PostgreSQL
    (("schedules", 0, "notes"), "a\ud800"),  # a lone surrogate
    (("sponsors", 0, "name"), "APBD\u202eDKI"),
    # Each programme once: repeated, they overflowed the column (a 500 on PostgreSQL).
    (("schedules", 0, "reliefs", 0, "programmes"), ["JKK"] * 12),
    (("format",), True),  # true == 1 in Python: the document was taken as format 1
    (("format",), 1.0),
]


def test_schedule_documents_with_wrong_types_or_characters_are_a_422(world: World) -> None:
    """What the fuzzing found in the schedules document, refused with where it is."""
    client = world.clients["admin"]
    client.set_cookie("lang", "en")
    before = snapshot()
    for path, value in SPOILED_DOCUMENTS:
        document = _replace(dump_document(), path, value)
        pairs: list[tuple[str, Value]] = [
            ("document", json.dumps(document)),  # ASCII: the characters go as JSON escapes
            ("csrf_token", world.csrf("admin")),
        ]
        response = send(client, "/staff/enrolment/schedules", pairs, "urlencoded")
        assert response.status_code == 422, path
        html = response.get_data(as_text=True)
        assert "is missing or not valid" in html or "unknown programme" in html
        assert (f"{path[0]}[0]" if len(path) > 1 else path[0]) in html
    assert changed(before, snapshot()) == {}


def test_an_audit_search_for_an_email_with_a_nul_byte_is_a_400(world: World) -> None:
    """The audit filter compared the email as typed: a NUL byte was a 500 on PostgreSQL."""
    client = world.clients["admin"]
    client.set_cookie("lang", "id")
    before = snapshot()
    for email in ("a%00b@example.org", "%00", "a%1Fb"):
        response = client.get(f"/staff/audit?email={email}")
        assert response.status_code == 400
        assert REFUSED_ID in response.get_data(as_text=True)
    assert client.get("/staff/audit?email=a%40example.org").status_code == 200
    assert changed(before, snapshot()) == {}


def test_an_event_date_out_of_range_is_a_422(world: World) -> None:
    """Registration opening at 0001-01-01 00:00 venue time was before year 1 in UTC: an
    OverflowError (a 500). Dates and the window now stay within 2000-2100."""
    client = world.clients["organiser"]
    client.set_cookie("lang", "en")
    before = snapshot()
    for change in (
        {"registration_opens_at": "0001-01-01T00:00", "registration_closes_at": ""},
        {"registration_closes_at": "9999-12-31T23:59"},
        {"date": "0001-01-01"},
        {"date": "2101-01-01"},
    ):
        response = send(client, "/staff/events/new", _event_body(world, **change), "multipart")
        assert response.status_code == 422, change
        html = response.get_data(as_text=True)
        assert "Use a date between 2000 and 2100." in html
        assert f'id="{next(iter(change))}-error"' in html
    assert changed(before, snapshot()) == {}
    edit = f"/staff/events/{world.event_slug}/edit"
    body = [*{**EVENT, "date": "1999-12-31"}.items(), ("csrf_token", world.csrf("organiser"))]
    client.set_cookie("lang", "id")
    response = send(client, edit, body, "urlencoded")
    assert response.status_code == 422
    assert "Gunakan tanggal antara tahun 2000 dan 2100." in response.get_data(as_text=True)
    assert changed(before, snapshot()) == {}


def test_form_refusals_on_indonesian_pages_are_in_indonesian(world: World) -> None:
    """WTForms' English defaults showed on the event and sign-in forms; now ours, translated."""
    client = world.clients["organiser"]
    client.set_cookie("lang", "id")
    change = {"quota": "abc", "date": "13/12/2026", "start_time": "6 pagi", "city": ""}
    change |= {"bib_last": "100000", "registration_opens_at": "besok", "timezone": "UTC"}
    response = send(client, "/staff/events/new", _event_body(world, **change), "urlencoded")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in (
        "Masukkan bilangan bulat.",
        "Masukkan tanggal sebagai tahun-bulan-tanggal, misalnya 2026-12-13.",
        "Masukkan jam sebagai jam:menit, misalnya 06:00.",
        "Kolom ini wajib diisi.",
        "Masukkan angka dari 0 sampai 99999.",
        "Masukkan tanggal dan jam, misalnya 2026-11-01 08:00.",
        "Pilih zona waktu dari daftar.",
    ):
        assert message in html, message
    assert not [m for m in WTFORMS_ENGLISH if m in html]
    anonymous = world.clients[None]
    anonymous.set_cookie("lang", "id")
    body = [
        ("email", "a" * 300 + "@example.org"),
        ("password", ""),
        ("csrf_token", world.csrf(None)),
    ]
    response = send(anonymous, "/login", body, "urlencoded")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Paling banyak 254 karakter." in html and "Kolom ini wajib diisi." in html
    assert not [m for m in WTFORMS_ENGLISH if m in html]


# --- the other side: unusual but valid input is taken, and stored as typed -----------

LETTERS = "abcdefghijklmnopqrstuvwxyzÀÉÎÕÜßçñøåæœĀŞİŁŽ"
NAME_WORD = st.text(alphabet=LETTERS, min_size=1, max_size=14)
PHONES = ["0812 3456 7890", "+62 812-3456-7890", "62812 3456 7890", "(0812) 3456-7890"]
EMAILS = ["", "Siti.Rahma+lari@Example.ORG", "pelari@bücher.example", "a" * 64 + "@example.id"]
_fresh = {"n": 5000}


@st.composite
def unusual_registration(draw: st.DrawFn) -> dict[str, str]:
    """A valid registration with long, accented, spaced-out and emoji-filled values."""
    words = draw(st.lists(NAME_WORD, min_size=2, max_size=8))
    seps = draw(st.lists(st.sampled_from([" ", "  ", "-", "'", ". "]), min_size=7, max_size=7))
    name = words[0] + "".join(sep + word for sep, word in zip(seps, words[1:], strict=False))
    occupation = draw(
        st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=80).filter(
            lambda s: s.strip()
        )
    )
    _fresh["n"] += 1
    person = _person(_fresh["n"])
    return {
        **CONTACT,
        **person,
        "full_name": name[:100],
        "phone": draw(st.sampled_from(PHONES)),
        "email": draw(st.sampled_from(EMAILS)),
        "occupation": occupation,
        "member": "n",
        "consent": "y",
    }


@FUZZ
@given(data=st.data())
def test_unusual_valid_registrations_are_stored_as_typed(world: World, data: st.DataObject) -> None:
    """Long, accented, spaced-out or emoji-filled values that pass: a 302 and one stored
    registration with exactly the normalised values, on SQLite and PostgreSQL alike."""
    body = data.draw(unusual_registration(), label="body")
    client = world.clients[None]
    client.set_cookie("lang", "id")
    pairs: list[tuple[str, Value]] = [*body.items(), ("csrf_token", world.csrf(None))]
    before = snapshot()
    response = send(client, f"/events/{world.event_slug}/register", pairs, "multipart")
    diff = changed(before, snapshot())
    clean = unicodedata.normalize("NFC", " ".join(body["full_name"].split()))
    if not 2 <= len(clean) <= 100:  # what the name rule refuses, and nothing else
        assert response.status_code == 422 and diff == {}
        return
    assert response.status_code == 302, response.get_data(as_text=True)
    assert diff.get("registrations") == 1 and diff.get("people") == 1, diff
    # A registration with an e-mail queues its confirmation in the same transaction.
    assert diff.get("messages", 0) == (1 if body.get("email", "").strip() else 0), diff
    assert set(diff) <= {"registrations", "people", "events", "messages"}, diff
    stored = db.session.scalars(select(Registration).order_by(Registration.id.desc())).first()
    assert stored is not None and stored.full_name == clean
    occupation = unicodedata.normalize("NFC", " ".join(body["occupation"].split()))
    assert stored.occupation == occupation
